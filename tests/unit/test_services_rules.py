"""Facilitation rules of the meeting services: idempotency, votes, timer, moderation,
clusters, actions and takeaways (plain pytest-django, no sockets)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from rooms import selectors, services
from rooms.errors import Conflict, Forbidden, Invalid, NotFound, WrongPhase
from rooms.models import (
    Action,
    Challenge,
    Cluster,
    CommandReceipt,
    Idea,
    Meeting,
    MeetingEvent,
    Participant,
    Vote,
)
from tests.unit.meeting_cast import build_cast

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(meeting_factory, member_factory):
    """A started open meeting in its ideas phase with a challenge by its challenge owner."""
    cast = build_cast(meeting_factory=meeting_factory, member_factory=member_factory)
    fac = cast["facilitator"]
    services.meeting_start(actor=fac)
    services.phase_set(actor=fac, phase="ideas")
    cid = services.challenge_post(actor=cast["challenge_owner"], title="Prix").result["id"]
    cast.challenge = Challenge.objects.get(pk=cid)
    return cast


def _idea(cast, who="member", text="Une idée", **kw):
    return services.idea_post(
        actor=cast[who], challenge_id=cast.challenge.pk, text=text, **kw
    ).result["id"]


# --------------------------------------------------------------------------- idempotency


def test_the_same_ref_twice_gives_the_same_outcome_and_one_row(live):
    """A retried command is answered from its receipt: same seq and result, no new row."""
    first = services.idea_post(
        actor=live["member"], ref="c-1", challenge_id=live.challenge.pk, text="Une"
    )
    again = services.idea_post(
        actor=live["member"], ref="c-1", challenge_id=live.challenge.pk, text="Une"
    )
    assert (again.seq, again.result) == (first.seq, first.result)
    assert (first.replayed, again.replayed) == (False, True)
    assert Idea.objects.filter(author=live["member"]).count() == 1
    assert CommandReceipt.objects.filter(participant=live["member"], ref="c-1").count() == 1
    assert MeetingEvent.objects.filter(meeting=live.meeting, name="idea.posted").count() == 1


def test_a_ref_belongs_to_one_participant(live):
    """Two participants may use the same ref: each gets their own row."""
    a = services.idea_post(actor=live["member"], ref="x", challenge_id=live.challenge.pk, text="1")
    b = services.idea_post(actor=live["guest"], ref="x", challenge_id=live.challenge.pk, text="2")
    assert a.result["id"] != b.result["id"]
    assert a.seq != b.seq


def test_a_refused_command_is_not_recorded_so_its_retry_runs_again(live):
    """An error writes nothing, its receipt included: the same ref later runs for real."""
    services.phase_set(actor=live["facilitator"], phase="vote")
    with pytest.raises(WrongPhase):
        services.idea_post(actor=live["member"], ref="r", challenge_id=live.challenge.pk, text="1")
    assert not CommandReceipt.objects.filter(participant=live["member"]).exists()
    services.phase_set(actor=live["facilitator"], phase="ideas")
    done = services.idea_post(
        actor=live["member"], ref="r", challenge_id=live.challenge.pk, text="1"
    )
    assert not done.replayed and done.result["id"]


def test_receipts_are_unique_in_the_database(live):
    """The (participant, ref) constraint backs the rule where two sockets race."""
    CommandReceipt.objects.create(participant=live["member"], ref="dup", result={})
    with pytest.raises(IntegrityError), transaction.atomic():
        CommandReceipt.objects.create(participant=live["member"], ref="dup", result={})


# --------------------------------------------------------------------------- votes


def test_vote_budget_is_per_participant_per_challenge(live):
    """With a budget of 2, a third vote on the same challenge is refused; retracting frees
    a vote; another challenge has its own budget; one vote per idea; no vote on questions."""
    fac, member = live["facilitator"], live["member"]
    services.meeting_settings(actor=fac, vote_budget=2)
    ideas = [_idea(live, "other", f"idée {n}") for n in range(3)]
    other = services.challenge_post(actor=live["challenge_owner"], title="Autre").result["id"]
    elsewhere = services.idea_post(actor=live["other"], challenge_id=other, text="z").result["id"]
    question = _idea(live, "other", "pourquoi ?", kind="question")
    services.phase_set(actor=fac, phase="vote")

    assert services.vote_cast(actor=member, idea_id=ideas[0]).result == {"votes": 1, "left": 1}
    with pytest.raises(Conflict) as e:
        services.vote_cast(actor=member, idea_id=ideas[0])
    assert e.value.field == "idea_id"
    assert services.vote_cast(actor=member, idea_id=ideas[1]).result["left"] == 0
    with pytest.raises(Conflict):
        services.vote_cast(actor=member, idea_id=ideas[2])
    services.vote_cast(actor=member, idea_id=elsewhere)
    with pytest.raises(Conflict):
        services.vote_cast(actor=member, idea_id=question)
    services.vote_retract(actor=member, idea_id=ideas[0])
    services.vote_cast(actor=member, idea_id=ideas[2])
    with pytest.raises(Conflict):
        services.vote_retract(actor=member, idea_id=ideas[0])
    mine = Vote.objects.filter(participant=member, challenge=live.challenge).count()
    assert mine == 2


def test_a_budget_of_zero_allows_no_vote(live):
    """The facilitator can close voting for everyone by setting the budget to 0."""
    idea = _idea(live, "other")
    services.meeting_settings(actor=live["facilitator"], vote_budget=0)
    services.phase_set(actor=live["facilitator"], phase="vote")
    with pytest.raises(Conflict):
        services.vote_cast(actor=live["member"], idea_id=idea)


# --------------------------------------------------------------------------- timer


def _timer(cast):
    m = Meeting.objects.get(pk=cast.meeting.pk)
    return m.timer_ends_at, m.timer_remaining_ms


def test_timer_start_pause_add_resume_clear(live):
    """The timer is server state: running has an end time, paused keeps the time left,
    adding time moves either, clearing empties both; a phase change clears it."""
    fac = live["facilitator"]
    t0 = timezone.now()
    result = services.timer_start(actor=fac, seconds=120).result
    ends, left = _timer(live)
    assert left is None
    assert abs((ends - t0).total_seconds() - 120) < 2
    assert result["ends_at"].endswith("Z")

    services.timer_add(actor=fac, seconds=30)
    assert abs((_timer(live)[0] - ends).total_seconds() - 30) < 0.01

    services.timer_pause(actor=fac)
    ends, left = _timer(live)
    assert ends is None and 148_000 <= left <= 150_000
    with pytest.raises(Conflict):
        services.timer_pause(actor=fac)
    services.timer_add(actor=fac, seconds=60)
    assert _timer(live)[1] == left + 60_000

    t1 = timezone.now()
    services.timer_resume(actor=fac)
    ends, left2 = _timer(live)
    assert left2 is None
    assert abs((ends - t1).total_seconds() - (left + 60_000) / 1000) < 2
    with pytest.raises(Conflict):
        services.timer_resume(actor=fac)

    services.timer_clear(actor=fac)
    assert _timer(live) == (None, None)
    with pytest.raises(Conflict):
        services.timer_add(actor=fac, seconds=10)

    services.timer_start(actor=fac, seconds=60)
    services.phase_next(actor=fac)
    assert _timer(live) == (None, None)


# --------------------------------------------------------------------------- moderation


def test_a_muted_participant_can_only_vote_and_react(live):
    """Muted: votes and reactions still work, posting does not, until unmuted."""
    fac, member = live["facilitator"], live["member"]
    idea = _idea(live, "other")
    services.participant_mute(actor=fac, participant_id=member.pk, muted=True)
    with pytest.raises(Forbidden):
        _idea(live, "member")
    with pytest.raises(Forbidden):
        services.reply_post(actor=member, idea_id=idea, text="non")
    services.reaction_toggle(actor=member, idea_id=idea, emoji="👍")
    services.phase_set(actor=fac, phase="vote")
    services.vote_cast(actor=member, idea_id=idea)
    services.phase_set(actor=fac, phase="ideas")
    services.participant_mute(actor=fac, participant_id=member.pk, muted=False)
    assert _idea(live, "member")


def test_a_removed_participant_can_do_nothing_and_cannot_reconnect(live):
    """After removal every command is forbidden, votes included, and the socket's
    authorization refuses them; facilitators cannot be removed, nor remove themselves."""
    fac, member = live["facilitator"], live["member"]
    idea = _idea(live, "other")
    services.participant_remove(actor=fac, participant_id=member.pk)
    for call in (
        lambda: _idea(live, "member"),
        lambda: services.reaction_toggle(actor=member, idea_id=idea, emoji="👍"),
        lambda: services.vote_cast(actor=member, idea_id=idea),
        lambda: services.takeaway_post(actor=member, text="x"),
    ):
        with pytest.raises(Forbidden):
            call()
    with pytest.raises(Forbidden):
        selectors.connection_authorize(
            meeting_id=live.meeting.pk, user=live.users["member"], guest_key=None
        )
    with pytest.raises(Forbidden):
        services.participant_remove(actor=live["owner"], participant_id=fac.pk)
    with pytest.raises(Conflict):
        services.participant_remove(actor=fac, participant_id=fac.pk)
    with pytest.raises(NotFound):
        services.participant_remove(actor=fac, participant_id=10**9)


def test_a_facilitator_can_remove_a_guest(live):
    """A guest can be removed like a member; the guest's key then no longer connects."""
    guest = live["guest"]
    services.participant_remove(actor=live["facilitator"], participant_id=guest.pk)
    assert Participant.objects.get(pk=guest.pk).removed
    with pytest.raises(Forbidden):
        selectors.connection_authorize(
            meeting_id=live.meeting.pk, user=None, guest_key=guest.guest_key
        )


