"""Every command × every role × every phase of both formats: allowed, or the exact error.

The expected outcome comes from the tables below, written from the product rules
(issue 5, DESIGN.md section 2), not from ``rooms.phases``: when a rule changes on one
side only, this test names every cell that moved. Each command runs inside a savepoint
that is rolled back, so all of them start from the same state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.utils import timezone

from rooms.errors import DomainError
from rooms.models import Action, Challenge, Cluster, Idea, Meeting, Vote
from rooms.services import meetings
from tests.unit.meeting_cast import ROLES, Cast, build_cast

FACILITATORS = {"owner", "facilitator"}
AGENDA = {"challenge.post", "challenge.edit", "challenge.withdraw"}
OWN_POSTS = {"idea.edit:own", "idea.delete:own", "idea.edit:other", "idea.delete:other"}
VOTE = {"vote.cast", "vote.retract"}

# What participants may do in each phase (facilitators included, for these commands).
ALLOWED = {
    ("open", "lobby"): AGENDA | {"reaction.toggle", "action.status"},
    ("open", "ideas"): AGENDA
    | OWN_POSTS
    | {"idea.post:idea", "idea.post:question", "reply.post", "reaction.toggle", "action.status"},
    ("open", "vote"): VOTE | {"reaction.toggle"},
    ("open", "wrapup"): {"action.post", "action.status", "takeaway.post", "reaction.toggle"},
    ("hot-seat", "lobby"): AGENDA | {"reaction.toggle", "action.status"},
    # The owner presents; the others may only react.
    ("hot-seat", "present"): {"challenge.edit", "reaction.toggle"},
    # Clarifying questions only.
    ("hot-seat", "clarify"): OWN_POSTS | {"idea.post:question", "reply.post", "reaction.toggle"},
    # The owner states the help wanted.
    ("hot-seat", "ask"): {"challenge.edit", "reply.post", "reaction.toggle"},
    ("hot-seat", "ideas"): OWN_POSTS | {"idea.post:idea", "reply.post", "reaction.toggle"},
    ("hot-seat", "vote"): VOTE | {"reaction.toggle"},
    ("hot-seat", "plan"): {"action.post", "reply.post", "reaction.toggle"},
    ("hot-seat", "takeaways"): {"takeaway.post", "reaction.toggle", "action.status"},
}
# Commands for facilitators only, and those of them that also work before the start.
FACILITATOR_ONLY = {
    "meeting.start",
    "meeting.end",
    "meeting.settings",
    "phase.set",
    "phase.next",
    "phase.prev",
    "timer.start",
    "timer.pause",
    "timer.resume",
    "timer.add",
    "timer.clear",
    "ideas.reveal",
    "board.lock",
    "idea.remove",
    "idea.spotlight",
    "participant.mute",
    "participant.remove",
    "challenge.reorder",
    "cluster.create",
    "cluster.rename",
    "cluster.delete",
    "idea.move",
}
BEFORE_START_FACILITATOR = {"meeting.start", "meeting.settings", "challenge.reorder"}
# Object-level rights: who, besides nobody else, may act on the target of the command.
OBJECT_RIGHTS = {
    "challenge.edit": FACILITATORS | {"challenge_owner"},
    "challenge.withdraw": FACILITATORS | {"challenge_owner"},
    "idea.edit:other": FACILITATORS,
    "idea.delete:other": FACILITATORS,
    "action.post": FACILITATORS | {"challenge_owner"},
    "action.status": FACILITATORS | {"challenge_owner"},
}
MUTED_MAY = {"vote.cast", "vote.retract", "reaction.toggle"}


def expected(role: str, fmt: str, state: str, phase: str, locked: bool, variant: str) -> str:
    """The outcome the rules promise: ``ok`` or an error code."""
    command = variant.split(":")[0]
    if role in ("non_member", "removed"):
        return "forbidden"
    if state == "ended":
        return "wrong_phase"
    if variant in FACILITATOR_ONLY:
        if role not in FACILITATORS:
            return "forbidden"
        if state == "scheduled":
            return "ok" if variant in BEFORE_START_FACILITATOR else "wrong_phase"
        return "wrong_phase" if variant == "meeting.start" else "ok"
    if role == "guest" and command in AGENDA:
        return "forbidden"
    if role == "muted" and command not in MUTED_MAY:
        return "forbidden"
    if state == "scheduled":
        if command not in AGENDA:
            return "wrong_phase"
    else:
        if locked and role not in FACILITATORS:
            return "wrong_phase"
        if variant not in ALLOWED[(fmt, phase)]:
            return "wrong_phase"
    if variant in OBJECT_RIGHTS and role not in OBJECT_RIGHTS[variant]:
        return "forbidden"
    return "ok"


@dataclass
class Board:
    cast: Cast
    challenge: Challenge
    idea: Idea  # by "other", visible
    hidden: Idea  # by "other", hidden until reveal
    own: dict[str, Idea]
    cluster: Cluster
    action: Action


def _running_timer(m: Meeting) -> None:
    Meeting.objects.filter(pk=m.pk).update(
        timer_ends_at=timezone.now() + dt.timedelta(minutes=5), timer_remaining_ms=None
    )


def _paused_timer(b: Board, role: str) -> None:
    Meeting.objects.filter(pk=b.cast.meeting.pk).update(
        timer_ends_at=None, timer_remaining_ms=60_000
    )


def _voted(b: Board, role: str) -> None:
    Vote.objects.create(idea=b.idea, participant=b.cast[role], challenge=b.challenge)


# variant → (service, arguments for the acting role, optional setup)
VARIANTS = {
    "meeting.start": ("meeting.start", lambda b, r: {}, None),
    "meeting.end": ("meeting.end", lambda b, r: {}, None),
    "meeting.settings": (
        "meeting.settings",
        lambda b, r: {"anonymity": "always", "vote_budget": 5, "hide_until_reveal": True},
        None,
    ),
    "phase.set": (
        "phase.set",
        lambda b, r: {"phase": "vote" if b.cast.meeting.format == "open" else "ideas"},
        None,
    ),
    "phase.next": ("phase.next", lambda b, r: {}, None),
    "phase.prev": ("phase.prev", lambda b, r: {}, None),
    "timer.start": ("timer.start", lambda b, r: {"seconds": 120}, None),
    "timer.pause": ("timer.pause", lambda b, r: {}, None),
    "timer.resume": ("timer.resume", lambda b, r: {}, _paused_timer),
    "timer.add": ("timer.add", lambda b, r: {"seconds": 60}, None),
    "timer.clear": ("timer.clear", lambda b, r: {}, None),
    "ideas.reveal": ("ideas.reveal", lambda b, r: {"challenge_id": b.challenge.pk}, None),
    "board.lock": ("board.lock", lambda b, r: {"locked": True}, None),
    "idea.remove": (
        "idea.remove",
        lambda b, r: {"idea_id": b.idea.pk, "reason": "off topic"},
        None,
    ),
    "idea.spotlight": ("idea.spotlight", lambda b, r: {"idea_id": b.idea.pk}, None),
    "participant.mute": (
        "participant.mute",
        lambda b, r: {"participant_id": b.cast["other"].pk, "muted": True},
        None,
    ),
    "participant.remove": (
        "participant.remove",
        lambda b, r: {"participant_id": b.cast["other"].pk},
        None,
    ),
    "challenge.reorder": (
        "challenge.reorder",
        lambda b, r: {"challenge_ids": [b.challenge.pk]},
        None,
    ),
    "cluster.create": (
        "cluster.create",
        lambda b, r: {"challenge_id": b.challenge.pk, "name": "Prix"},
        None,
    ),
    "cluster.rename": (
        "cluster.rename",
        lambda b, r: {"cluster_id": b.cluster.pk, "name": "Tarifs"},
        None,
    ),
    "cluster.delete": ("cluster.delete", lambda b, r: {"cluster_id": b.cluster.pk}, None),
    "idea.move": (
        "idea.move",
        lambda b, r: {"idea_id": b.idea.pk, "cluster_id": b.cluster.pk},
        None,
    ),
    "challenge.post": ("challenge.post", lambda b, r: {"title": "Trouver des clientes"}, None),
    "challenge.edit": (
        "challenge.edit",
        lambda b, r: {"challenge_id": b.challenge.pk, "ask": "Des idées de prix"},
        None,
    ),
    "challenge.withdraw": (
        "challenge.withdraw",
        lambda b, r: {"challenge_id": b.challenge.pk},
        None,
    ),
    "idea.post:idea": (
        "idea.post",
        lambda b, r: {"challenge_id": b.challenge.pk, "text": "Une idée", "kind": "idea"},
        None,
    ),
    "idea.post:question": (
        "idea.post",
        lambda b, r: {"challenge_id": b.challenge.pk, "text": "Combien ?", "kind": "question"},
        None,
    ),
    "idea.edit:own": ("idea.edit", lambda b, r: {"idea_id": b.own[r].pk, "text": "Mieux"}, None),
    "idea.edit:other": ("idea.edit", lambda b, r: {"idea_id": b.idea.pk, "text": "Mieux"}, None),
    "idea.delete:own": ("idea.delete", lambda b, r: {"idea_id": b.own[r].pk}, None),
    "idea.delete:other": ("idea.delete", lambda b, r: {"idea_id": b.idea.pk}, None),
    "reply.post": ("reply.post", lambda b, r: {"idea_id": b.idea.pk, "text": "Oui, et…"}, None),
    "vote.cast": ("vote.cast", lambda b, r: {"idea_id": b.idea.pk}, None),
    "vote.retract": ("vote.retract", lambda b, r: {"idea_id": b.idea.pk}, _voted),
    "reaction.toggle": (
        "reaction.toggle",
        lambda b, r: {"idea_id": b.idea.pk, "emoji": "💡"},
        None,
    ),
    "action.post": (
        "action.post",
        lambda b, r: {"challenge_id": b.challenge.pk, "text": "Appeler trois clientes"},
        None,
    ),
    "action.status": (
        "action.status",
        lambda b, r: {"action_id": b.action.pk, "status": "done", "note": "fait"},
        None,
    ),
    "takeaway.post": ("takeaway.post", lambda b, r: {"text": "Oser"}, None),
}

SITUATIONS = [
    # (format, state, phase, locked)
    ("open", "scheduled", "lobby", False),
    ("open", "live", "lobby", False),
    ("open", "live", "ideas", False),
    ("open", "live", "vote", False),
    ("open", "live", "wrapup", False),
    ("open", "live", "ideas", True),
    ("open", "ended", "wrapup", False),
    ("hot-seat", "scheduled", "lobby", False),
    ("hot-seat", "live", "lobby", False),
    ("hot-seat", "live", "present", False),
    ("hot-seat", "live", "clarify", False),
    ("hot-seat", "live", "ask", False),
    ("hot-seat", "live", "ideas", False),
    ("hot-seat", "live", "vote", False),
    ("hot-seat", "live", "plan", False),
    ("hot-seat", "live", "takeaways", False),
    ("hot-seat", "live", "ideas", True),
    ("hot-seat", "ended", "takeaways", False),
]


def test_the_tables_cover_every_command_and_phase():
    """A new command or phase cannot slip past this matrix."""
    from rooms import phases
    from rooms.protocol import COMMAND_TYPES

    assert {v.split(":")[0] for v in VARIANTS} == set(COMMAND_TYPES)
    assert {(f, p) for f, _s, p, _l in SITUATIONS if _s == "live"} == {
        (f, p) for f in ("open", "hot-seat") for p in phases.phases_for(f)
    }
    assert set(ALLOWED) == set(phases.PARTICIPANT_RULES)


def _board(cast: Cast, fmt: str, state: str, phase: str, locked: bool) -> Board:
    m = cast.meeting
    challenge = Challenge.objects.create(
        meeting=m, owner=cast["challenge_owner"], title="Fixer mes prix", position=0
    )
    idea = Idea.objects.create(meeting=m, challenge=challenge, author=cast["other"], text="10 %")
    hidden = Idea.objects.create(
        meeting=m, challenge=challenge, author=cast["other"], text="secret", hidden=True
    )
    own = {
        role: Idea.objects.create(
            meeting=m, challenge=challenge, author=cast[role], text=f"by {role}"
        )
        for role in ROLES
    }
    cluster = Cluster.objects.create(challenge=challenge, name="Thème")
    action = Action.objects.create(challenge=challenge, owner=cast["challenge_owner"], text="Go")
    step = fmt == "hot-seat" and phase not in ("lobby", "takeaways")
    Meeting.objects.filter(pk=m.pk).update(
        state=state,
        phase=phase,
        locked=locked,
        active_challenge=challenge if step else None,
        started_at=None if state == "scheduled" else timezone.now(),
    )
    _running_timer(m)
    cast.refresh()
    return Board(cast, challenge, idea, hidden, own, cluster, action)


def _attempt(b: Board, role: str, variant: str) -> str:
    name, args, setup = VARIANTS[variant]
    with transaction.atomic():
        try:
            if setup is not None:
                setup(b, role)
            meetings.SERVICES[name](actor=b.cast[role], **args(b, role))
            outcome = "ok"
        except DomainError as e:
            outcome = e.code
        transaction.set_rollback(True)
    return outcome


@pytest.mark.parametrize(
    ("fmt", "state", "phase", "locked"),
    SITUATIONS,
    ids=[f"{f}-{s}-{p}{'-locked' if lk else ''}" for f, s, p, lk in SITUATIONS],
)
def test_every_command_for_every_role(fmt, state, phase, locked, meeting_factory, member_factory):
    """Each role gets exactly the outcome the rules promise for each command here."""
    cast = build_cast(meeting_factory=meeting_factory, member_factory=member_factory, fmt=fmt)
    board = _board(cast, fmt, state, phase, locked)
    wrong = []
    allowed = 0
    for role in ROLES:
        for variant in VARIANTS:
            want = expected(role, fmt, state, phase, locked, variant)
            got = _attempt(board, role, variant)
            allowed += got == "ok"
            if got != want:
                wrong.append(f"{role:>15} {variant:<20} expected {want:<11} got {got}")
    assert wrong == [], "\n" + "\n".join(wrong)
    if state == "live":
        assert allowed > 0
