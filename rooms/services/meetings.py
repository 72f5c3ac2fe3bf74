"""Every write to a meeting's content: one service call = one transaction = its events.

Each service runs under ``@meeting_command``, which opens the transaction, locks the
meeting row, re-reads the actor, checks the phase rules (``rooms.phases.check``),
answers a repeated ``ref`` with the stored result instead of writing twice, saves the
events with consecutive ``seq`` numbers and registers their broadcast with
``transaction.on_commit``. The consumer, HTTP views, the admin and management commands
all call these functions.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from rooms import broadcast, phases, wire
from rooms import sql as plain
from rooms.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, WrongPhase
from rooms.limits import EMOJIS
from rooms.models import (
    Action,
    ActionStatus,
    Anonymity,
    Challenge,
    ChallengeStatus,
    Cluster,
    CommandReceipt,
    Idea,
    IdeaKind,
    Meeting,
    MeetingEvent,
    MeetingState,
    Membership,
    Participant,
    Reaction,
    Reply,
    Takeaway,
    Vote,
)
from rooms.services import rows

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What a command did: the seq of its last event (None if it wrote none) and a result."""

    seq: int | None
    result: dict = field(default_factory=dict)
    replayed: bool = False

    def as_receipt(self) -> dict:
        return {"seq": self.seq, "result": self.result}


@dataclass
class Ctx:
    """The state a service works on, inside its transaction, with the meeting locked."""

    meeting: Meeting
    actor: Participant
    role: str
    events: list[MeetingEvent] = field(default_factory=list)
    dirty: set[str] = field(default_factory=set)
    # Rows read by earlier commands of the same batch that no command of it changed
    # since (``run_calls`` empties it after any command that may change them).
    cache: dict = field(default_factory=dict)
    # New rows whose insert the batch makes with its last round trip (``rows.Deferred``).
    deferred: rows.Deferred | None = None

    @property
    def facilitator(self) -> bool:
        return self.role in ("owner", "facilitator")

    def emit(self, name: str, data: dict) -> MeetingEvent:
        self.meeting.last_seq += 1
        self.dirty.add("last_seq")
        # Saved with the command's other events in one statement (``_save_events``).
        event = MeetingEvent(
            meeting=self.meeting,
            seq=self.meeting.last_seq,
            name=name,
            actor=self.actor,
            data=data,
            at=timezone.now(),
        )
        self.events.append(event)
        return event

    def insert(self, obj):
        """Insert ``obj`` (a new row): with the batch's last round trip when its key was
        drawn in advance (PostgreSQL), or now with ``rows.create``. Either way it has its
        primary key on return."""
        if self.deferred is None or not self.deferred.add(obj):
            rows.create(obj)
        return obj

    def touch(self, *fields: str) -> None:
        """Mark meeting fields changed; they are saved with ``last_seq`` at the end."""
        self.dirty.update(fields)

    def emit_meeting(self, name: str) -> MeetingEvent:
        return self.emit(name, wire.meeting_data(self.meeting))


def _lock_meeting(meeting_id: int) -> Meeting:
    try:
        return Meeting.objects.select_for_update().get(pk=meeting_id)
    except Meeting.DoesNotExist:
        raise NotFound(_("This meeting does not exist.")) from None


