"""What one viewer sees of a meeting: the only place that redacts.

Events are stored with their full data (authors included). ``render_event`` and
``snapshot_for`` turn them into the wire form of ``rooms/protocol.py`` for one viewer:
an anonymous post never carries its author to anyone but its author, a hidden idea
carries neither text nor author to anyone but its author, a removed idea's reason goes
only to its author and the facilitators. ``view_key`` says which viewers get the same
bytes, so the fan-out renders and encodes an event once per distinct view.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass

from django.db import connection, transaction

from rooms import phases
from rooms import sql as plain
from rooms.models import (
    Action,
    ActionStatus,
    Challenge,
    Cluster,
    Idea,
    Meeting,
    MeetingEvent,
    Membership,
    Participant,
    Reaction,
    Reply,
    Takeaway,
    Vote,
)


@dataclass(frozen=True)
class Viewer:
    participant_id: int
    role: str  # owner, facilitator, member or guest
    user_id: int | None = None

    @property
    def facilitator(self) -> bool:
        return self.role in ("owner", "facilitator")

    @classmethod
    def for_participant(cls, participant: Participant) -> Viewer:
        return cls(participant.pk, role_of(participant), participant.user_id)


def role_of(participant: Participant) -> str:
    """The participant's role in the meeting's room; ``guest`` without an account."""
    if participant.user_id is None:
        return "guest"
    role = (
        Membership.objects.filter(room_id=participant.meeting.room_id, user_id=participant.user_id)
        .values_list("role", flat=True)
        .first()
    )
    return role or "removed"


def iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


# --------------------------------------------------------------------------- full data


def author(p: Participant) -> dict:
    return {"id": p.pk, "name": p.display_name}


def meeting_data(m: Meeting) -> dict:
    return {
        "id": m.pk,
        "room_id": m.room_id,
        "title": m.title,
        "format": m.format,
        "state": m.state,
        "phase": m.phase,
        "phases": list(phases.phases_for(m.format)),
        "active_challenge_id": m.active_challenge_id,
        "anonymity": m.anonymity,
        "vote_budget": m.vote_budget,
        "hide_until_reveal": m.hide_until_reveal,
        "locked": m.locked,
        "spotlight_idea_id": m.spotlight_idea_id,
        "timer": {"ends_at": iso(m.timer_ends_at), "remaining_ms": m.timer_remaining_ms},
        "scheduled_at": iso(m.scheduled_at),
        "started_at": iso(m.started_at),
        "ended_at": iso(m.ended_at),
    }


def participant_data(p: Participant, role: str) -> dict:
    return {
        "id": p.pk,
        "name": p.display_name,
        "role": role if role != "removed" else "member",
        "muted": p.muted,
        "removed": p.removed,
    }


def challenge_data(c: Challenge) -> dict:
    return {
        "id": c.pk,
        "title": c.title,
        "context": c.context,
        "ask": c.ask,
        "owner": author(c.owner),
        "position": c.position,
        "status": c.status,
    }


def reply_data(r: Reply) -> dict:
    return {
        "id": r.pk,
        "idea_id": r.idea_id,
        "text": r.text,
        "author": author(r.author),
        "anonymous": r.anonymous,
        "at": iso(r.created_at),
    }


def idea_data(i: Idea, *, votes=0, reactions=None, replies=()) -> dict:
    return {
        "id": i.pk,
        "challenge_id": i.challenge_id,
        "kind": i.kind,
        "text": i.text,
        "author": author(i.author),
        "anonymous": i.anonymous,
        "hidden": i.hidden,
        "removed": i.removed,
        "removed_reason": i.removed_reason if i.removed else None,
        "cluster_id": i.cluster_id,
        "votes": votes,
        "reactions": dict(reactions or {}),
        "replies": [reply_data(r) for r in replies],
        "at": iso(i.created_at),
        "edited": i.edited_at is not None,
    }


def cluster_data(c: Cluster) -> dict:
    return {"id": c.pk, "challenge_id": c.challenge_id, "name": c.name, "position": c.position}


def action_data(a: Action, idea_ids=None) -> dict:
    if idea_ids is None:
        idea_ids = sorted(a.source_ideas.values_list("id", flat=True))
    return {
        "id": a.pk,
        "challenge_id": a.challenge_id,
        "owner": author(a.owner),
        "text": a.text,
        "due_date": a.due_date.isoformat() if a.due_date else None,
        "idea_ids": list(idea_ids),
        "status": a.status,
        "status_note": a.status_note,
        "meeting_id": a.challenge.meeting_id,
    }


def takeaway_data(t: Takeaway) -> dict:
    return {
        "id": t.pk,
        "text": t.text,
        "author": author(t.author),
        "anonymous": t.anonymous,
        "at": iso(t.created_at),
    }


# --------------------------------------------------------------------------- redaction


def _post_for(d: dict, v: Viewer) -> dict:
    """A reply or takeaway for viewer ``v``: the author only if not anonymous, or ``v``."""
    out = dict(d)
    anonymous = out.pop("anonymous", False)
    mine = out["author"]["id"] == v.participant_id
    out["mine"] = mine
    if anonymous and not mine:
        out["author"] = None
    return out


def idea_for(d: dict, v: Viewer, *, my_vote=False, my_reactions=()) -> dict:
    out = dict(d)
    mine = out["author"]["id"] == v.participant_id
    out["mine"] = mine
    if not mine:
        if out["anonymous"] or out["hidden"]:
            out["author"] = None
        if out["hidden"]:
            out["text"] = ""
    if out["removed_reason"] is not None and not (mine or v.facilitator):
        out["removed_reason"] = None
    out["my_vote"] = my_vote
    out["my_reactions"] = sorted(my_reactions)
    out["replies"] = [_post_for(r, v) for r in out["replies"]]
    return out


def view_key(name: str, data: dict, actor: int | None, v: Viewer):
    """Viewers with the same key receive the same bytes for this event."""
    if name in ("idea.posted", "idea.edited"):
        # The replies inside carry ``mine`` and, when anonymous, their author only for
        # their own author: each reply author among the viewers sees a different frame.
        mine = tuple(
            r["id"] for r in data.get("replies", ()) if r["author"]["id"] == v.participant_id
        )
        return ("self" if data["author"]["id"] == v.participant_id else "other", *mine)
    if name in ("reply.posted", "takeaway.posted"):
        return "self" if data["author"]["id"] == v.participant_id else "other"
    if name in ("vote.cast", "vote.retracted", "reaction.toggled", "idea.deleted"):
        return "self" if actor == v.participant_id else "other"
    if name == "idea.removed":
        if data.get("author_id") == v.participant_id:
            return "self"
        return "fac" if v.facilitator else "other"
    if name == "ideas.revealed":
        mine = [i["id"] for i in data["ideas"] if i["author"]["id"] == v.participant_id]
        return ("self", *mine) if mine else "other"
    return "all"


def render_data(name: str, data: dict, actor: int | None, v: Viewer) -> dict:
    """The ``data`` of an event as viewer ``v`` receives it."""
    if name in ("idea.posted", "idea.edited"):
        return idea_for(data, v, my_vote=data.get("my_vote", False))
    if name in ("reply.posted", "takeaway.posted"):
        return _post_for(data, v)
    if name in ("vote.cast", "vote.retracted"):
        return {
            "idea_id": data["idea_id"],
            "votes": data["votes"],
            "mine": (name == "vote.cast") if actor == v.participant_id else None,
        }
    if name == "reaction.toggled":
        return {
            "idea_id": data["idea_id"],
            "emoji": data["emoji"],
            "count": data["count"],
            "mine": data["on"] if actor == v.participant_id else None,
        }
    if name == "idea.removed":
        show = data.get("author_id") == v.participant_id or v.facilitator
        return {"idea_id": data["idea_id"], "reason": data["reason"] if show else None}
    if name == "ideas.revealed":
        return {
            "challenge_id": data["challenge_id"],
            "ideas": [
                {
                    "id": i["id"],
                    "text": i["text"],
                    "author": i["author"]
                    if not i["anonymous"] or i["author"]["id"] == v.participant_id
                    else None,
                }
                for i in data["ideas"]
            ],
        }
    return data


# Events whose actor is only told to the actor: who voted, reacted or deleted a post
# is not shown anywhere else (snapshots carry counts only).
_PRIVATE_ACTOR = frozenset({"vote.cast", "vote.retracted", "reaction.toggled", "idea.deleted"})


def actor_for(name: str, data: dict, actor: int | None, rendered: dict, v: Viewer):
    """The ``actor`` of an event for viewer ``v``: hidden where it would name the author of
    an anonymous or hidden post, or a voter, to anyone else."""
    if actor is None or actor == v.participant_id:
        return actor
    if name in _PRIVATE_ACTOR:
        return None
    posts = ("idea.posted", "idea.edited", "reply.posted", "takeaway.posted")
    if name in posts and rendered.get("author") is None and data["author"]["id"] == actor:
        return None
    return actor


def event_frame(ev: dict, v: Viewer) -> dict:
    """An event (``seq, name, at, actor, data`` as stored or broadcast) for viewer ``v``."""
    data = render_data(ev["name"], ev["data"], ev["actor"], v)
    return {
        "type": "event",
        "seq": ev["seq"],
        "name": ev["name"],
        "at": ev["at"],
        "actor": actor_for(ev["name"], ev["data"], ev["actor"], data, v),
        "data": data,
    }


def event_dict(e: MeetingEvent) -> dict:
    return {"seq": e.seq, "name": e.name, "at": iso(e.at), "actor": e.actor_id, "data": e.data}


def render_event(event: MeetingEvent, viewer: Viewer) -> dict:
    return event_frame(event_dict(event), viewer)


# --------------------------------------------------------------------------- snapshot
#
# A snapshot has two halves. The *board* (challenges, ideas with their counts and replies,
# clusters, takeaways) changes only through the meeting's services, each of which bumps
# ``Meeting.last_seq`` in the same transaction: at one ``last_seq`` it is the same for
# everyone, so each process builds it once and keeps the last few (``_BOARDS``). What can
# change with no event in this meeting's log (the meeting row, which is read anyway for
# its ``last_seq``; the participants' roles in the room; actions, which a facilitator of
# another meeting of the room may update; follow-ups of earlier meetings) and what is the
# viewer's own (votes, reactions) is read on every call, in the same consistent read.
#
# Snapshots share the board's dicts with the cache and with each other: they are
# encoded and sent, never changed in place (``rooms.state.apply_event`` copies).

SNAPSHOT_CACHE_MEETINGS = 8  # boards kept per process
SNAPSHOT_CACHE_IDEAS = 10_000  # and this many ideas across them (~3 KB each, both renderings)


class _Board:
    """The viewer-independent part of a meeting's snapshot at one ``last_seq``."""

    def __init__(self, m: Meeting, challenges, ideas, clusters, takeaways):
        # A meeting is one (id, created_at): an id reused after the database was reset
        # does not find the board of its predecessor.
        self.version = (m.last_seq, m.created_at)
        self.challenges = challenges
        self.clusters = clusters
        self.takeaways = takeaways  # full data, redacted per viewer (they are few)
        # (id, author id, removed, full data) of every idea, removed ones included, by id.
        self.ideas: list[tuple[int, int, bool, dict]] = ideas
        # The ideas whose rendering depends on who looks: the ones a participant wrote or
        # replied to (``mine``, anonymous and hidden authors, removal reasons).
        self.own: dict[int, set[int]] = {}
        for idea_id, author_id, _removed, d in ideas:
            self.own.setdefault(author_id, set()).add(idea_id)
            for r in d["replies"]:
                self.own.setdefault(r["author"]["id"], set()).add(idea_id)
        self._others: dict[bool, list] = {}

    def as_seen_by_others(self, facilitator: bool) -> list[dict | None]:
        """Each idea as a viewer of this class sees it when it has no part in it (neither
        wrote nor replied to it, no vote, no reaction); ``None`` where it does not see it."""
        seen = self._others.get(facilitator)
        if seen is None:
            # Participant ids start at 1: nobody is participant 0.
            nobody = Viewer(0, "facilitator" if facilitator else "member")
            seen = [
                None if removed and not facilitator else idea_for(d, nobody)
                for _id, _author, removed, d in self.ideas
            ]
            self._others[facilitator] = seen  # two threads may both build it: same result
        return seen


