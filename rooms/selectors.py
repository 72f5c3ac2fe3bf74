"""Reads of the live side, per viewer: who may connect, and what they receive first."""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from rooms import services, wire
from rooms import sql as plain
from rooms.errors import Forbidden, NotFound
from rooms.models import Meeting, MeetingEvent, Membership, Participant, Room
from rooms.protocol import PROTOCOL_VERSION

log = logging.getLogger(__name__)


def connection_open(
    *,
    meeting_id: int,
    user=None,
    guest_key=None,
    session_key: str | None = None,
    after: int | None = None,
    into: list | None = None,
) -> tuple[Participant, wire.Viewer, list[dict] | None, int]:
    """A socket's connect in one database call (one thread hop): ``connection_authorize``
    (which raises as it does), then ``stream_open``: the participant, its viewer, the
    first frames and the seq they bring the socket to. The frames are None when
    ``stream_open`` failed (logged): the socket is accepted, then closed with 1011.

    The caller joins the hub before this call: nothing committed after the join (the
    participant's own, or others') can be missing from both the snapshot and the hub."""
    participant, viewer = connection_authorize(
        meeting_id=meeting_id, user=user, guest_key=guest_key, session_key=session_key, into=into
    )
    fresh = participant.__dict__.pop("first_join", False)
    try:
        frames, seq = stream_open(
            meeting_id=meeting_id, participant=participant, viewer=viewer, after=after, fresh=fresh
        )
    except Exception:
        log.exception("stream_open failed")
        return participant, viewer, None, 0
    return participant, viewer, frames, seq


def connection_open_many(jobs: list[dict], *, into: list | None = None) -> list:
    """``connection_open(**job, into=into)`` for each of ``jobs``, for the connects of a
    busy moment: each job's answer, or the exception it raised (a ``DomainError`` for a
    refused socket).

    On PostgreSQL with the database session engine, the jobs that come with a session
    cookie share their statements: their sessions in one statement, their users,
    participants, roles and meetings in one, the first joins among them in one
    transaction (``services.participants_join``), and their snapshots' reads in one
    transaction (``wire.snapshots_for``): six round trips for the batch (seven when a
    meeting's board is built) instead of about five per socket, and one commit for all
    its joins. A job the shared path does not fully settle (no valid session, not a
    member, removed, a guest, a meeting gone, or any error on the way) runs
    ``connection_open`` alone, which answers it exactly as it would have without the
    batch; a resume, or a meeting with actions to load, reads its frames alone."""
    from rooms.socket_auth import batched_sessions

    out: list = [None] * len(jobs)
    shared = [
        i
        for i, job in enumerate(jobs)
        if job.get("session_key") and not _authenticated(job.get("user"))
    ]
    if len(shared) < 2 or not batched_sessions():
        shared = []
    settled: dict[int, tuple] = {}
    if shared:
        try:
            answers = _open_shared([jobs[i] for i in shared], into)
            settled = {shared[k]: answer for k, answer in answers.items()}
        except Exception:
            log.exception("a batch of %d connects failed; opening them one by one", len(shared))
    for i, job in enumerate(jobs):
        found = settled.get(i)
        try:
            out[i] = found if found is not None else connection_open(**job, into=into)
        except Exception as e:
            out[i] = e
    return out


def _copy(p: Participant) -> Participant:
    """Another instance of the participant row ``p`` (a socket keeps its own)."""
    names = ["id", "meeting_id", "user_id", "display_name", "muted", "removed"]
    return Participant.from_db(connection.alias, names, [getattr(p, n) for n in names])


def _authenticated(user) -> bool:
    return user is not None and user.is_authenticated


