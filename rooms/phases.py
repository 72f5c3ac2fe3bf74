"""Formats and phases as data: what each phase lets participants do.

The services ask ``check(...)`` before every write, so a phase is a rule the server
enforces, not a label. Facilitator commands are allowed in every phase of a live meeting;
participant commands only where the table below lists them.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from rooms.errors import Forbidden, WrongPhase

OPEN_PHASES = ("lobby", "ideas", "vote", "wrapup")
HOT_SEAT_STEPS = ("present", "clarify", "ask", "ideas", "vote", "plan")
HOT_SEAT_PHASES = ("lobby", *HOT_SEAT_STEPS, "takeaways")

# Commands only facilitators (room owner or facilitator) may send.
FACILITATOR_COMMANDS = frozenset(
    {
        "meeting.start",
        "meeting.end",
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
        "meeting.settings",
        "challenge.reorder",
        "cluster.create",
        "cluster.rename",
        "cluster.delete",
        "idea.move",
    }
)
# Facilitator commands that also work before the meeting starts.
BEFORE_START = frozenset(
    {
        "meeting.start",
        "meeting.settings",
        "challenge.reorder",
        "challenge.post",
        "challenge.edit",
        "challenge.withdraw",
    }
)
# Commands a guest (no account, one meeting) may never send.
NOT_FOR_GUESTS = frozenset({"challenge.post", "challenge.edit", "challenge.withdraw"})
# Commands a muted participant may still send.
ALLOWED_WHEN_MUTED = frozenset({"vote.cast", "vote.retract", "reaction.toggle"})

_ideas_any = frozenset({"idea.post:idea", "idea.post:question"})
_agenda = frozenset({"challenge.post", "challenge.edit", "challenge.withdraw"})
_own_ideas = frozenset({"idea.edit", "idea.delete"})

# (format, phase) → what participants may do. "idea.post:question" means: only questions.
PARTICIPANT_RULES: dict[tuple[str, str], frozenset[str]] = {
    ("open", "lobby"): _agenda | {"reaction.toggle", "action.status"},
    ("open", "ideas"): _agenda
    | _ideas_any
    | _own_ideas
    | {"reply.post", "reaction.toggle", "action.status"},
    ("open", "vote"): frozenset({"vote.cast", "vote.retract", "reaction.toggle"}),
    ("open", "wrapup"): frozenset(
        {"action.post", "action.status", "takeaway.post", "reaction.toggle"}
    ),
    ("hot-seat", "lobby"): _agenda | {"reaction.toggle", "action.status"},
    ("hot-seat", "present"): frozenset({"reaction.toggle", "challenge.edit"}),
    ("hot-seat", "clarify"): frozenset(
        {"idea.post:question", "reply.post", "reaction.toggle"} | _own_ideas
    ),
    ("hot-seat", "ask"): frozenset({"challenge.edit", "reaction.toggle", "reply.post"}),
    ("hot-seat", "ideas"): frozenset({"idea.post:idea", "reply.post", "reaction.toggle"})
    | _own_ideas,
    ("hot-seat", "vote"): frozenset({"vote.cast", "vote.retract", "reaction.toggle"}),
    ("hot-seat", "plan"): frozenset({"action.post", "reaction.toggle", "reply.post"}),
    ("hot-seat", "takeaways"): frozenset({"takeaway.post", "reaction.toggle", "action.status"}),
}

PHASE_LABELS = {
    "lobby": gettext_lazy("Welcome and agenda"),
    "ideas": gettext_lazy("Ideas"),
    "vote": gettext_lazy("Vote"),
    "wrapup": gettext_lazy("Wrap-up"),
    "present": gettext_lazy("The challenge is presented"),
    "clarify": gettext_lazy("Clarifying questions"),
    "ask": gettext_lazy("The help wanted"),
    "plan": gettext_lazy("Action plan"),
    "takeaways": gettext_lazy("Takeaways"),
}
ACTION_LABELS = {
    "challenge.post": gettext_lazy("propose a challenge"),
    "challenge.edit": gettext_lazy("edit a challenge"),
    "challenge.withdraw": gettext_lazy("withdraw a challenge"),
    "idea.post:idea": gettext_lazy("post ideas"),
    "idea.post:question": gettext_lazy("ask questions"),
    "idea.edit": gettext_lazy("edit your posts"),
    "idea.delete": gettext_lazy("delete your posts"),
    "reply.post": pgettext_lazy("what you can do", "reply"),
    "reaction.toggle": gettext_lazy("react"),
    "vote.cast": pgettext_lazy("what you can do", "vote"),
    "vote.retract": gettext_lazy("take back a vote"),
    "action.post": gettext_lazy("write actions"),
    "action.status": gettext_lazy("update your actions"),
    "takeaway.post": gettext_lazy("share a takeaway"),
}


def phases_for(fmt: str) -> tuple[str, ...]:
    return HOT_SEAT_PHASES if fmt == "hot-seat" else OPEN_PHASES


def allowed_now(fmt: str, phase: str) -> frozenset[str]:
    return PARTICIPANT_RULES.get((fmt, phase), frozenset())


def describe(fmt: str, phase: str) -> str:
    """A sentence saying what a phase allows, for the ``wrong_phase`` error."""
    allowed = sorted(allowed_now(fmt, phase) - {"vote.retract", "idea.delete"})
    things = ", ".join(str(ACTION_LABELS[a]) for a in allowed if a in ACTION_LABELS)
    return _("In the “%(phase)s” phase you can: %(things)s.") % {
        "phase": PHASE_LABELS.get(phase, phase),
        "things": things or _("only listen"),
    }


def check(
    *,
    fmt: str,
    state: str,
    phase: str,
    locked: bool,
    role: str,
    muted: bool,
    command: str,
    kind: str | None = None,
) -> None:
    """Raise the domain error that forbids ``command`` now, or return if it is allowed.

    ``role`` is ``owner``, ``facilitator``, ``member`` or ``guest``. Object-level rights
    (author of an idea, owner of a challenge) are checked by the service itself.
    """
    facilitator = role in ("owner", "facilitator")
    if state == "ended":
        raise WrongPhase(_("The meeting has ended."))
    if command in FACILITATOR_COMMANDS:
        if not facilitator:
            raise Forbidden(_("Only the facilitators can do this."))
        if state == "scheduled" and command not in BEFORE_START:
            raise WrongPhase(_("The meeting has not started yet."))
        if state == "live" and command == "meeting.start":
            raise WrongPhase(_("The meeting has already started."))
        return
    if role == "guest" and command in NOT_FOR_GUESTS:
        raise Forbidden(_("Guests can post ideas, questions, votes and reactions only."))
    if muted and command not in ALLOWED_WHEN_MUTED:
        raise Forbidden(_("A facilitator has muted you for this meeting."))
    if state == "scheduled":
        if command in BEFORE_START:
            return
        raise WrongPhase(_("The meeting has not started yet."))
    if locked and not facilitator:
        raise WrongPhase(_("A facilitator has locked the board for now."))
    key = f"{command}:{kind}" if command == "idea.post" else command
    if key not in allowed_now(fmt, phase):
        raise WrongPhase(describe(fmt, phase))


def hot_seat_sequence(challenge_ids: list[int]) -> list[tuple[str, int | None]]:
    """Every (phase, challenge) position of a hot-seat meeting, in order."""
    seq: list[tuple[str, int | None]] = [("lobby", None)]
    for cid in challenge_ids:
        seq.extend((step, cid) for step in HOT_SEAT_STEPS)
    seq.append(("takeaways", None))
    return seq


def step(
    *, fmt: str, phase: str, challenge_id: int | None, challenge_ids: list[int], delta: int
) -> tuple[str, int | None]:
    """The phase (and challenge in the hot seat) ``delta`` steps from the current one."""
    if fmt != "hot-seat":
        i = OPEN_PHASES.index(phase) if phase in OPEN_PHASES else 0
        i = max(0, min(len(OPEN_PHASES) - 1, i + delta))
        return OPEN_PHASES[i], challenge_id
    sequence = hot_seat_sequence(challenge_ids)
    here = (phase, challenge_id if phase in HOT_SEAT_STEPS else None)
    i = sequence.index(here) if here in sequence else 0
    i = max(0, min(len(sequence) - 1, i + delta))
    return sequence[i]