def test_a_removed_idea_disappears_for_everyone_but_its_author_and_facilitators(live):
    """Removing keeps the row (and its reason) for the author and facilitators; no one can
    vote, react or reply on it; a removed idea in the spotlight leaves it."""
    fac = live["facilitator"]
    idea = _idea(live, "member")
    services.idea_spotlight(actor=fac, idea_id=idea)
    services.idea_remove(actor=fac, idea_id=idea, reason="hors sujet")
    row = Idea.objects.get(pk=idea)
    assert row.removed and row.removed_reason == "hors sujet"
    assert Meeting.objects.get(pk=live.meeting.pk).spotlight_idea_id is None
    with pytest.raises(NotFound):
        services.reply_post(actor=live["other"], idea_id=idea, text="x")
    with pytest.raises(NotFound):
        services.idea_remove(actor=fac, idea_id=idea)


# --------------------------------------------------------------------------- clusters


def test_an_idea_lives_in_at_most_one_cluster_and_deleting_a_cluster_frees_its_ideas(live):
    """Moving to a second cluster takes the idea out of the first; a cluster of another
    challenge is refused; deleting a cluster leaves its ideas unclustered."""
    fac = live["facilitator"]
    idea = _idea(live, "member")
    k1 = services.cluster_create(actor=fac, challenge_id=live.challenge.pk, name="A").result["id"]
    k2 = services.cluster_create(actor=fac, challenge_id=live.challenge.pk, name="B").result["id"]
    assert list(Cluster.objects.filter(pk__in=[k1, k2]).values_list("position", flat=True)) == [
        0,
        1,
    ]
    services.idea_move(actor=fac, idea_id=idea, cluster_id=k1)
    services.idea_move(actor=fac, idea_id=idea, cluster_id=k2)
    assert Idea.objects.get(pk=idea).cluster_id == k2
    assert not Cluster.objects.get(pk=k1).ideas.exists()
    other = services.challenge_post(actor=live["member"], title="Autre").result["id"]
    k3 = services.cluster_create(actor=fac, challenge_id=other, name="C").result["id"]
    with pytest.raises(Conflict):
        services.idea_move(actor=fac, idea_id=idea, cluster_id=k3)
    services.cluster_delete(actor=fac, cluster_id=k2)
    assert Idea.objects.get(pk=idea).cluster_id is None
    with pytest.raises(NotFound):
        services.cluster_rename(actor=fac, cluster_id=k2, name="x")
    services.idea_move(actor=fac, idea_id=idea, cluster_id=None)


