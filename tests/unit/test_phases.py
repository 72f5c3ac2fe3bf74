"""Phases as data: the order of a meeting, moving through it, and what each phase says."""

import pytest
from django.utils import translation

from rooms import phases
from rooms.errors import Forbidden, WrongPhase


def test_open_format_order():
    """An open brainstorm goes lobby → ideas → vote → wrap-up."""
    assert phases.phases_for("open") == ("lobby", "ideas", "vote", "wrapup")


def test_hot_seat_sequence_repeats_the_steps_for_each_challenge_then_takeaways():
    """The codéveloppement steps run once per challenge on the agenda, then takeaways."""
    steps = ["present", "clarify", "ask", "ideas", "vote", "plan"]
    assert phases.hot_seat_sequence([7, 9]) == [
        ("lobby", None),
        *[(s, 7) for s in steps],
        *[(s, 9) for s in steps],
        ("takeaways", None),
    ]
    assert phases.hot_seat_sequence([]) == [("lobby", None), ("takeaways", None)]


@pytest.mark.parametrize(
    ("phase", "challenge", "delta", "expected"),
    [
        ("lobby", None, +1, ("present", 7)),
        ("plan", 7, +1, ("present", 9)),
        ("present", 9, -1, ("plan", 7)),
        ("plan", 9, +1, ("takeaways", None)),
        ("takeaways", None, +1, ("takeaways", None)),
        ("lobby", None, -1, ("lobby", None)),
        ("takeaways", None, -1, ("plan", 9)),
    ],
)
def test_hot_seat_step_moves_across_challenges_and_stops_at_the_ends(
    phase, challenge, delta, expected
):
    """Next after a challenge's plan is the next challenge's presentation; the ends hold."""
    assert (
        phases.step(
            fmt="hot-seat", phase=phase, challenge_id=challenge, challenge_ids=[7, 9], delta=delta
        )
        == expected
    )


@pytest.mark.parametrize(
    ("phase", "delta", "expected"),
    [("lobby", 1, "ideas"), ("wrapup", 1, "wrapup"), ("lobby", -1, "lobby"), ("vote", -1, "ideas")],
)
def test_open_step_stays_within_the_format(phase, delta, expected):
    """Open format steps clamp at lobby and wrap-up."""
    assert phases.step(fmt="open", phase=phase, challenge_id=None, challenge_ids=[], delta=delta)[
        0
    ] == (expected)


def _check(**over):
    args = {
        "fmt": "open",
        "state": "live",
        "phase": "ideas",
        "locked": False,
        "role": "member",
        "muted": False,
        "command": "idea.post",
        "kind": "idea",
    }
    args.update(over)
    phases.check(**args)


def test_check_order_of_refusals():
    """An ended meeting refuses everything as wrong_phase; a guest's agenda command is
    forbidden whatever the phase; a muted member is forbidden before the phase is asked."""
    with pytest.raises(WrongPhase):
        _check(state="ended", role="owner", command="phase.next")
    with pytest.raises(Forbidden):
        _check(role="guest", command="challenge.post", phase="vote")
    with pytest.raises(Forbidden):
        _check(muted=True, phase="vote")
    _check(muted=True, phase="vote", command="vote.cast")
    with pytest.raises(WrongPhase):
        _check(locked=True)
    _check(locked=True, role="facilitator")


def test_wrong_phase_message_says_what_the_phase_allows():
    """The error a participant gets names the phase and the things it allows, in the
    participant's language."""
    with translation.override("en"), pytest.raises(WrongPhase) as e:
        _check(fmt="hot-seat", phase="clarify", kind="idea")
    assert "ask questions" in str(e.value)
    assert "post ideas" not in str(e.value)
    with translation.override("fr"), pytest.raises(WrongPhase) as e:
        _check(fmt="open", phase="vote", command="reply.post")
    assert e.value.code == "wrong_phase"
    assert "voter" in str(e.value)


def test_every_rule_names_only_known_actions():
    """Every entry of the rule table is a command the describe() sentence can name."""
    for key, allowed in phases.PARTICIPANT_RULES.items():
        assert key[1] in phases.phases_for(key[0])
        for action in allowed:
            assert action in phases.ACTION_LABELS, (key, action)