def _open_shared(jobs: list[dict], into: list | None) -> dict[int, tuple]:
    """The answers of the ``jobs`` the shared path settles, by index (see
    ``connection_open_many``)."""
    from rooms.socket_auth import login_holds, session_logins

    logins = session_logins([job["session_key"] for job in jobs])
    wanted = [
        (i, job["meeting_id"], login)
        for i, job in enumerate(jobs)
        if (login := logins[job["session_key"]]) is not None
    ]
    members = _session_members([(meeting_id, login[1]) for _i, meeting_id, login in wanted])
    found: dict[int, list] = {}  # index → [participant, viewer]
    joins: list = []
    for (i, _meeting_id, login), member in zip(wanted, members, strict=True):
        if member is None or not login_holds(login, member[0]):
            continue
        user, participant, access = member
        if access is None or access[2] is None:
            continue  # not a member: ``connection_open`` says so
        if participant is None:
            joins.append((i, access[0], user, access[2]))
        elif not participant.removed:
            found[i] = [participant, wire.Viewer(participant.pk, access[2], user.pk)]
    if joins:
        joined = services.participants_join(
            [(meeting, user, role) for _i, meeting, user, role in joins],
            into=into,
        )
        handed: set[int] = set()
        for i, meeting, user, role in joins:
            participant = joined.get((meeting.pk, user.pk))
            if participant is None or participant.removed:
                continue  # the meeting is gone, or a removed participant appeared
            if participant.pk in handed:  # the same member's other tab: its own instance
                participant = _copy(participant)
            handed.add(participant.pk)
            participant.user = user
            participant.meeting = meeting
            found[i] = [participant, wire.Viewer(participant.pk, role, user.pk)]
    settled: dict[int, tuple] = {}
    snapshots = wire.snapshots_for(
        [
            (jobs[i]["meeting_id"], viewer, participant.__dict__.get("first_join", False))
            for i, (participant, viewer) in found.items()
        ]
    )
    for (i, (participant, viewer)), snapshot in zip(found.items(), snapshots, strict=True):
        fresh = participant.__dict__.pop("first_join", False)
        job = jobs[i]
        try:
            if job.get("after") is None and snapshot is not None:
                frames, seq = _welcome(participant, viewer, *snapshot)
            else:
                frames, seq = stream_open(
                    meeting_id=job["meeting_id"],
                    participant=participant,
                    viewer=viewer,
                    after=job.get("after"),
                    fresh=fresh,
                )
        except Exception:
            log.exception("stream_open failed")
            frames, seq = None, 0
        settled[i] = (participant, viewer, frames, seq)
    return settled


def connection_authorize(
    *,
    meeting_id: int,
    user=None,
    guest_key=None,
    session_key: str | None = None,
    into: list | None = None,
) -> tuple[Participant, wire.Viewer]:
    """The participant a socket acts as, or ``NotFound`` (never reveal that a meeting of a
    room you are not in exists). The user is ``user``, or the one logged in with
    ``session_key`` (``rooms.socket_auth``). The participant comes with its meeting (for
    ``room_id``) and, for a user, its user.

    Through a session, a returning member (the participant row exists: reconnects, other
    tabs) costs the session's query and one query for user, participant, meeting and role;
    a first join costs the same two and the participant's write
    (``services.participant_join``, told the role read here). ``into`` receives the
    join's events to publish, as ``broadcast.on_commit_publish``'s."""
    from rooms.socket_auth import login_holds, session_login

    login = None
    if user is None and session_key:
        login = session_login(session_key)
    if user is not None and not user.is_authenticated:
        user = None
    if login is not None:
        found = _session_member(meeting_id, login[1])
        if found is not None and login_holds(login, found[0]):
            user, participant, access = found
            if access is None or access[2] is None:  # no such meeting, or not a member
                raise NotFound(_("This meeting does not exist."))
            if participant is None:
                meeting, _allow_guests, role = access
                participant = services.participant_join(
                    meeting=meeting, user=user, role=role, into=into
                )
                participant.user, participant.meeting = user, meeting
            if participant.removed:
                raise Forbidden(_("You were removed from this meeting."))
            return participant, wire.Viewer(participant.pk, access[2], participant.user_id)
    if user is None:
        if guest_key is None:
            raise NotFound(_("This meeting does not exist."))
        return _guest(meeting_id, guest_key)
    access = _meeting_access(meeting_id, user.pk)
    if access is None or access[2] is None:
        raise NotFound(_("This meeting does not exist."))
    meeting, _allow_guests, role = access
    participant = services.participant_join(meeting=meeting, user=user, into=into)
    participant.user = user
    if participant.removed:
        raise Forbidden(_("You were removed from this meeting."))
    participant.meeting = meeting
    return participant, wire.Viewer(participant.pk, role, participant.user_id)