# --------------------------------------------------------------------------- actions


def test_actions_belong_to_the_challenge_owner_and_cite_its_ideas(live):
    """An action written by a facilitator is still the challenge owner's; its ideas must
    come from the same challenge; the due date is kept."""
    fac, owner = live["facilitator"], live["challenge_owner"]
    idea = _idea(live, "member")
    other = services.challenge_post(actor=live["member"], title="Autre").result["id"]
    foreign = services.idea_post(actor=live["member"], challenge_id=other, text="x").result["id"]
    services.phase_set(actor=fac, phase="wrapup")
    due = dt.date(2031, 1, 15)
    a = services.action_post(
        actor=fac, challenge_id=live.challenge.pk, text="Tester", due_date=due, idea_ids=[idea]
    ).result["id"]
    action = Action.objects.get(pk=a)
    assert action.owner_id == owner.pk and action.due_date == due
    assert list(action.source_ideas.values_list("id", flat=True)) == [idea]
    with pytest.raises(NotFound) as e:
        services.action_post(
            actor=owner, challenge_id=live.challenge.pk, text="x", idea_ids=[foreign]
        )
    assert e.value.field == "idea_ids"
    with pytest.raises(Forbidden):
        services.action_post(actor=live["member"], challenge_id=live.challenge.pk, text="x")
    services.action_status(actor=owner, action_id=a, status="done", note="fait")
    with pytest.raises(Invalid):
        services.action_status(actor=owner, action_id=a, status="bogus")