class _Pending:
    """A board one thread is building, that others reading the same state wait for."""

    def __init__(self):
        self.done = threading.Event()
        self.board: _Board | None = None


class _BoardCache:
    """The latest boards of the last few meetings read in this process (LRU), shared by
    the threads that run database calls."""

    WAIT_SECONDS = 5.0  # for another thread's build, before building one's own
    NEUTRAL_SEQS = 1000  # neutral seqs kept per meeting (beyond: forgotten, rebuilt)
    NEUTRAL_MEETINGS = 64  # meetings whose neutral seqs are kept

    def __init__(self, meetings: int, ideas: int):
        self.meetings, self.ideas = meetings, ideas
        self._lock = threading.Lock()
        self._items: OrderedDict[int, _Board] = OrderedDict()
        self._building: dict[tuple, _Pending] = {}
        # Per meeting, its creation time and the seqs of committed events known to leave
        # its board as it was (``participant.joined``): a board cached at an earlier seq
        # serves a later one when every event in between is one of these.
        self._neutral: OrderedDict[int, tuple[object, set[int]]] = OrderedDict()
        self.hits = self.misses = self.builds = 0

    def get_or_build(self, m: Meeting, build) -> _Board:
        """The board of ``m`` as read, built by ``build(m)`` once however many threads
        ask for it at the same time: sockets connecting together to a big meeting, or
        after a write, wait for one build instead of each making its own."""
        board = self.get(m)
        if board is not None:
            return board
        key = (m.pk, m.last_seq, m.created_at)
        with self._lock:
            # Or a build of an earlier seq with only neutral events since (sockets
            # arriving together, each after its own join): the same board.
            pending = self._building.get(key) or self._earlier_build(m)
            mine = pending is None
            if mine:
                pending = self._building[key] = _Pending()
                self.builds += 1
        if not mine:
            # The same committed state (same meeting, same seq): the same board.
            if pending.done.wait(self.WAIT_SECONDS) and pending.board is not None:
                return pending.board
            return build(m)  # the other build failed or is stuck
        try:
            pending.board = build(m)
            self.put(m.pk, pending.board)
            return pending.board
        finally:
            pending.done.set()
            with self._lock:
                self._building.pop(key, None)

    def get(self, m: Meeting) -> _Board | None:
        with self._lock:
            board = self._items.get(m.pk)
            if board is not None and board.version != (m.last_seq, m.created_at):
                board = self._carried(board, m)
            if board is None:
                self.misses += 1
                return None
            self._items.move_to_end(m.pk)
            self.hits += 1
            return board

    def put(self, meeting_id: int, board: _Board) -> None:
        with self._lock:
            current = self._items.get(meeting_id)
            if current is not None and current.version > board.version:
                return  # a reader that started before the latest write finished later
            self._items[meeting_id] = board
            self._items.move_to_end(meeting_id)
            total = sum(len(b.ideas) for b in self._items.values())
            while self._items and (len(self._items) > self.meetings or total > self.ideas):
                _id, gone = self._items.popitem(last=False)
                total -= len(gone.ideas)

    def _only_neutral_since(self, m: Meeting, seq: int, created_at) -> bool:
        """Whether ``m``'s board at ``seq`` is its board now (with the lock held)."""
        if created_at != m.created_at or seq > m.last_seq:
            return False
        known = self._neutral.get(m.pk)
        return (
            known is not None
            and known[0] == m.created_at
            and known[1].issuperset(range(seq + 1, m.last_seq + 1))
        )

    def _carried(self, board: _Board, m: Meeting) -> _Board | None:
        """``board`` relabelled to ``m``'s seq if only neutral events came since, or None
        (with the lock held)."""
        seq, created_at = board.version
        if not self._only_neutral_since(m, seq, created_at):
            return None
        board.version = (m.last_seq, m.created_at)
        self._neutral[m.pk][1].difference_update(range(seq + 1, m.last_seq + 1))
        return board

    def _earlier_build(self, m: Meeting) -> _Pending | None:
        """A build under way of ``m`` at an earlier seq that is its board now (with the
        lock held)."""
        found = [
            (seq, pending)
            for (pk, seq, created_at), pending in self._building.items()
            if pk == m.pk and self._only_neutral_since(m, seq, created_at)
        ]
        return max(found, key=lambda x: x[0])[1] if found else None

    def neutral(self, m: Meeting, seqs: range) -> None:
        """The committed events ``seqs`` of ``m`` changed nothing a board holds."""
        with self._lock:
            known = self._neutral.pop(m.pk, None)
            if known is None or known[0] != m.created_at or len(known[1]) > self.NEUTRAL_SEQS:
                known = (m.created_at, set())
            known[1].update(seqs)
            self._neutral[m.pk] = known  # most recent last
            while len(self._neutral) > self.NEUTRAL_MEETINGS:
                self._neutral.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._neutral.clear()
            self.hits = self.misses = self.builds = 0