def _role(meeting: Meeting, actor: Participant) -> str:
    if actor.user_id is None:
        return "guest"
    role = (
        Membership.objects.filter(room_id=meeting.room_id, user_id=actor.user_id)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        raise Forbidden(_("You are no longer a member of this room."))
    return role


def _save_events(events: list[MeetingEvent]) -> None:
    rows.insert(events, rows.EVENT_FIELDS)


# Commands whose new idea may wait for the batch's last round trip (``rows.Deferred``):
# they read no idea, and nothing they do after adding it can fail.
DEFERS_IDEA = frozenset({"idea.post"})


@dataclass
class Call:
    """One command to run: its service and arguments, its actor, and the language of the
    messages of its errors."""

    name: str
    fn: Callable
    check: bool
    actor: Participant
    ref: str | None
    kwargs: dict
    lang: str | None = None
    validates_first: bool = False


def _actors(calls: list[Call], found: list[Participant] | None = None) -> dict[int, tuple]:
    """Each actor's row as it is now and their role in the room (or the Forbidden error
    to raise), in one query whatever the number of calls (none with ``found``, the rows
    ``rows.open_batch`` read)."""
    actors: dict[int, tuple] = {}
    if found is None:
        found = rows.participants_with_roles(c.actor.pk for c in calls)
    for p in found:
        if p.user_id is None:
            actors[p.pk] = (p, "guest")
        else:
            role = p.member_role or Forbidden(_("You are no longer a member of this room."))
            actors[p.pk] = (p, role)
    return actors


def _receipts(calls: list[Call]) -> dict[tuple[int, str], Outcome]:
    """The stored outcome of every (actor, ref) of ``calls`` already done."""
    stored = rows.receipts([(c.actor.pk, c.ref) for c in calls if c.ref])
    return {k: Outcome(r["seq"], r["result"], replayed=True) for k, r in stored.items()}


def _challenges_named(calls: list[Call]) -> set[int]:
    """The challenges the batch's first commands name: what ``_challenge`` would read one
    by one, read with the batch's first statements instead (up to the first command that
    may change a challenge)."""
    ids = set()
    for call in calls:
        if not call.validates_first:
            break
        if isinstance(call.kwargs.get("challenge_id"), int):
            ids.add(call.kwargs["challenge_id"])
    return ids


def _run_one(
    call: Call, meeting: Meeting | None, actor, cache: dict, deferred: rows.Deferred | None = None
) -> tuple[Outcome, Ctx]:
    if meeting is None:
        raise NotFound(_("This meeting does not exist."))
    if actor is None:
        raise NotFound(_("This participant is not in the meeting."))
    fresh, role = actor
    if fresh.removed:
        raise Forbidden(_("You were removed from this meeting."))
    if isinstance(role, Forbidden):
        raise role
    ctx = Ctx(meeting=meeting, actor=fresh, role=role, cache=cache, deferred=deferred)
    if call.check:
        phases.check(
            fmt=meeting.format,
            state=meeting.state,
            phase=meeting.phase,
            locked=meeting.locked,
            role=role,
            muted=fresh.muted,
            command=call.name,
            kind=call.kwargs.get("kind") or IdeaKind.IDEA,
        )
    result = call.fn(ctx, **call.kwargs) or {}
    return Outcome(meeting.last_seq if ctx.events else None, result), ctx


def run_calls(calls: list[Call], published: list | None = None) -> list[Outcome | Exception]:
    """Run ``calls`` in one transaction: one result per call, in order.

    Commands that arrive together share the transaction's fixed costs (the meetings'
    locks, the actors' rows, the receipts' lookup, the meeting's ``last_seq`` update, the
    events' insert and the commit's disk flush) and run one after the other exactly as
    they would in transactions of their own: each sees what the ones before it wrote. In
    a batch of several, each runs inside a savepoint, so a refused or failing command
    rolls back alone and its error is its result; a command marked ``validates_first``
    (it raises a domain error only before its first write) needs no savepoint. A single
    call raises its error, and its transaction rolls back.

    The events are published after the commit (``broadcast.on_commit_publish``); with
    ``published``, they are appended to it instead, for an asynchronous caller to publish
    from its event loop.
    """
    batch = len(calls) > 1
    results: list[Outcome | Exception] = []
    # Each command's messages are in its sender's language: the batch switches language
    # only between commands of different ones, and puts the caller's back at the end.
    original = translation.get_language()
    active = [original]
    try:
        with transaction.atomic():
            return _run_batch(calls, published, batch, results, active)
    finally:
        if active[0] != original:
            translation.activate(original) if original else translation.deactivate()


def _run_batch(
    calls: list[Call], published: list | None, batch: bool, results: list, active: list
) -> list[Outcome | Exception]:
    """``run_calls``' work inside its transaction; ``active[0]``: the language active."""
    meetings, found, stored, challenges, deferred = rows.open_batch(
        (c.actor.meeting_id for c in calls),
        (c.actor.pk for c in calls),
        [(c.actor.pk, c.ref) for c in calls if c.ref],
        _challenges_named(calls),
        new_ideas=sum(c.name in DEFERS_IDEA for c in calls),
    )
    actors = _actors(calls, found)
    done = {k: Outcome(r["seq"], r["result"], replayed=True) for k, r in stored.items()}
    events: dict[int, list[MeetingEvent]] = {}
    dirty: dict[int, set[str]] = {}
    receipts: list[CommandReceipt] = []
    cache = {("challenge", pk): c for pk, c in challenges.items()}
    for call in calls:
        key = (call.actor.pk, call.ref)
        if call.ref and key in done:
            results.append(done[key])
            continue
        meeting = meetings.get(call.actor.meeting_id)
        before = dict(meeting.__dict__) if meeting is not None else {}
        if call.name not in DEFERS_IDEA:
            deferred.flush()  # this command may read or change the batch's new ideas
        mark = deferred.mark()
        savepoint = transaction.savepoint_create() if batch and not call.validates_first else None
        if not call.validates_first:
            cache.clear()
        try:
            if call.lang and call.lang != active[0]:
                translation.activate(call.lang)
                active[0] = call.lang
            outcome, ctx = _run_one(call, meeting, actors.get(call.actor.pk), cache, deferred)
        except Exception as e:
            if not batch or (savepoint is None and not isinstance(e, DomainError)):
                raise  # the whole batch rolls back (rooms.writer then runs each alone)
            deferred.rollback_to(mark)
            if savepoint is not None:
                transaction.savepoint_rollback(savepoint)
                cache.clear()
            if meeting is not None:  # undo the command's changes in memory too
                meeting.__dict__.clear()
                meeting.__dict__.update(before)
            if not isinstance(e, DomainError):
                log.exception("command %s failed in a batch", call.name)
            results.append(e)
            continue
        if savepoint is not None:
            transaction.savepoint_commit(savepoint)
        assert meeting is not None
        events.setdefault(meeting.pk, []).extend(ctx.events)
        fields = dirty.setdefault(meeting.pk, set())
        fields.update(ctx.dirty)
        if fields - {"last_seq"}:
            # Commands after this one may read the meeting from the database.
            meeting.save(update_fields=sorted(fields))
            fields.clear()
        if call.ref:
            receipt = outcome.as_receipt()
            receipts.append(
                CommandReceipt(participant_id=call.actor.pk, ref=call.ref, result=receipt)
            )
            done[key] = Outcome(outcome.seq, outcome.result, replayed=True)
        if call.name.startswith("participant.") and batch:
            actors = _actors(calls)  # a mute or removal applies to what follows
        results.append(outcome)
    for pk, fields in dirty.items():
        if fields - {"last_seq"}:
            meetings[pk].save(update_fields=sorted(fields))
    rows.close_batch(
        [meetings[pk] for pk, fields in dirty.items() if fields == {"last_seq"}],
        [e for evs in events.values() for e in evs],
        receipts,
        deferred,
    )
    for pk, evs in events.items():
        broadcast.on_commit_publish(pk, evs, into=published)
    return results


def meeting_command(name: str, *, check: bool = True, validates_first: bool = False) -> Callable:
    """Run a service as the command ``name``: transaction, lock, rules, ref, events.

    ``validates_first``: the service raises a domain error only before it writes
    anything, and changes no challenge, so a batch needs no savepoint around it and keeps
    the challenges it read for the next commands.

    ``service.call(actor=..., ref=..., lang=..., **kwargs)`` makes the ``Call`` that
    ``run_calls`` runs with others in one transaction (``rooms.writer``)."""

    def decorate(fn: Callable) -> Callable:
        def call(*, actor: Participant, ref: str | None = None, lang=None, **kwargs) -> Call:
            return Call(name, fn, check, actor, ref, kwargs, lang, validates_first)

        @functools.wraps(fn)
        def run(*, actor: Participant, ref: str | None = None, **kwargs) -> Outcome:
            try:
                result = run_calls([call(actor=actor, ref=ref, **kwargs)])[0]
            except IntegrityError:
                # The unique (participant, ref) constraint: another transaction won the race.
                stored = _receipts([call(actor=actor, ref=ref, **kwargs)]).get((actor.pk, ref))
                if stored is not None:
                    return stored
                raise
            assert isinstance(result, Outcome)
            return result

        run.command = name  # type: ignore[attr-defined]
        run.call = call  # type: ignore[attr-defined]
        return run

    return decorate


# --------------------------------------------------------------------------- participants


def participant_join(
    *,
    meeting: Meeting,
    user=None,
    guest_key=None,
    display_name: str | None = None,
    role: str | None = None,
    into: list | None = None,
) -> Participant:
    """The participant of ``user`` (a room member) or of a guest in ``meeting``, created on
    first join with a ``participant.joined`` event.

    ``role``: the user's role in the room, when the caller has just read it (the socket's
    connect, which also knows there was no participant a moment ago): the join then goes
    straight to the meeting's lock, and saves the role's query and the ORM's lookups; on
    PostgreSQL it is then two round trips, its own transaction included when it is the
    outermost (``rows.begin_statement``): the lock with the participant's insert, then
    the event with the meeting's seq and the ``COMMIT``. A
    participant created here is marked ``first_join`` (no votes, reactions or posts yet).
    ``into``: as ``broadcast.on_commit_publish``'s, for a caller on the event loop."""
    lookup = {"user": user} if user is not None else {"guest_key": guest_key}
    if user is None and guest_key is None:
        raise Invalid(_("A participant is a user or a guest."))
    if role is None:
        existing = Participant.objects.filter(meeting=meeting, **lookup).first()
        if existing is not None:
            return existing
    name = display_name or (user.public_name if user is not None else _("Guest"))
    with transaction.atomic():
        p = None
        if role is not None and user is not None:
            # The lock, then the insert unless another socket of the same user joined
            # since: every join takes the meeting's lock first, so the insert's check sees
            # its row. One round trip on PostgreSQL, BEGIN included.
            p = Participant(meeting_id=meeting.pk, display_name=name[:60], user=user)
            _begun, found, inserted = plain.script(
                [rows.begin_statement(), rows._lock_sql([meeting.pk]), _participant_insert_sql(p)],
                prepared=True,
            )
            if not found:
                raise NotFound(_("This meeting does not exist."))
            (locked,) = rows._instances(Meeting, found)
            del locked.extra
            if inserted:
                ((p.pk,),) = inserted
                p._state.adding, p._state.db = False, connection.alias
                p.meeting = locked
            else:
                p = Participant.objects.filter(meeting=locked, **lookup).first()
                if p is not None:
                    return p
        else:
            locked = rows.lock_meetings([meeting.pk]).get(meeting.pk)
            if locked is None:
                raise NotFound(_("This meeting does not exist."))
            # Another tab of the guest may have joined since: every join takes the
            # meeting's lock first, so its row is visible now.
            existing = Participant.objects.filter(meeting=locked, **lookup).first()
            if existing is not None:
                return existing
        if p is None:
            p = rows.create(Participant(meeting=locked, display_name=name[:60], **lookup))
        ctx = Ctx(meeting=locked, actor=p, role=role or _role(locked, p))
        before = locked.last_seq
        ctx.emit("participant.joined", wire.participant_data(p, ctx.role))
        # The event and the meeting's seq, and on PostgreSQL the COMMIT when this block is
        # the outermost (as ``rows.close_batch``): one round trip.
        plain.script(
            [
                rows._insert_sql(ctx.events, rows.EVENT_FIELDS),
                rows._last_seq_sql(locked),
                rows.commit_statement(),
            ],
            prepared=True,
        )
        rows.after_commit()
        broadcast.on_commit_publish(locked.pk, ctx.events, into)
        # A join changes no idea, challenge, cluster or takeaway: the snapshot's board
        # cached for the seq before it serves the one after (a meeting filling up does
        # not rebuild its board once per arrival).
        transaction.on_commit(lambda: wire.board_unchanged(locked, before))
    p.first_join = True
    return p


def participants_join(
    entries: list[tuple[Meeting, object, str]], into: list | None = None
) -> dict[tuple[int, int], Participant]:
    """``participant_join`` of several room members at once, each ``(meeting, user,
    role)`` as the socket's connect read them (the meeting's id and room, the user, its
    role in the room): the participant of each (meeting id, user id) pair, a new one
    marked ``first_join``; a meeting that no longer exists has none.

    The first joins of a busy moment (a meeting starting, every tab reconnecting) share
    one transaction, of two round trips on PostgreSQL whatever their number: the meetings'
    locks in id order (as every writer takes them), the participants that exist by now
    (another socket of the same user may have joined since its connect read, under the
    same lock) and keys for the others; then the new participants, their
    ``participant.joined`` events, the meetings' seqs and the COMMIT. Elsewhere each runs
    ``participant_join``."""
    wanted: dict[tuple[int, int], tuple[Meeting, object, str]] = {}
    for meeting, user, role in entries:
        wanted.setdefault((meeting.pk, user.pk), (meeting, user, role))
    if connection.vendor != "postgresql":
        out = {}
        for key, (meeting, user, role) in wanted.items():
            try:
                out[key] = participant_join(meeting=meeting, user=user, role=role, into=into)
            except NotFound:
                continue
        return out
    ids = sorted({meeting_id for meeting_id, _u in wanted})
    out = {}
    with transaction.atomic():
        _begun, found, existing, keys = plain.script(
            [
                rows.begin_statement(),
                (_locks_sql(), [ids]),
                (_existing_sql(), [[m for m, _u in wanted], [u for _m, u in wanted]]),
                rows._ids_sql(Participant, len(wanted)),
            ],
            prepared=True,
        )
        locked = {m.pk: m for m in rows._instances(Meeting, found)}
        for m in locked.values():
            del m.extra
        db = connection.alias
        for meeting_id, user_id, pk, name, muted, removed in existing:
            out[(meeting_id, user_id)] = Participant.from_db(
                db,
                ["id", "meeting_id", "user_id", "display_name", "muted", "removed"],
                [pk, meeting_id, user_id, name, bool(muted), bool(removed)],
            )
        deferred = rows.Deferred([pk for (pk,) in keys])
        before = {pk: m.last_seq for pk, m in locked.items()}
        events: dict[int, list[MeetingEvent]] = {}
        for key, (_meeting, user, role) in wanted.items():
            m = locked.get(key[0])
            if key in out or m is None:
                continue
            p = Participant(meeting=m, user=user, display_name=user.public_name[:60])
            deferred.add(p)
            ctx = Ctx(meeting=m, actor=p, role=role)
            ctx.emit("participant.joined", wire.participant_data(p, role))
            events.setdefault(m.pk, []).extend(ctx.events)
            p.first_join = True
            out[key] = p
        if events:
            changed = [locked[pk] for pk in sorted(events)]
            plain.script(
                [
                    deferred.take_statement(),
                    *rows._last_seqs_sql(changed),
                    rows._insert_sql(
                        [e for pk in sorted(events) for e in events[pk]], rows.EVENT_FIELDS
                    ),
                    rows.commit_statement(),
                ],
                prepared=True,
            )
            rows.after_commit()
            for m in changed:
                broadcast.on_commit_publish(m.pk, events[m.pk], into)
                # A join changes no board (see ``participant_join``).
                transaction.on_commit(functools.partial(wire.board_unchanged, m, before[m.pk]))
    return out


@functools.cache
def _locks_sql() -> str:
    """``rows._lock_sql`` with the meetings' ids as one array (one statement's shape
    whatever their number)."""
    sql, _params = rows._lock_sql([0])
    return sql.replace(f"IN ({rows._marks(1)})", "= ANY(%s)")


@functools.cache
def _existing_sql() -> str:
    """The participants of (meeting, user) pairs given as two arrays (PostgreSQL)."""
    qn = connection.ops.quote_name
    p = Participant._meta
    return (
        f"SELECT p.{qn('meeting_id')}, p.{qn('user_id')}, p.{qn('id')},"  # noqa: S608
        f" p.{qn('display_name')}, p.{qn('muted')}, p.{qn('removed')}"
        f" FROM {qn(p.db_table)} p"
        " JOIN unnest(%s::bigint[], %s::bigint[]) AS j(meeting, uid)"
        f" ON p.{qn('meeting_id')} = j.meeting AND p.{qn('user_id')} = j.uid"
    )


_JOIN_FIELDS = ("meeting", "user", "display_name", "muted", "removed", "joined_at")


@functools.cache
def _participant_insert_template() -> str:
    qn = connection.ops.quote_name
    meta, mt = Participant._meta, Meeting._meta
    table = qn(meta.db_table)
    columns = ", ".join(qn(meta.get_field(n).column) for n in _JOIN_FIELDS)
    return (
        f"INSERT INTO {table} ({columns}) SELECT {', '.join(['%s'] * len(_JOIN_FIELDS))}"  # noqa: S608
        f" WHERE NOT EXISTS (SELECT 1 FROM {table}"
        f" WHERE {qn('meeting_id')} = %s AND {qn('user_id')} = %s)"
        f" AND EXISTS (SELECT 1 FROM {qn(mt.db_table)} WHERE {qn('id')} = %s)"
        f" RETURNING {qn(meta.pk.column)}"
    )


def _participant_insert_sql(p: Participant) -> tuple[str, list]:
    """The insert of ``p`` (a user's new participant) unless the meeting already has a
    participant of that user (or no longer exists): no row back then, else its id. For
    the join's write under the meeting's lock, which nearly always inserts."""
    meta = Participant._meta
    fields = [meta.get_field(n) for n in _JOIN_FIELDS]
    params = [f.get_db_prep_save(f.pre_save(p, add=True), connection) for f in fields]
    return _participant_insert_template(), [*params, p.meeting_id, p.user_id, p.meeting_id]


# --------------------------------------------------------------------------- lookups


def _challenge(ctx: Ctx, challenge_id: int) -> Challenge:
    key = ("challenge", challenge_id)
    c = ctx.cache.get(key)
    if c is None or c.meeting_id != ctx.meeting.pk:
        c = ctx.cache[key] = rows.challenges([challenge_id], [ctx.meeting.pk]).get(challenge_id)
    if c is None:
        raise NotFound(_("This challenge does not exist."), "challenge_id")
    return c


def _idea(ctx: Ctx, idea_id: int, *, include_removed: bool = False) -> Idea:
    i = Idea.objects.select_related("author").filter(pk=idea_id, meeting=ctx.meeting).first()
    if i is None or (i.removed and not include_removed):
        raise NotFound(_("This idea does not exist."), "idea_id")
    if i.hidden and i.author_id != ctx.actor.pk and not ctx.facilitator:
        raise NotFound(_("This idea does not exist."), "idea_id")
    return i


def _owner_or_facilitator(ctx: Ctx, owner_id: int, message: str) -> None:
    if owner_id != ctx.actor.pk and not ctx.facilitator:
        raise Forbidden(message)


def _require_active(challenge: Challenge) -> None:
    if challenge.status != ChallengeStatus.ACTIVE:
        raise Conflict(_("This challenge was withdrawn."), "challenge_id")


def _idea_full(idea: Idea) -> dict:
    votes = idea.votes.count()
    reactions = dict(
        idea.reactions.values("emoji").annotate(n=Count("id")).values_list("emoji", "n").order_by()
    )
    replies = list(idea.replies.select_related("author").order_by("id"))
    return wire.idea_data(idea, votes=votes, reactions=reactions, replies=replies)


# --------------------------------------------------------------------------- meeting


@meeting_command("meeting.start")
def meeting_start(ctx: Ctx) -> dict:
    m = ctx.meeting
    m.state = MeetingState.LIVE
    m.started_at = timezone.now()
    m.phase = "lobby"
    ctx.touch("state", "started_at", "phase")
    ctx.emit_meeting("meeting.started")
    return {}


@meeting_command("meeting.end")
def meeting_end(ctx: Ctx) -> dict:
    from rooms.summaries import summary_build

    m = ctx.meeting
    m.state = MeetingState.ENDED
    m.ended_at = timezone.now()
    m.timer_ends_at = None
    m.timer_remaining_ms = None
    ctx.touch("state", "ended_at", "timer_ends_at", "timer_remaining_ms")
    ctx.emit_meeting("meeting.ended")
    m.save(update_fields=sorted(ctx.dirty))
    summary_build(meeting=m)
    return {}


@meeting_command("meeting.settings")
def meeting_settings(ctx: Ctx, *, anonymity=None, vote_budget=None, hide_until_reveal=None):
    m = ctx.meeting
    if anonymity is not None:
        if anonymity not in Anonymity.values:
            raise Invalid(_("Unknown anonymity setting."), "anonymity")
        m.anonymity = anonymity
        ctx.touch("anonymity")
    if vote_budget is not None:
        m.vote_budget = vote_budget
        ctx.touch("vote_budget")
    if hide_until_reveal is not None:
        m.hide_until_reveal = hide_until_reveal
        ctx.touch("hide_until_reveal")
    ctx.emit_meeting("settings.changed")
    return {}


# --------------------------------------------------------------------------- phases and timer


def _active_challenge_ids(meeting: Meeting) -> list[int]:
    return list(
        meeting.challenges.filter(status=ChallengeStatus.ACTIVE)
        .order_by("position", "id")
        .values_list("id", flat=True)
    )


def _go(ctx: Ctx, phase: str, challenge_id: int | None) -> dict:
    m = ctx.meeting
    if phase not in phases.phases_for(m.format):
        raise Invalid(_("This phase does not exist in this format."), "phase")
    if m.format == "hot-seat" and phase in phases.HOT_SEAT_STEPS:
        ids = _active_challenge_ids(m)
        if challenge_id is None:
            challenge_id = m.active_challenge_id if m.active_challenge_id in ids else None
            challenge_id = challenge_id or (ids[0] if ids else None)
        if challenge_id is None:
            raise Conflict(_("Add a challenge to the agenda first."), "challenge_id")
        if challenge_id not in ids:
            raise NotFound(_("This challenge is not on the agenda."), "challenge_id")
    elif challenge_id is not None:
        _require_active(_challenge(ctx, challenge_id))
    m.phase = phase
    m.active_challenge_id = challenge_id
    m.timer_ends_at = None
    m.timer_remaining_ms = None
    ctx.touch("phase", "active_challenge", "timer_ends_at", "timer_remaining_ms")
    ctx.emit_meeting("phase.changed")
    return {"phase": phase, "challenge_id": challenge_id}


@meeting_command("phase.set")
def phase_set(ctx: Ctx, *, phase: str, challenge_id: int | None = None) -> dict:
    return _go(ctx, phase, challenge_id)


def _step(ctx: Ctx, delta: int) -> dict:
    m = ctx.meeting
    phase, challenge_id = phases.step(
        fmt=m.format,
        phase=m.phase,
        challenge_id=m.active_challenge_id,
        challenge_ids=_active_challenge_ids(m),
        delta=delta,
    )
    return _go(ctx, phase, challenge_id)


@meeting_command("phase.next")
def phase_next(ctx: Ctx) -> dict:
    return _step(ctx, +1)


@meeting_command("phase.prev")
def phase_prev(ctx: Ctx) -> dict:
    return _step(ctx, -1)


def _timer_changed(ctx: Ctx) -> dict:
    ctx.touch("timer_ends_at", "timer_remaining_ms")
    ctx.emit_meeting("timer.changed")
    m = ctx.meeting
    return {"ends_at": wire.iso(m.timer_ends_at), "remaining_ms": m.timer_remaining_ms}


@meeting_command("timer.start")
def timer_start(ctx: Ctx, *, seconds: int) -> dict:
    ctx.meeting.timer_ends_at = timezone.now() + dt.timedelta(seconds=seconds)
    ctx.meeting.timer_remaining_ms = None
    return _timer_changed(ctx)


@meeting_command("timer.pause")
def timer_pause(ctx: Ctx) -> dict:
    m = ctx.meeting
    if m.timer_ends_at is None:
        raise Conflict(_("The timer is not running."))
    left = m.timer_ends_at - timezone.now()
    m.timer_remaining_ms = max(0, int(left.total_seconds() * 1000))
    m.timer_ends_at = None
    return _timer_changed(ctx)


@meeting_command("timer.resume")
def timer_resume(ctx: Ctx) -> dict:
    m = ctx.meeting
    if m.timer_remaining_ms is None:
        raise Conflict(_("The timer is not paused."))
    m.timer_ends_at = timezone.now() + dt.timedelta(milliseconds=m.timer_remaining_ms)
    m.timer_remaining_ms = None
    return _timer_changed(ctx)


@meeting_command("timer.add")
def timer_add(ctx: Ctx, *, seconds: int) -> dict:
    m = ctx.meeting
    if m.timer_ends_at is not None:
        m.timer_ends_at = max(m.timer_ends_at, timezone.now()) + dt.timedelta(seconds=seconds)
    elif m.timer_remaining_ms is not None:
        m.timer_remaining_ms += seconds * 1000
    else:
        raise Conflict(_("The timer is not set."))
    return _timer_changed(ctx)


@meeting_command("timer.clear")
def timer_clear(ctx: Ctx) -> dict:
    ctx.meeting.timer_ends_at = None
    ctx.meeting.timer_remaining_ms = None
    return _timer_changed(ctx)


@meeting_command("board.lock")
def board_lock(ctx: Ctx, *, locked: bool) -> dict:
    ctx.meeting.locked = locked
    ctx.touch("locked")
    ctx.emit_meeting("board.locked")
    return {}


@meeting_command("idea.spotlight")
def idea_spotlight(ctx: Ctx, *, idea_id: int | None) -> dict:
    if idea_id is not None:
        idea = _idea(ctx, idea_id)
        if idea.hidden:
            raise Conflict(_("Reveal the ideas before putting one in the spotlight."), "idea_id")
    ctx.meeting.spotlight_idea_id = idea_id
    ctx.touch("spotlight_idea")
    ctx.emit_meeting("idea.spotlighted")
    return {}


# --------------------------------------------------------------------------- challenges


@meeting_command("challenge.post")
def challenge_post(ctx: Ctx, *, title: str, context: str = "", ask: str = "") -> dict:
    last = ctx.meeting.challenges.aggregate(p=Max("position"))["p"]
    c = Challenge.objects.create(
        meeting=ctx.meeting,
        owner=ctx.actor,
        title=title,
        context=context,
        ask=ask,
        position=0 if last is None else last + 1,
    )
    ctx.emit("challenge.posted", wire.challenge_data(c))
    return {"id": c.pk}


@meeting_command("challenge.edit")
def challenge_edit(ctx: Ctx, *, challenge_id: int, title=None, context=None, ask=None) -> dict:
    c = _challenge(ctx, challenge_id)
    _owner_or_facilitator(ctx, c.owner_id, _("Only its owner or a facilitator can edit it."))
    _require_active(c)
    changed = []
    for name, value in (("title", title), ("context", context), ("ask", ask)):
        if value is not None:
            setattr(c, name, value)
            changed.append(name)
    if not changed:
        raise Invalid(_("Nothing to change."))
    c.save(update_fields=changed)
    ctx.emit("challenge.edited", wire.challenge_data(c))
    return {"id": c.pk}


@meeting_command("challenge.withdraw")
def challenge_withdraw(ctx: Ctx, *, challenge_id: int) -> dict:
    c = _challenge(ctx, challenge_id)
    _owner_or_facilitator(ctx, c.owner_id, _("Only its owner or a facilitator can withdraw it."))
    _require_active(c)
    c.status = ChallengeStatus.WITHDRAWN
    c.save(update_fields=["status"])
    ctx.emit("challenge.withdrawn", wire.challenge_data(c))
    return {"id": c.pk}


@meeting_command("challenge.reorder")
def challenge_reorder(ctx: Ctx, *, challenge_ids: list[int]) -> dict:
    existing = set(ctx.meeting.challenges.values_list("id", flat=True))
    if len(set(challenge_ids)) != len(challenge_ids) or set(challenge_ids) != existing:
        raise Invalid(
            _("The new order must list every challenge of the meeting once."), "challenge_ids"
        )
    for position, cid in enumerate(challenge_ids):
        Challenge.objects.filter(pk=cid).update(position=position)
    ctx.emit("challenge.reordered", {"challenge_ids": list(challenge_ids)})
    return {}


# --------------------------------------------------------------------------- ideas


def _anonymous(ctx: Ctx, requested: bool) -> bool:
    if ctx.meeting.anonymity == Anonymity.ALWAYS:
        return True
    if ctx.meeting.anonymity == Anonymity.OFF:
        return False
    return requested


@meeting_command("idea.post", validates_first=True)
def idea_post(
    ctx: Ctx, *, challenge_id: int, text: str, kind: str = IdeaKind.IDEA, anonymous=False
) -> dict:
    c = _challenge(ctx, challenge_id)
    _require_active(c)
    m = ctx.meeting
    if m.format == "hot-seat" and m.active_challenge_id != c.pk:
        raise WrongPhase(_("Only the challenge in the hot seat takes ideas now."), "challenge_id")
    idea = ctx.insert(
        Idea(
            meeting=m,
            challenge=c,
            author=ctx.actor,
            kind=kind,
            text=text,
            anonymous=_anonymous(ctx, anonymous),
            hidden=m.hide_until_reveal and kind == IdeaKind.IDEA,
        )
    )
    ctx.emit("idea.posted", wire.idea_data(idea))
    return {"id": idea.pk}


@meeting_command("idea.edit")
def idea_edit(ctx: Ctx, *, idea_id: int, text: str) -> dict:
    idea = _idea(ctx, idea_id)
    _owner_or_facilitator(ctx, idea.author_id, _("Only its author or a facilitator can edit it."))
    idea.text = text
    idea.edited_at = timezone.now()
    idea.save(update_fields=["text", "edited_at"])
    ctx.emit("idea.edited", _idea_full(idea))
    return {"id": idea.pk}


@meeting_command("idea.delete")
def idea_delete(ctx: Ctx, *, idea_id: int) -> dict:
    idea = _idea(ctx, idea_id)
    _owner_or_facilitator(ctx, idea.author_id, _("Only its author or a facilitator can delete it."))
    if ctx.meeting.spotlight_idea_id == idea.pk:
        # The foreign key empties itself; say so, or clients keep a dangling spotlight.
        ctx.meeting.spotlight_idea_id = None
        ctx.touch("spotlight_idea")
        ctx.emit_meeting("idea.spotlighted")
    idea.delete()
    ctx.emit("idea.deleted", {"idea_id": idea_id})
    return {"id": idea_id}


@meeting_command("idea.remove")
def idea_remove(ctx: Ctx, *, idea_id: int, reason: str = "") -> dict:
    idea = _idea(ctx, idea_id)
    idea.removed = True
    idea.removed_reason = reason
    idea.save(update_fields=["removed", "removed_reason"])
    if ctx.meeting.spotlight_idea_id == idea.pk:
        ctx.meeting.spotlight_idea_id = None
        ctx.touch("spotlight_idea")
        ctx.emit_meeting("idea.spotlighted")
    ctx.emit("idea.removed", {"idea_id": idea.pk, "reason": reason, "author_id": idea.author_id})
    return {"id": idea.pk}


@meeting_command("ideas.reveal")
def ideas_reveal(ctx: Ctx, *, challenge_id: int) -> dict:
    c = _challenge(ctx, challenge_id)
    # A removed idea stays hidden: its text must not reach everyone with the reveal.
    hidden = list(
        Idea.objects.select_related("author").filter(challenge=c, hidden=True, removed=False)
    )
    if not hidden:
        raise Conflict(_("There is nothing hidden to reveal."), "challenge_id")
    Idea.objects.filter(pk__in=[i.pk for i in hidden]).update(hidden=False)
    ctx.emit(
        "ideas.revealed",
        {
            "challenge_id": c.pk,
            "ideas": [
                {
                    "id": i.pk,
                    "text": i.text,
                    "author": wire.author(i.author),
                    "anonymous": i.anonymous,
                }
                for i in hidden
            ],
        },
    )
    return {"revealed": len(hidden)}


@meeting_command("reply.post", validates_first=True)
def reply_post(ctx: Ctx, *, idea_id: int, text: str, anonymous: bool = False) -> dict:
    idea = _idea(ctx, idea_id)
    if idea.hidden:
        raise WrongPhase(_("Wait for the reveal to build on this idea."), "idea_id")
    reply = Reply.objects.create(
        idea=idea, author=ctx.actor, text=text, anonymous=_anonymous(ctx, anonymous)
    )
    ctx.emit("reply.posted", wire.reply_data(reply))
    return {"id": reply.pk}


# --------------------------------------------------------------------------- votes, reactions


@meeting_command("vote.cast", validates_first=True)
def vote_cast(ctx: Ctx, *, idea_id: int) -> dict:
    idea = _idea(ctx, idea_id)
    if idea.kind != IdeaKind.IDEA or idea.hidden:
        raise Conflict(_("Only revealed ideas take votes."), "idea_id")
    if Vote.objects.filter(idea=idea, participant=ctx.actor).exists():
        raise Conflict(_("You already voted for this idea."), "idea_id")
    used = Vote.objects.filter(participant=ctx.actor, challenge_id=idea.challenge_id).count()
    if used >= ctx.meeting.vote_budget:
        raise Conflict(
            ngettext(
                "You have used your vote for this challenge.",
                "You have used your %(budget)d votes for this challenge.",
                ctx.meeting.vote_budget,
            )
            % {"budget": ctx.meeting.vote_budget},
            "idea_id",
        )
    Vote.objects.create(idea=idea, participant=ctx.actor, challenge_id=idea.challenge_id)
    votes = Vote.objects.filter(idea=idea).count()
    ctx.emit("vote.cast", {"idea_id": idea.pk, "votes": votes})
    return {"votes": votes, "left": ctx.meeting.vote_budget - used - 1}


@meeting_command("vote.retract", validates_first=True)
def vote_retract(ctx: Ctx, *, idea_id: int) -> dict:
    idea = _idea(ctx, idea_id)
    deleted, _n = Vote.objects.filter(idea=idea, participant=ctx.actor).delete()
    if not deleted:
        raise Conflict(_("You have not voted for this idea."), "idea_id")
    votes = Vote.objects.filter(idea=idea).count()
    ctx.emit("vote.retracted", {"idea_id": idea.pk, "votes": votes})
    return {"votes": votes}


@meeting_command("reaction.toggle", validates_first=True)
def reaction_toggle(ctx: Ctx, *, idea_id: int, emoji: str) -> dict:
    if emoji not in EMOJIS:
        raise Invalid(_("This reaction is not available."), "emoji")
    idea = _idea(ctx, idea_id)
    deleted, _n = Reaction.objects.filter(idea=idea, participant=ctx.actor, emoji=emoji).delete()
    if not deleted:
        Reaction.objects.create(idea=idea, participant=ctx.actor, emoji=emoji)
    count = Reaction.objects.filter(idea=idea, emoji=emoji).count()
    ctx.emit(
        "reaction.toggled",
        {"idea_id": idea.pk, "emoji": emoji, "count": count, "on": not deleted},
    )
    return {"on": not deleted, "count": count}


# --------------------------------------------------------------------------- clusters


def _cluster(ctx: Ctx, cluster_id: int) -> Cluster:
    c = Cluster.objects.filter(pk=cluster_id, challenge__meeting=ctx.meeting).first()
    if c is None:
        raise NotFound(_("This theme does not exist."), "cluster_id")
    return c


@meeting_command("cluster.create")
def cluster_create(ctx: Ctx, *, challenge_id: int, name: str) -> dict:
    ch = _challenge(ctx, challenge_id)
    last = ch.clusters.aggregate(p=Max("position"))["p"]
    c = Cluster.objects.create(challenge=ch, name=name, position=0 if last is None else last + 1)
    ctx.emit("cluster.created", wire.cluster_data(c))
    return {"id": c.pk}


@meeting_command("cluster.rename")
def cluster_rename(ctx: Ctx, *, cluster_id: int, name: str) -> dict:
    c = _cluster(ctx, cluster_id)
    c.name = name
    c.save(update_fields=["name"])
    ctx.emit("cluster.renamed", wire.cluster_data(c))
    return {"id": c.pk}


@meeting_command("cluster.delete")
def cluster_delete(ctx: Ctx, *, cluster_id: int) -> dict:
    c = _cluster(ctx, cluster_id)
    c.delete()
    ctx.emit("cluster.deleted", {"cluster_id": cluster_id})
    return {"id": cluster_id}


@meeting_command("idea.move")
def idea_move(ctx: Ctx, *, idea_id: int, cluster_id: int | None) -> dict:
    idea = _idea(ctx, idea_id)
    if cluster_id is not None:
        c = _cluster(ctx, cluster_id)
        if c.challenge_id != idea.challenge_id:
            raise Conflict(_("This theme belongs to another challenge."), "cluster_id")
    idea.cluster_id = cluster_id
    idea.save(update_fields=["cluster"])
    ctx.emit("idea.moved", {"idea_id": idea.pk, "cluster_id": cluster_id})
    return {"id": idea.pk}


# --------------------------------------------------------------------------- moderation


def _participant(ctx: Ctx, participant_id: int) -> Participant:
    p = Participant.objects.filter(pk=participant_id, meeting=ctx.meeting).first()
    if p is None:
        raise NotFound(_("This participant is not in the meeting."), "participant_id")
    return p


def _participant_role(ctx: Ctx, p: Participant) -> str:
    try:
        return _role(ctx.meeting, p)
    except Forbidden:
        return "member"


@meeting_command("participant.mute")
def participant_mute(ctx: Ctx, *, participant_id: int, muted: bool) -> dict:
    p = _participant(ctx, participant_id)
    p.muted = muted
    p.save(update_fields=["muted"])
    ctx.emit("participant.updated", wire.participant_data(p, _participant_role(ctx, p)))
    return {"id": p.pk}


@meeting_command("participant.remove")
def participant_remove(ctx: Ctx, *, participant_id: int) -> dict:
    p = _participant(ctx, participant_id)
    if p.pk == ctx.actor.pk:
        raise Conflict(_("You cannot remove yourself."), "participant_id")
    role = _participant_role(ctx, p)
    if role in ("owner", "facilitator"):
        raise Forbidden(_("A facilitator cannot be removed from a meeting."), "participant_id")
    p.removed = True
    p.save(update_fields=["removed"])
    ctx.emit("participant.updated", wire.participant_data(p, role))
    return {"id": p.pk}


# --------------------------------------------------------------------------- actions, takeaways


@meeting_command("action.post")
def action_post(ctx: Ctx, *, challenge_id: int, text: str, due_date=None, idea_ids=()) -> dict:
    c = _challenge(ctx, challenge_id)
    _owner_or_facilitator(
        ctx, c.owner_id, _("Only the owner of the challenge or a facilitator writes its actions.")
    )
    ideas = list(Idea.objects.filter(pk__in=idea_ids, challenge=c, removed=False))
    if len(ideas) != len(set(idea_ids)):
        raise NotFound(_("Some of these ideas do not belong to this challenge."), "idea_ids")
    a = Action.objects.create(challenge=c, owner=c.owner, text=text, due_date=due_date)
    a.source_ideas.set(ideas)
    ctx.emit("action.posted", wire.action_data(a, sorted(i.pk for i in ideas)))
    return {"id": a.pk}


@meeting_command("action.status")
def action_status(ctx: Ctx, *, action_id: int, status: str, note: str = "") -> dict:
    a = (
        Action.objects.select_related("owner", "challenge__meeting")
        .filter(pk=action_id, challenge__meeting__room_id=ctx.meeting.room_id)
        .first()
    )
    if a is None:
        raise NotFound(_("This action does not exist."), "action_id")
    if status not in ActionStatus.values:
        raise Invalid(_("Unknown status."), "status")
    own = ctx.actor.user_id is not None and a.owner.user_id == ctx.actor.user_id
    if not (own or ctx.facilitator):
        raise Forbidden(_("Only the owner of the action can update it."))
    a.status = status
    a.status_note = note
    a.updated_at = timezone.now()
    a.save(update_fields=["status", "status_note", "updated_at"])
    ctx.emit("action.updated", wire.action_data(a))
    return {"id": a.pk}


@meeting_command("takeaway.post")
def takeaway_post(ctx: Ctx, *, text: str, anonymous: bool = False) -> dict:
    t = Takeaway.objects.create(
        meeting=ctx.meeting, author=ctx.actor, text=text, anonymous=_anonymous(ctx, anonymous)
    )
    ctx.emit("takeaway.posted", wire.takeaway_data(t))
    return {"id": t.pk}


# --------------------------------------------------------------------------- dispatch

SERVICES: dict[str, Callable[..., Outcome]] = {
    fn.command: fn  # type: ignore[attr-defined]
    for fn in (
        meeting_start,
        meeting_end,
        meeting_settings,
        phase_set,
        phase_next,
        phase_prev,
        timer_start,
        timer_pause,
        timer_resume,
        timer_add,
        timer_clear,
        board_lock,
        idea_spotlight,
        challenge_post,
        challenge_edit,
        challenge_withdraw,
        challenge_reorder,
        idea_post,
        idea_edit,
        idea_delete,
        idea_remove,
        ideas_reveal,
        reply_post,
        vote_cast,
        vote_retract,
        reaction_toggle,
        cluster_create,
        cluster_rename,
        cluster_delete,
        idea_move,
        participant_mute,
        participant_remove,
        action_post,
        action_status,
        takeaway_post,
    )
}


def command_call(*, actor: Participant, command, lang: str | None = None) -> Call:
    """The ``Call`` of a validated protocol command, to run with ``run_calls``."""
    fields = command.model_dump(exclude={"type", "ref"})
    return SERVICES[command.type].call(actor=actor, ref=command.ref, lang=lang, **fields)


def command_execute(*, actor: Participant, command) -> Outcome:
    """Run a validated protocol command (``rooms.protocol.Command``) as ``actor``."""
    fields = command.model_dump(exclude={"type", "ref"})
    return SERVICES[command.type](actor=actor, ref=command.ref, **fields)