def test_a_followup_action_of_an_earlier_meeting_is_updated_by_its_owner(
    live, meeting_factory, room_factory
):
    """At the next meeting of the room, the owner of an earlier action reports on it (as a
    new participant, the same account); another member or a guest cannot; an action of
    another room is not found."""
    room = live.meeting.room
    earlier = meeting_factory(
        room=room, state="ended", scheduled_at=timezone.now() - dt.timedelta(days=14)
    )
    then = services.participant_join(meeting=earlier, user=live.users["challenge_owner"])
    c = Challenge.objects.create(meeting=earlier, owner=then, title="Avant")
    old = Action.objects.create(challenge=c, owner=then, text="Relancer")
    services.phase_set(actor=live["facilitator"], phase="wrapup")

    with pytest.raises(Forbidden):
        services.action_status(actor=live["member"], action_id=old.pk, status="done")
    with pytest.raises(Forbidden):
        services.action_status(actor=live["guest"], action_id=old.pk, status="done")
    services.action_status(
        actor=live["challenge_owner"], action_id=old.pk, status="done", note="c'est fait"
    )
    old.refresh_from_db()
    assert (old.status, old.status_note) == ("done", "c'est fait")
    event = MeetingEvent.objects.filter(meeting=live.meeting, name="action.updated").get()
    assert event.data["meeting_id"] == earlier.pk

    elsewhere = meeting_factory(state="ended")
    stranger = services.participant_join(meeting=elsewhere, guest_key=uuid.uuid4())
    c2 = Challenge.objects.create(meeting=elsewhere, owner=stranger, title="Ailleurs")
    foreign = Action.objects.create(challenge=c2, owner=stranger, text="x")
    with pytest.raises(NotFound):
        services.action_status(actor=live["owner"], action_id=foreign.pk, status="done")


def test_takeaways_are_for_everyone_in_the_closing_phase(live):
    """Members and guests post takeaways in wrap-up, not before."""
    with pytest.raises(WrongPhase):
        services.takeaway_post(actor=live["guest"], text="tôt")
    services.phase_set(actor=live["facilitator"], phase="wrapup")
    for who in ("guest", "member", "challenge_owner", "facilitator"):
        assert services.takeaway_post(actor=live[who], text=f"appris {who}").result["id"]


def test_an_ended_meeting_takes_nothing_more(live):
    """After the end, every command is refused with wrong_phase, facilitators included."""
    services.meeting_end(actor=live["facilitator"])
    with pytest.raises(WrongPhase):
        services.phase_next(actor=live["owner"])
    with pytest.raises(WrongPhase):
        _idea(live, "member")


def test_hot_seat_ideas_go_to_the_challenge_in_the_hot_seat(meeting_factory, member_factory):
    """In a hot-seat meeting, ideas for another challenge than the one in the hot seat are
    refused; the phase steps go through each challenge in agenda order."""
    cast = build_cast(
        meeting_factory=meeting_factory, member_factory=member_factory, fmt="hot-seat"
    )
    fac = cast["facilitator"]
    c1 = services.challenge_post(actor=cast["challenge_owner"], title="Un").result["id"]
    c2 = services.challenge_post(actor=cast["member"], title="Deux").result["id"]
    services.meeting_start(actor=fac)
    assert services.phase_next(actor=fac).result == {"phase": "present", "challenge_id": c1}
    for _ in range(3):
        services.phase_next(actor=fac)
    assert Meeting.objects.get(pk=cast.meeting.pk).phase == "ideas"
    with pytest.raises(WrongPhase) as e:
        services.idea_post(actor=cast["member"], challenge_id=c2, text="x")
    assert e.value.field == "challenge_id"
    services.idea_post(actor=cast["member"], challenge_id=c1, text="x")
    services.phase_set(actor=fac, phase="present", challenge_id=c2)
    assert services.phase_prev(actor=fac).result == {"phase": "plan", "challenge_id": c1}
    with pytest.raises(Invalid):
        services.phase_set(actor=fac, phase="wrapup")