_BOARDS = _BoardCache(SNAPSHOT_CACHE_MEETINGS, SNAPSHOT_CACHE_IDEAS)


def board_unchanged(m: Meeting, before: int) -> None:
    """Tell the board cache that the committed events of ``m`` after ``before`` (up to
    ``m.last_seq``) changed nothing of its board (``participant.joined``)."""
    _BOARDS.neutral(m, range(before + 1, m.last_seq + 1))


def snapshot_for(
    meeting: Meeting | int, viewer: Viewer, *, fresh: bool = False
) -> tuple[dict, int]:
    """The whole state of a meeting for one viewer, and the ``seq`` it corresponds to.

    ``fresh``: the viewer is a participant that has just been created (a first join): it
    has no votes or reactions yet, so they are not read."""
    meeting_id = meeting if isinstance(meeting, int) else meeting.pk
    # Only a board read from committed data may be kept: inside a caller's transaction
    # the state may hold writes that roll back, and their ``last_seq`` be reused.
    shared = not connection.in_atomic_block
    if shared and connection.vendor == "postgresql":
        # Most snapshots find their board cached and have no actions to load: then the
        # whole read is one round trip, its own transaction included.
        m, mine, participants, action_ids = _reads(meeting_id, viewer, fresh, own=True)
        board = None if action_ids else _BOARDS.get(m)
        if board is not None:
            return _snapshot(m, board, viewer, mine, participants, action_ids), m.last_seq
    atomic = transaction.atomic()
    atomic.__enter__()
    try:
        m, mine, participants, action_ids = _reads(meeting_id, viewer, fresh, isolate=shared)
        board = _BOARDS.get_or_build(m, _build_board) if shared else _build_board(m)
        return _snapshot(m, board, viewer, mine, participants, action_ids), m.last_seq
    finally:
        atomic.__exit__(None, None, None)


