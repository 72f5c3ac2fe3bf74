"""Reads of the live side, per viewer: who may connect, and what they receive first."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from rooms import services, wire
from rooms.errors import Forbidden, NotFound
from rooms.models import Meeting, MeetingEvent, Membership, Participant, Room
from rooms.protocol import PROTOCOL_VERSION


def connection_authorize(
    *, meeting_id: int, user=None, guest_key=None, session_key: str | None = None
) -> tuple[Participant, wire.Viewer]:
    """The participant a socket acts as, or ``NotFound`` (never reveal that a meeting of a
    room you are not in exists). The user is ``user``, or the one logged in with
    ``session_key`` (``rooms.socket_auth``). The participant comes with its meeting (for
    ``room_id``) and, for a user, its user.

    A returning member (the participant row exists: reconnects, other tabs) costs the
    session's query and one query for participant, meeting, user and role; a first join
    writes the participant (``services.participant_join``)."""
    from rooms.socket_auth import login_holds, session_login

    login = None
    if user is None and session_key:
        login = session_login(session_key)
    if user is not None and not user.is_authenticated:
        user = None
    if login is not None:
        participant = _returning_member(meeting_id, login[1])
        if participant is not None and login_holds(login, participant.user):
            if participant.member_role is None:
                raise NotFound(_("This meeting does not exist."))
            if participant.removed:
                raise Forbidden(_("You were removed from this meeting."))
            return participant, wire.Viewer(
                participant.pk, participant.member_role, participant.user_id
            )
        if participant is None:
            user = login[0].get_user(login[1])
            if not login_holds(login, user):
                user = None
    access = _meeting_access(meeting_id, user.pk if user is not None else None)
    if access is None:
        raise NotFound(_("This meeting does not exist."))
    meeting, allow_guests, role = access
    if user is not None:
        if role is None:
            raise NotFound(_("This meeting does not exist."))
        participant = services.participant_join(meeting=meeting, user=user)
        participant.user = user
    elif guest_key is not None and allow_guests:
        participant = Participant.objects.filter(meeting=meeting, guest_key=guest_key).first()
        if participant is None:
            raise NotFound(_("This meeting does not exist."))
        role = "guest"
    else:
        raise NotFound(_("This meeting does not exist."))
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


def _returning_member(meeting_id: int, user_id: int) -> Participant | None:
    """The participant of ``user_id`` in the meeting with ``member_role`` (None if no
    longer a member), and cached on it its meeting (id and room) and its user (what the
    session's checks and the language need). One statement in plain SQL, as
    ``rooms.services.rows`` does, since it runs for every returning socket: ~0.3 ms of CPU
    where the ORM's join with a subquery cost ~2 ms. The participant's other columns
    (``guest_key``, ``joined_at``) are left deferred: a socket never reads them."""
    qn = connection.ops.quote_name
    p, mt, u, ms = (m._meta for m in (Participant, Meeting, get_user_model(), Membership))
    sql = (
        f"SELECT p.{qn('id')}, p.{qn('display_name')}, p.{qn('muted')}, p.{qn('removed')},"  # noqa: S608
        f" mt.{qn('room_id')}, ms.{qn('role')},"
        f" u.{qn('password')}, u.{qn('is_active')}, u.{qn('language')}"
        f" FROM {qn(p.db_table)} p"
        f" JOIN {qn(mt.db_table)} mt ON mt.{qn('id')} = p.{qn('meeting_id')}"
        f" JOIN {qn(u.db_table)} u ON u.{qn('id')} = p.{qn('user_id')}"
        f" LEFT JOIN {qn(ms.db_table)} ms ON ms.{qn('room_id')} = mt.{qn('room_id')}"
        f" AND ms.{qn('user_id')} = p.{qn('user_id')}"
        f" WHERE p.{qn('meeting_id')} = %s AND p.{qn('user_id')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [meeting_id, user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, name, muted, removed, room_id, role, password, is_active, language = row
    db = connection.alias
    participant = Participant.from_db(
        db,
        ["id", "meeting_id", "user_id", "display_name", "muted", "removed"],
        [pk, meeting_id, user_id, name, bool(muted), bool(removed)],
    )
    participant.member_role = role
    participant.meeting = Meeting.from_db(db, ["id", "room_id"], [meeting_id, room_id])
    participant.user = get_user_model().from_db(
        db,
        ["id", "password", "is_active", "language"],
        [user_id, password, bool(is_active), language],
    )
    return participant


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
    *, meeting_id: int, participant: Participant, viewer: wire.Viewer, after: int | None
) -> tuple[list[dict], int]:
    """The first frames of a socket and the seq they bring it to: ``welcome`` with a
    snapshot; or, resuming after ``after``, ``welcome`` and the missed events; or, for a
    cursor the log cannot serve, ``welcome`` and ``resync``."""
    if after is None:
        snapshot, seq = wire.snapshot_for(meeting_id, viewer)
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
    participant.refresh_from_db(fields=["muted", "display_name"])
    you = _you(participant, viewer)
    last_seq = Meeting.objects.values_list("last_seq", flat=True).get(pk=meeting_id)
    reason = None
    if after < 0 or after > last_seq:  # the consumer turns a malformed cursor into -1
        reason = "cursor_unknown"
    elif last_seq - after > settings.PAUSE_EVENT_RETENTION:
        reason = "cursor_too_old"
    events = []
    if reason is None:
        events = events_after(meeting_id=meeting_id, after=after, viewer=viewer)
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


def _refresh(participant: Participant, snapshot: dict) -> None:
    """The participant's name and muting as the snapshot has them (read in its
    transaction), without a query of its own."""
    for p in snapshot["participants"]:
        if p["id"] == participant.pk:
            participant.display_name, participant.muted = p["name"], p["muted"]
            return
    participant.refresh_from_db(fields=["muted", "display_name"])


def events_after(*, meeting_id: int, after: int, viewer: wire.Viewer) -> list[dict]:
    """The log after ``after`` for ``viewer``, read as columns (no model instances)."""
    rows = (
        MeetingEvent.objects.filter(meeting_id=meeting_id, seq__gt=after)
        .order_by("seq")
        .values_list("seq", "name", "at", "actor_id", "data")
    )
    return [
        wire.event_frame(
            {"seq": seq, "name": name, "at": wire.iso(at), "actor": actor, "data": data}, viewer
        )
        for seq, name, at, actor, data in rows
    ]