def _meeting_access(
    meeting_id: int, user_id: int | None
) -> tuple[Meeting, bool, str | None] | None:
    """The meeting (id and room only), whether its room lets guests in, and the role of
    ``user_id`` in that room (None: not a member), or None if there is no such meeting.
    One statement in plain SQL (~0.3 ms of CPU; the ORM's two queries cost ~2.3 ms)."""
    qn = connection.ops.quote_name
    mt, r, ms = Meeting._meta, Room._meta, Membership._meta
    sql = (
        f"SELECT mt.{qn('room_id')}, r.{qn('allow_guests')}, ms.{qn('role')}"  # noqa: S608
        f" FROM {qn(mt.db_table)} mt"
        f" JOIN {qn(r.db_table)} r ON r.{qn('id')} = mt.{qn('room_id')}"
        f" LEFT JOIN {qn(ms.db_table)} ms ON ms.{qn('room_id')} = mt.{qn('room_id')}"
        f" AND ms.{qn('user_id')} = %s"
        f" WHERE mt.{qn('id')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, meeting_id])
        row = cursor.fetchone()
    if row is None:
        return None
    room_id, allow_guests, role = row
    meeting = Meeting.from_db(connection.alias, ["id", "room_id"], [meeting_id, room_id])
    return meeting, bool(allow_guests), role


@functools.cache
def _guest_sql() -> str:
    qn = connection.ops.quote_name
    mt, r, p = Meeting._meta, Room._meta, Participant._meta
    return (
        f"SELECT mt.{qn('room_id')}, p.{qn('id')}, p.{qn('display_name')},"  # noqa: S608
        f" p.{qn('muted')}, p.{qn('removed')}"
        f" FROM {qn(mt.db_table)} mt"
        f" JOIN {qn(r.db_table)} r ON r.{qn('id')} = mt.{qn('room_id')}"
        f" JOIN {qn(p.db_table)} p ON p.{qn('meeting_id')} = mt.{qn('id')}"
        f" AND p.{qn(p.get_field('guest_key').column)} = %s"
        f" WHERE mt.{qn('id')} = %s AND r.{qn('allow_guests')}"
    )


def _guest(meeting_id: int, guest_key) -> tuple[Participant, wire.Viewer]:
    """The guest participant of ``guest_key`` in the meeting, if its room lets guests in,
    with its meeting (id and room) cached on it; else ``NotFound``, whether the meeting,
    the room's permission or the participant is missing. One statement in plain SQL."""
    value = Participant._meta.get_field("guest_key").get_db_prep_value(guest_key, connection)
    with connection.cursor() as cursor:
        cursor.execute(_guest_sql(), [value, meeting_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("This meeting does not exist."))
    room_id, pk, name, muted, removed = row
    if removed:
        raise Forbidden(_("You were removed from this meeting."))
    db = connection.alias
    participant = Participant.from_db(
        db,
        ["id", "meeting_id", "user_id", "display_name", "muted", "removed"],
        [pk, meeting_id, None, name, bool(muted), bool(removed)],
    )
    participant.meeting = Meeting.from_db(db, ["id", "room_id"], [meeting_id, room_id])
    return participant, wire.Viewer(participant.pk, "guest", None)


# The user's columns a socket reads: the session's checks (``password``, ``is_active``),
# the language, and the name a first join gives the participant (``public_name``).
_USER_FIELDS = ("id", "password", "is_active", "language", "display_name", "email")


def _member_parts() -> tuple[str, str]:
    """The columns and the joins after the user's table (aliased ``u``) of the member
    reads: the meeting's is compared with a placeholder, ``{meeting}``."""
    qn = connection.ops.quote_name
    u, p, mt, r, ms = (m._meta for m in (get_user_model(), Participant, Meeting, Room, Membership))
    user_columns = ", ".join(f"u.{qn(u.get_field(n).column)}" for n in _USER_FIELDS)
    columns = (
        f"{user_columns}, mt.{qn('room_id')}, r.{qn('allow_guests')}, ms.{qn('role')},"
        f" p.{qn('id')}, p.{qn('display_name')}, p.{qn('muted')}, p.{qn('removed')}"
    )
    joins = (
        f" LEFT JOIN {qn(mt.db_table)} mt ON mt.{qn('id')} = {{meeting}}"
        f" LEFT JOIN {qn(r.db_table)} r ON r.{qn('id')} = mt.{qn('room_id')}"
        f" LEFT JOIN {qn(ms.db_table)} ms ON ms.{qn('room_id')} = mt.{qn('room_id')}"
        f" AND ms.{qn('user_id')} = u.{qn('id')}"
        f" LEFT JOIN {qn(p.db_table)} p ON p.{qn('meeting_id')} = mt.{qn('id')}"
        f" AND p.{qn('user_id')} = u.{qn('id')}"
    )
    return columns, joins


@functools.cache
def _session_member_sql() -> str:
    qn = connection.ops.quote_name
    columns, joins = _member_parts()
    return (
        f"SELECT {columns} FROM {qn(get_user_model()._meta.db_table)} u"  # noqa: S608
        f"{joins.format(meeting='%s')} WHERE u.{qn('id')} = %s"
    )


@functools.cache
def _members_sql() -> str:
    """``_session_member_sql`` for several (meeting, user) pairs (PostgreSQL): each row
    starts with the index of its pair; a pair whose user does not exist has none."""
    qn = connection.ops.quote_name
    columns, joins = _member_parts()
    return (
        f"SELECT j.i, {columns}"  # noqa: S608
        " FROM unnest(%s::int[], %s::bigint[], %s::bigint[]) AS j(i, meeting, uid)"
        f" JOIN {qn(get_user_model()._meta.db_table)} u ON u.{qn('id')} = j.uid"
        f"{joins.format(meeting='j.meeting')}"
    )


def _session_members(pairs: list[tuple[int, int]]) -> list:
    """``_session_member`` of each (meeting, user) pair, in one statement (PostgreSQL)."""
    if not pairs:
        return []
    (rows,) = plain.script(
        [
            (
                _members_sql(),
                [list(range(len(pairs))), [m for m, _u in pairs], [u for _m, u in pairs]],
            )
        ],
        prepared=True,
    )
    out: list = [None] * len(pairs)
    for row in rows:
        i = row[0]
        out[i] = _member_from_row(pairs[i][0], pairs[i][1], row[1:])
    return out


def _session_member(meeting_id: int, user_id: int):
    """``(user, participant, access)`` for the user a session is logged in with: the
    user (the columns of ``_USER_FIELDS``; None if there is no such user: then the whole
    answer is None), its participant in the meeting (None before its first join) with
    its meeting (id and room) and user cached on it, and ``access`` as ``_meeting_access``
    gives it (None: no such meeting). One statement in plain SQL, as
    ``rooms.services.rows`` does, since it runs for every socket: ~0.3 ms of CPU where
    the ORM's queries (user, participant with its role, meeting) cost ~2–3 ms. The
    participant's other columns (``guest_key``, ``joined_at``) are left deferred: a socket
    never reads them."""
    (found,) = plain.script([(_session_member_sql(), [meeting_id, user_id])], prepared=True)
    if not found:
        return None
    return _member_from_row(meeting_id, user_id, found[0])


def _member_from_row(meeting_id: int, user_id: int, row) -> tuple:
    """``_session_member``'s answer from its statement's row (``_members_sql``'s too,
    after its first column)."""
    n = len(_USER_FIELDS)
    db = connection.alias
    user_values = list(row[:n])
    user_values[2] = bool(user_values[2])  # is_active (an integer on SQLite)
    user = get_user_model().from_db(db, _USER_FIELDS, user_values)
    room_id, allow_guests, role, pk, name, muted, removed = row[n:]
    if room_id is None:
        return user, None, None
    meeting = Meeting.from_db(db, ["id", "room_id"], [meeting_id, room_id])
    participant = None
    if pk is not None:
        participant = Participant.from_db(
            db,
            ["id", "meeting_id", "user_id", "display_name", "muted", "removed"],
            [pk, meeting_id, user_id, name, bool(muted), bool(removed)],
        )
        participant.meeting, participant.user = meeting, user
    return user, participant, (meeting, bool(allow_guests), role)


def _you(participant: Participant, viewer: wire.Viewer) -> dict:
    return {
        "participant_id": participant.pk,
        "name": participant.display_name,
        "role": viewer.role,
        "facilitator": viewer.facilitator,
        "muted": participant.muted,
    }


def _now() -> str:
    return wire.iso(timezone.now())


def resync_frame(*, meeting_id: int, viewer: wire.Viewer, reason: str) -> tuple[dict, int]:
    snapshot, seq = wire.snapshot_for(meeting_id, viewer)
    return (
        {
            "type": "resync",
            "reason": reason,
            "seq": seq,
            "server_time": _now(),
            "snapshot": snapshot,
        },
        seq,
    )


def stream_open(
    *,
    meeting_id: int,
    participant: Participant,
    viewer: wire.Viewer,
    after: int | None,
    fresh: bool = False,
) -> tuple[list[dict], int]:
    """The first frames of a socket and the seq they bring it to: ``welcome`` with a
    snapshot; or, resuming after ``after``, ``welcome`` and the missed events; or, for a
    cursor the log cannot serve, ``welcome`` and ``resync``. ``fresh``: the participant
    was created by this connect (``wire.snapshot_for``'s)."""
    if after is None:
        return _welcome(participant, viewer, *wire.snapshot_for(meeting_id, viewer, fresh=fresh))
    state, found = _resume_reads(participant.pk, meeting_id, after)
    participant.display_name, participant.muted, last_seq = state
    you = _you(participant, viewer)
    reason = None
    if after < 0 or after > last_seq:  # the consumer turns a malformed cursor into -1
        reason = "cursor_unknown"
    elif last_seq - after > settings.PAUSE_EVENT_RETENTION:
        reason = "cursor_too_old"
    events = []
    if reason is None:
        events = _event_frames(found, viewer)
        expected = list(range(after + 1, after + 1 + len(events)))
        if [e["seq"] for e in events] != expected:
            reason = "cursor_too_old"  # the log was pruned below the cursor
    welcome = {
        "type": "welcome",
        "protocol": PROTOCOL_VERSION,
        "you": you,
        "seq": after if reason is None else last_seq,
        "server_time": _now(),
        "resumed": reason is None,
        "snapshot": None,
    }
    if reason is not None:
        frame, seq = resync_frame(meeting_id=meeting_id, viewer=viewer, reason=reason)
        welcome["seq"] = seq
        return [welcome, frame], seq
    return [welcome, *events], events[-1]["seq"] if events else after


def _welcome(
    participant: Participant, viewer: wire.Viewer, snapshot: dict, seq: int
) -> tuple[list[dict], int]:
    """A socket's first frames without a cursor: ``welcome`` with its snapshot."""
    _refresh(participant, snapshot)
    welcome = {
        "type": "welcome",
        "protocol": PROTOCOL_VERSION,
        "you": _you(participant, viewer),
        "seq": seq,
        "server_time": _now(),
        "resumed": False,
        "snapshot": snapshot,
    }
    return [welcome], seq


def _refresh(participant: Participant, snapshot: dict) -> None:
    """The participant's name and muting as the snapshot has them (read in its
    transaction), without a query of its own."""
    for p in snapshot["participants"]:
        if p["id"] == participant.pk:
            participant.display_name, participant.muted = p["name"], p["muted"]
            return
    participant.refresh_from_db(fields=["muted", "display_name"])


@functools.cache
def _resume_sql() -> str:
    qn = connection.ops.quote_name
    p, mt = Participant._meta, Meeting._meta
    return (
        f"SELECT p.{qn('display_name')}, p.{qn('muted')}, mt.{qn('last_seq')}"  # noqa: S608
        f" FROM {qn(p.db_table)} p JOIN {qn(mt.db_table)} mt ON mt.{qn('id')} = %s"
        f" WHERE p.{qn('id')} = %s"
    )


def _resume_reads(participant_id: int, meeting_id: int, after: int):
    """A resuming socket's reads, in one round trip on PostgreSQL: the participant's name
    and muting now and the meeting's last seq (one plain statement: the ORM's two
    queries cost ~1 ms of CPU), and the log after ``after`` (``events_after``'s rows, for
    ``_event_frames``; at most what a resume may send: a cursor further behind gets a
    resync)."""
    sql, _converters = _events_sql(connection.vendor)
    limit = settings.PAUSE_EVENT_RETENTION + 1
    state, found = plain.script(
        [
            (_resume_sql(), [meeting_id, participant_id]),
            (f"{sql} LIMIT %s", [meeting_id, max(after, 0), limit]),
        ],
        prepared=True,
    )
    if not state:
        raise Meeting.DoesNotExist("Meeting matching query does not exist.")
    name, muted, last_seq = state[0]
    return (name, bool(muted), last_seq), found


_EVENT_FIELDS = ("seq", "name", "at", "actor", "data")


@functools.cache
def _events_sql(vendor: str) -> tuple[str, tuple]:
    """The statement reading a meeting's log after a seq, and (index, column, converters)
    of each column the ORM converts on the way out (the JSON data, SQLite's dates), as
    ``SQLCompiler`` does."""
    qn = connection.ops.quote_name
    meta = MeetingEvent._meta
    fields = [meta.get_field(n) for n in _EVENT_FIELDS]
    sql = (
        f"SELECT {', '.join(qn(f.column) for f in fields)} FROM {qn(meta.db_table)}"  # noqa: S608
        f" WHERE {qn('meeting_id')} = %s AND {qn('seq')} > %s ORDER BY {qn('seq')}"
    )
    return sql, plain.converters(fields)


def events_after(*, meeting_id: int, after: int, viewer: wire.Viewer) -> list[dict]:
    """The log after ``after`` for ``viewer``, read as columns (no model instances) in
    plain SQL: a resuming socket reads it on connect (the ORM's query cost ~1 ms of CPU
    to compile, as much as rendering a few events)."""
    sql, _converters = _events_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [meeting_id, after])
        rows = cursor.fetchall()
    return _event_frames(rows, viewer)


def _event_frames(rows, viewer: wire.Viewer) -> list[dict]:
    """The event frames for ``viewer`` of rows of ``_events_sql``."""
    _sql, converters = _events_sql(connection.vendor)
    out = []
    for row in rows:
        seq, name, at, actor, data = plain.convert(list(row), converters)
        out.append(
            wire.event_frame(
                {"seq": seq, "name": name, "at": wire.iso(at), "actor": actor, "data": data},
                viewer,
            )
        )
    return out