def snapshots_for(wanted: list[tuple[int, Viewer, bool]]) -> list[tuple[dict, int] | None]:
    """``snapshot_for(meeting_id, viewer, fresh=fresh)`` of each of ``wanted``, for the
    connects of a busy moment: on PostgreSQL the reads of all of them in one transaction,
    each meeting's once and each viewer's own, in one round trip, and one more for the
    boards not cached yet (built in the same transaction). None for one of a meeting that
    has actions to load (or no longer exists), and for all of them elsewhere or inside a
    transaction: the caller asks ``snapshot_for``."""
    if not wanted or connection.vendor != "postgresql" or connection.in_atomic_block:
        return [None] * len(wanted)
    sql, names, converters = _meeting_sql(connection.vendor)
    meeting_ids = sorted({meeting_id for meeting_id, _v, _f in wanted})
    viewers = sorted({v.participant_id for _m, v, fresh in wanted if not fresh})
    statements: list = [(_BEGIN, [])]
    for meeting_id in meeting_ids:
        statements += [
            (sql, [meeting_id]),
            (_participants_sql(), [meeting_id]),
            (_action_ids_sql(), [meeting_id, "ended", *_OPEN_STATUSES]),
        ]
    statements += [(_mine_sql(), [pk, pk]) for pk in viewers]
    per_meeting = {}
    try:
        found = plain.script(statements, prepared=True)[1:]
        for k, meeting_id in enumerate(meeting_ids):
            rows, people, actions = found[3 * k : 3 * k + 3]
            if rows and not actions:
                values = plain.convert(list(rows[0]), converters)
                m = Meeting.from_db(connection.alias, names, values)
                per_meeting[meeting_id] = (m, _participants(people))
        # A board not cached yet is read in the same transaction as the rest.
        boards = {pk: _BOARDS.get_or_build(m, _build_board) for pk, (m, _p) in per_meeting.items()}
        plain.script([("COMMIT", [])], prepared=True)
    except Exception:
        _end_own_transaction()
        raise
    mine = dict(zip(viewers, found[3 * len(meeting_ids) :], strict=True))
    out: list = []
    for meeting_id, v, fresh in wanted:
        read = per_meeting.get(meeting_id)
        if read is None:
            out.append(None)
            continue
        m, participants = read
        mine_v = _mine(() if fresh else mine[v.participant_id])
        snapshot = _snapshot(m, boards[meeting_id], v, mine_v, list(participants), [])
        out.append((snapshot, m.last_seq))
    return out


def _snapshot(
    m: Meeting, board: _Board, v: Viewer, mine, participants: list[dict], action_ids: list[int]
) -> dict:
    my_votes, my_reactions = mine
    actions, followups = _actions(m, action_ids)
    return {
        "meeting": meeting_data(m),
        "participants": participants,
        "challenges": list(board.challenges),
        "ideas": _ideas_for(board, v, my_votes, my_reactions),
        "clusters": list(board.clusters),
        "actions": actions,
        "followups": followups,
        "takeaways": [_post_for(t, v) for t in board.takeaways],
    }


def _ideas_for(board: _Board, v: Viewer, my_votes: set[int], my_reactions: dict) -> list[dict]:
    """The board's ideas for ``v``: the shared rendering, except where ``v`` has a part."""
    others = board.as_seen_by_others(v.facilitator)
    special = board.own.get(v.participant_id, set()) | my_votes | my_reactions.keys()
    if not special:
        return [i for i in others if i is not None]
    out = []
    for (idea_id, author_id, removed, d), other in zip(board.ideas, others, strict=True):
        if idea_id not in special:
            if other is not None:
                out.append(other)
        elif not removed or author_id == v.participant_id or v.facilitator:
            mine = my_reactions.get(idea_id, ())
            out.append(idea_for(d, v, my_vote=idea_id in my_votes, my_reactions=mine))
    return out


# The per-viewer reads below run for every snapshot (each socket's welcome): plain SQL
# built once from the models' tables and columns, since the ORM's compiling of the same
# queries cost ~1–2 ms of CPU each on a small machine, several times the rest of the
# snapshot of a small meeting.


_qn = plain.qn


# The isolation of a snapshot's transaction (PostgreSQL): its first statement, sent with
# the reads (``_reads``), so that every read sees the same committed state.
_ISOLATION = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"


def _reads(meeting_id: int, v: Viewer, fresh: bool, *, isolate: bool = False, own: bool = False):
    """The per-call reads of a snapshot, in one round trip on PostgreSQL: the meeting,
    the viewer's votes and reactions (none for a ``fresh`` participant: not read), the
    participants with their roles, and the ids of the actions to show.

    ``isolate``: the caller's transaction has just begun; its isolation is set first
    (only the first statement of a transaction may set it). ``own`` (PostgreSQL, in
    autocommit mode): the reads are their own transaction, begun and committed in the
    same round trip."""
    pg = connection.vendor == "postgresql"
    sql, names, converters = _meeting_sql(connection.vendor)
    statements = [
        (_BEGIN, []) if own else (_ISOLATION, []) if isolate and pg else None,
        (sql, [meeting_id]),
        None if fresh else (_mine_sql(), [v.participant_id, v.participant_id]),
        (_participants_sql(), [meeting_id]),
        (_action_ids_sql(), [meeting_id, "ended", *_OPEN_STATUSES]),
        ("COMMIT", []) if own else None,
    ]
    try:
        found, mine, people, actions = plain.script(statements, prepared=True)[1:5]
    except Exception:
        if own:
            _end_own_transaction()
        raise
    if not found:
        raise Meeting.DoesNotExist("Meeting matching query does not exist.")
    values = plain.convert(list(found[0]), converters)
    m = Meeting.from_db(connection.alias, names, values)
    return m, _mine(mine or ()), _participants(people), [pk for (pk,) in actions]


_BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


def _end_own_transaction() -> None:
    """Roll back a transaction ``_reads`` began and a failed statement left open (the rest
    of the round trip, its COMMIT included, did not run)."""
    from psycopg import pq

    raw = connection.connection
    if raw is not None and raw.info.transaction_status != pq.TransactionStatus.IDLE:
        with contextlib.suppress(Exception):
            raw.rollback()


@functools.cache
def _meeting_sql(vendor: str) -> tuple[str, list[str], tuple]:
    """The statement reading a meeting's row, its fields' names in ``from_db`` order, and
    (index, column, converters) of each column the ORM converts on the way out (SQLite's
    dates and booleans), as ``SQLCompiler`` does."""
    meta = Meeting._meta
    fields = meta.concrete_fields
    sql = (
        f"SELECT {', '.join(_qn(f.column) for f in fields)}"  # noqa: S608
        f" FROM {_qn(meta.db_table)} WHERE {_qn(meta.pk.column)} = %s"
    )
    return sql, [f.attname for f in fields], plain.converters(fields)


@functools.cache
def _mine_sql() -> str:
    v, r = Vote._meta, Reaction._meta
    return (
        f"SELECT {_qn('idea_id')}, '' FROM {_qn(v.db_table)}"  # noqa: S608
        f" WHERE {_qn('participant_id')} = %s"
        f" UNION ALL SELECT {_qn('idea_id')}, {_qn('emoji')} FROM {_qn(r.db_table)}"
        f" WHERE {_qn('participant_id')} = %s"
    )


def _mine(rows) -> tuple[set[int], dict[int, set[str]]]:
    """The ideas the viewer voted on, and its reactions per idea, from ``_mine_sql``'s
    rows (a participant belongs to one meeting: no join needed)."""
    my_votes: set[int] = set()
    my_reactions: dict[int, set[str]] = {}
    for idea_id, emoji in rows:
        if emoji == "":
            my_votes.add(idea_id)
        else:
            my_reactions.setdefault(idea_id, set()).add(emoji)
    return my_votes, my_reactions


@functools.cache
def _participants_sql() -> str:
    p, mt, ms = Participant._meta, Meeting._meta, Membership._meta
    return (
        f"SELECT p.{_qn('id')}, p.{_qn('display_name')}, p.{_qn('user_id')},"  # noqa: S608
        f" ms.{_qn('role')}, p.{_qn('muted')}, p.{_qn('removed')}"
        f" FROM {_qn(p.db_table)} p"
        f" JOIN {_qn(mt.db_table)} mt ON mt.{_qn('id')} = p.{_qn('meeting_id')}"
        f" LEFT JOIN {_qn(ms.db_table)} ms ON ms.{_qn('room_id')} = mt.{_qn('room_id')}"
        f" AND ms.{_qn('user_id')} = p.{_qn('user_id')}"
        f" WHERE p.{_qn('meeting_id')} = %s ORDER BY p.{_qn('id')}"
    )


def _participants(rows) -> list[dict]:
    """Every participant with its role in the room now (a role changes with no event),
    from ``_participants_sql``'s rows."""
    # As ``participant_data``: a member of no role (left the room) shows as a member.
    return [
        {
            "id": pk,
            "name": name,
            "role": (room_role or "member") if user_id is not None else "guest",
            "muted": bool(muted),
            "removed": bool(removed),
        }
        for pk, name, user_id, room_role, muted, removed in rows
    ]


_OPEN_STATUSES = (ActionStatus.OPEN.value, ActionStatus.IN_PROGRESS.value)


@functools.cache
def _action_ids_sql() -> str:
    """The ids of the actions ``_actions`` returns: the meeting's own, and those of the
    room's earlier ended meetings still open or changed since this one started (none
    changed before a start: ``started_at`` is NULL then). Compared with the meeting's row
    in the statement, so that it needs nothing read before it."""
    a, c, mt = Action._meta, Challenge._meta, Meeting._meta
    return (
        f"SELECT a.{_qn('id')} FROM {_qn(a.db_table)} a"  # noqa: S608
        f" JOIN {_qn(c.db_table)} c ON c.{_qn('id')} = a.{_qn('challenge_id')}"
        f" JOIN {_qn(mt.db_table)} cm ON cm.{_qn('id')} = c.{_qn('meeting_id')}"
        f" JOIN {_qn(mt.db_table)} m ON m.{_qn('id')} = %s"
        f" WHERE c.{_qn('meeting_id')} = m.{_qn('id')}"
        f" OR (cm.{_qn('room_id')} = m.{_qn('room_id')} AND cm.{_qn('state')} = %s"
        f" AND cm.{_qn('scheduled_at')} < m.{_qn('scheduled_at')}"
        f" AND (a.{_qn('status')} IN (%s, %s) OR a.{_qn('updated_at')} >= m.{_qn('started_at')}))"
    )


def _actions(m: Meeting, ids: list[int]) -> tuple[list[dict], list[dict]]:
    """This meeting's actions, and the follow-ups: open actions of earlier meetings, and
    those whose status changed during this one (so a snapshot equals the events applied
    to the previous one). Their ids come with the snapshot's reads (``_action_ids_sql``);
    when there are some, one query for them and one for their ideas."""
    if not ids:
        return [], []
    rows = list(
        Action.objects.filter(pk__in=ids).select_related("owner", "challenge").order_by("id")
    )
    idea_ids: dict[int, list[int]] = {}
    for action_id, idea_id in Action.source_ideas.through.objects.filter(
        action_id__in=[a.pk for a in rows]
    ).values_list("action_id", "idea_id"):
        idea_ids.setdefault(action_id, []).append(idea_id)
    actions, followups = [], []
    for a in rows:
        data = action_data(a, sorted(idea_ids.get(a.pk, ())))
        (actions if a.challenge.meeting_id == m.pk else followups).append(data)
    return actions, followups


def _board_columns() -> list[tuple[str, list]]:
    """The board's statements (each with one parameter, the meeting's id) and the model
    fields of their columns, in order (None: an aggregate, last, not converted)."""
    c, i, r, cl, t = (x._meta for x in (Challenge, Idea, Reply, Cluster, Takeaway))
    v, rx, p = Vote._meta, Reaction._meta, Participant._meta
    name = p.get_field("display_name")

    def cols(alias: str, meta, names) -> tuple[list[str], list]:
        fields = [meta.get_field(n) for n in names]
        return [f"{alias}.{_qn(f.column)}" for f in fields], fields

    def author(alias: str) -> str:
        return f" JOIN {_qn(p.db_table)} a ON a.{_qn('id')} = {alias}.{_qn('author_id')}"

    out = []
    sel, fields = cols("c", c, ("id", "title", "context", "ask", "position", "status", "owner"))
    out.append(
        (
            f"SELECT {', '.join(sel)}, a.{_qn('display_name')} FROM {_qn(c.db_table)} c"  # noqa: S608
            f" JOIN {_qn(p.db_table)} a ON a.{_qn('id')} = c.{_qn('owner_id')}"
            f" WHERE c.{_qn('meeting_id')} = %s ORDER BY c.{_qn('position')}, c.{_qn('id')}",
            [*fields, name],
        )
    )
    on_idea = f" JOIN {_qn(i.db_table)} i ON i.{_qn('id')} = x.{_qn('idea_id')}"
    out.append(
        (
            f"SELECT x.{_qn('idea_id')}, COUNT(*) FROM {_qn(v.db_table)} x{on_idea}"  # noqa: S608
            f" WHERE i.{_qn('meeting_id')} = %s GROUP BY x.{_qn('idea_id')}",
            [v.get_field("idea"), None],
        )
    )
    out.append(
        (
            f"SELECT x.{_qn('idea_id')}, x.{_qn('emoji')}, COUNT(*)"  # noqa: S608
            f" FROM {_qn(rx.db_table)} x{on_idea} WHERE i.{_qn('meeting_id')} = %s"
            f" GROUP BY x.{_qn('idea_id')}, x.{_qn('emoji')}",
            [rx.get_field("idea"), rx.get_field("emoji"), None],
        )
    )
    sel, fields = cols("x", r, ("id", "idea", "text", "author", "anonymous", "created_at"))
    sel.insert(4, f"a.{_qn('display_name')}")
    fields.insert(4, name)
    out.append(
        (
            f"SELECT {', '.join(sel)} FROM {_qn(r.db_table)} x{on_idea}{author('x')}"  # noqa: S608
            f" WHERE i.{_qn('meeting_id')} = %s ORDER BY x.{_qn('id')}",
            fields,
        )
    )
    sel, fields = cols(
        "i",
        i,
        (
            "id",
            "challenge",
            "kind",
            "text",
            "author",
            "anonymous",
            "hidden",
            "removed",
            "removed_reason",
            "cluster",
            "created_at",
            "edited_at",
        ),
    )
    sel.insert(5, f"a.{_qn('display_name')}")
    fields.insert(5, name)
    out.append(
        (
            f"SELECT {', '.join(sel)} FROM {_qn(i.db_table)} i{author('i')}"  # noqa: S608
            f" WHERE i.{_qn('meeting_id')} = %s ORDER BY i.{_qn('id')}",
            fields,
        )
    )
    sel, fields = cols("x", cl, ("id", "challenge", "name", "position"))
    out.append(
        (
            f"SELECT {', '.join(sel)} FROM {_qn(cl.db_table)} x"  # noqa: S608
            f" JOIN {_qn(c.db_table)} c ON c.{_qn('id')} = x.{_qn('challenge_id')}"
            f" WHERE c.{_qn('meeting_id')} = %s ORDER BY x.{_qn('id')}",
            fields,
        )
    )
    sel, fields = cols("x", t, ("id", "text", "author", "anonymous", "created_at"))
    sel.insert(3, f"a.{_qn('display_name')}")
    fields.insert(3, name)
    out.append(
        (
            f"SELECT {', '.join(sel)} FROM {_qn(t.db_table)} x{author('x')}"  # noqa: S608
            f" WHERE x.{_qn('meeting_id')} = %s ORDER BY x.{_qn('id')}",
            fields,
        )
    )
    return out


@functools.cache
def _board_sql(vendor: str) -> list[tuple[str, tuple]]:
    """``_board_columns``' statements, each with the converters of its columns."""
    return [
        (sql, plain.converters([f for f in fields if f is not None]))
        for sql, fields in _board_columns()
    ]


def _build_board(m: Meeting) -> _Board:
    """The board of ``m`` as the committed state holds it: seven plain statements (one
    round trip on PostgreSQL), read as columns into the same dicts as ``challenge_data``,
    ``idea_data``, ``reply_data``, ``cluster_data`` and ``takeaway_data`` give."""
    statements = _board_sql(connection.vendor)
    found = plain.script([(sql, [m.pk]) for sql, _ in statements], prepared=True)
    c_rows, v_rows, r_rows, rp_rows, i_rows, cl_rows, t_rows = (
        [plain.convert(list(row), converters) for row in rows]
        for rows, (_sql, converters) in zip(found, statements, strict=True)
    )
    challenges = [
        {
            "id": pk,
            "title": title,
            "context": context,
            "ask": ask,
            "owner": {"id": owner_id, "name": owner_name},
            "position": position,
            "status": status,
        }
        for pk, title, context, ask, position, status, owner_id, owner_name in c_rows
    ]
    votes = {idea_id: n for idea_id, n in v_rows}
    reactions: dict[int, dict[str, int]] = {}
    for idea_id, emoji, n in r_rows:
        reactions.setdefault(idea_id, {})[emoji] = n
    # Columns, not model instances: the same dicts as ``reply_data`` and ``idea_data``.
    replies: dict[int, list[dict]] = {}
    for pk, idea_id, text, author_id, name, anonymous, at in rp_rows:
        replies.setdefault(idea_id, []).append(
            {
                "id": pk,
                "idea_id": idea_id,
                "text": text,
                "author": {"id": author_id, "name": name},
                "anonymous": anonymous,
                "at": iso(at),
            }
        )
    ideas = []
    for row in i_rows:
        pk, challenge_id, kind, text, author_id, name, anonymous, hidden, removed = row[:9]
        reason, cluster_id, created_at, edited_at = row[9:]
        d = {
            "id": pk,
            "challenge_id": challenge_id,
            "kind": kind,
            "text": text,
            "author": {"id": author_id, "name": name},
            "anonymous": anonymous,
            "hidden": hidden,
            "removed": removed,
            "removed_reason": reason if removed else None,
            "cluster_id": cluster_id,
            "votes": votes.get(pk, 0),
            "reactions": reactions.get(pk, {}),
            "replies": replies.get(pk, []),
            "at": iso(created_at),
            "edited": edited_at is not None,
        }
        ideas.append((pk, author_id, removed, d))
    clusters = [
        {"id": pk, "challenge_id": challenge_id, "name": name, "position": position}
        for pk, challenge_id, name, position in cl_rows
    ]
    takeaways = [
        {
            "id": pk,
            "text": text,
            "author": {"id": author_id, "name": name},
            "anonymous": anonymous,
            "at": iso(at),
        }
        for pk, text, author_id, name, anonymous, at in t_rows
    ]
    return _Board(m, challenges, ideas, clusters, takeaways)
