"""Commands run together in one transaction (``run_calls``, used by ``rooms.writer``)
behave as if each ran in a transaction of its own, in order: consecutive seqs, each sees
what the ones before it wrote, a refused command changes nothing and does not undo the
others, a repeated ref is answered from its receipt."""

from __future__ import annotations

import pytest

from rooms import services
from rooms.errors import DomainError, Forbidden, NotFound
from rooms.models import CommandReceipt, Idea, MeetingEvent, Participant, Vote
from rooms.services import meetings as svc
from rooms.services.meetings import Outcome, run_calls
from tests.unit.meeting_cast import build_cast

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cast(meeting_factory, member_factory):
    cast = build_cast(meeting_factory=meeting_factory, member_factory=member_factory)
    fac = cast["facilitator"]
    services.meeting_start(actor=fac)
    services.phase_set(actor=fac, phase="ideas")
    cast.challenge_id = services.challenge_post(actor=cast["member"], title="Recruter").result["id"]
    return cast


def post(cast, role, text, ref=None, challenge_id=None):
    return svc.idea_post.call(
        actor=cast[role], ref=ref, challenge_id=challenge_id or cast.challenge_id, text=text
    )


def test_a_batch_gives_consecutive_seqs_and_one_event_row_each(cast):
    before = cast.refresh().last_seq
    results = run_calls([post(cast, "member", f"idée {i}", ref=f"r{i}") for i in range(5)])
    assert [r.seq for r in results] == list(range(before + 1, before + 6))
    assert cast.refresh().last_seq == before + 5
    events = MeetingEvent.objects.filter(meeting=cast.meeting, seq__gt=before).order_by("seq")
    assert [e.data["text"] for e in events] == [f"idée {i}" for i in range(5)]
    assert CommandReceipt.objects.filter(participant=cast["member"]).count() == 5


def test_a_refused_command_changes_nothing_and_the_others_stand(cast):
    before = cast.refresh().last_seq
    results = run_calls(
        [
            post(cast, "member", "un"),
            post(cast, "member", "perdu", challenge_id=999_999),  # refused: no such challenge
            post(cast, "guest", "deux"),
            post(cast, "removed", "trois"),  # refused: removed from the meeting
            svc.challenge_edit.call(actor=cast["other"], challenge_id=cast.challenge_id, title="x"),
            post(cast, "other", "quatre"),
        ]
    )
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["Outcome", "NotFound", "Outcome", "Forbidden", "Forbidden", "Outcome"]
    assert [r.seq for r in results if isinstance(r, Outcome)] == [
        before + 1,
        before + 2,
        before + 3,
    ]
    assert cast.refresh().last_seq == before + 3
    texts = set(Idea.objects.filter(meeting=cast.meeting).values_list("text", flat=True))
    assert texts == {"un", "deux", "quatre"}


def test_each_command_sees_what_the_ones_before_wrote(cast):
    """A facilitator mutes someone: that person's post right after, in the same batch,
    is refused as it would be in a transaction of its own, and accepted again once
    unmuted; a second vote for the same idea sees the first."""
    fac, member = cast["facilitator"], cast["member"]
    results = run_calls(
        [
            svc.participant_mute.call(actor=fac, participant_id=member.pk, muted=True),
            post(cast, "member", "muette"),
            svc.participant_mute.call(actor=fac, participant_id=member.pk, muted=False),
            post(cast, "member", "de retour"),
        ]
    )
    assert isinstance(results[1], Forbidden)
    assert isinstance(results[3], Outcome)
    assert not Participant.objects.get(pk=member.pk).muted
    texts = set(Idea.objects.filter(meeting=cast.meeting).values_list("text", flat=True))
    assert texts == {"de retour"}

    services.phase_set(actor=fac, phase="vote")
    idea_id = results[3].result["id"]
    votes = run_calls([svc.vote_cast.call(actor=cast["other"], idea_id=idea_id)] * 2)
    assert votes[0].result["votes"] == 1
    assert isinstance(votes[1], DomainError) and votes[1].code == "conflict"
    assert Vote.objects.filter(idea_id=idea_id).count() == 1


def test_ideas_posted_in_a_batch_are_there_for_the_commands_after_them(cast):
    """On PostgreSQL a batch's new ideas are inserted with its last round trip: a later
    command of the same batch that reads them (here the reveal of hidden ideas) finds
    them, a refused post in between leaves nothing, and the ideas keep their ids in the
    order they were posted."""
    fac = cast["facilitator"]
    services.meeting_settings(actor=fac, hide_until_reveal=True)
    results = run_calls(
        [
            post(cast, "member", "un"),
            post(cast, "guest", "deux"),
            post(cast, "member", "perdu", challenge_id=999_999),  # refused
            svc.ideas_reveal.call(actor=fac, challenge_id=cast.challenge_id),
            post(cast, "other", "trois"),
        ]
    )
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["Outcome", "Outcome", "NotFound", "Outcome", "Outcome"]
    assert results[3].result == {"revealed": 2}
    ids = [results[i].result["id"] for i in (0, 1, 4)]
    assert ids == sorted(ids)
    stored = dict(Idea.objects.filter(meeting=cast.meeting).values_list("pk", "hidden"))
    assert stored == {ids[0]: False, ids[1]: False, ids[2]: True}
    events = MeetingEvent.objects.filter(meeting=cast.meeting, name="idea.posted")
    assert sorted(e.data["id"] for e in events) == ids


def test_a_repeated_ref_in_one_batch_or_after_is_answered_from_its_receipt(cast):
    first, again = run_calls(
        [post(cast, "member", "une", ref="same"), post(cast, "member", "une", ref="same")]
    )
    assert again.replayed and (again.seq, again.result) == (first.seq, first.result)
    later = run_calls([post(cast, "guest", "autre"), post(cast, "member", "une", ref="same")])
    assert later[1].replayed and later[1].seq == first.seq
    assert Idea.objects.filter(meeting=cast.meeting, text="une").count() == 1


def test_a_single_call_raises_its_error_and_writes_nothing(cast):
    before = cast.refresh().last_seq
    with pytest.raises(NotFound):
        run_calls([post(cast, "member", "perdu", challenge_id=999_999)])
    with pytest.raises(Forbidden):
        services.idea_post(actor=cast["removed"], challenge_id=cast.challenge_id, text="x")
    assert cast.refresh().last_seq == before


def test_a_failure_inside_a_command_without_savepoint_sinks_the_batch_not_the_others(
    cast, monkeypatch
):
    """A command marked ``validates_first`` that fails after writing (a bug, a database
    error) rolls the whole batch back; the writer then runs each command alone, so the
    others still land and the failing one leaves nothing behind."""
    from rooms import writer

    calls = [
        post(cast, "member", "avant"),
        post(cast, "member", "boum"),
        post(cast, "guest", "après"),
    ]
    original = svc.wire.idea_data

    def explode(idea, **kw):
        if idea.text == "boum":
            raise RuntimeError("rendering failed after the insert")
        return original(idea, **kw)

    monkeypatch.setattr(svc.wire, "idea_data", explode)
    with pytest.raises(RuntimeError):
        run_calls(calls)
    assert not Idea.objects.filter(meeting=cast.meeting).exists()

    published: list = []
    results = writer._run(calls, published)
    assert [type(r).__name__ for r in results] == ["Outcome", "RuntimeError", "Outcome"]
    texts = set(Idea.objects.filter(meeting=cast.meeting).values_list("text", flat=True))
    assert texts == {"avant", "après"}
    assert [e["data"]["text"] for _m, evs in published for e in evs] == ["avant", "après"]


def test_challenges_read_together_still_belong_to_their_meeting(cast, meeting_factory):
    """The batch reads the challenges its posts name in one query; a post naming a
    challenge of another meeting is still refused, and a withdrawal in the batch is seen
    by the posts after it."""
    other_meeting = meeting_factory()
    foreign = services.challenge_post(
        actor=services.participant_join(
            meeting=other_meeting, user=other_meeting.room.memberships.first().user
        ),
        title="Ailleurs",
    )
    second = services.challenge_post(actor=cast["other"], title="Vendre").result["id"]
    results = run_calls(
        [
            post(cast, "member", "un"),
            post(cast, "guest", "deux", challenge_id=second),
            post(cast, "member", "ailleurs", challenge_id=foreign.result["id"]),
            svc.challenge_withdraw.call(actor=cast["other"], challenge_id=second),
            post(cast, "guest", "trop tard", challenge_id=second),
        ]
    )
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["Outcome", "Outcome", "NotFound", "Outcome", "Conflict"]


def test_each_command_of_a_batch_answers_in_its_senders_language(cast):
    """Commands of one batch may come from people reading Pause in different languages:
    each refusal is worded in its sender's, and the caller's language is back after."""
    from django.utils import translation

    def lost(role, lang):
        return svc.idea_post.call(actor=cast[role], challenge_id=999_999, text="perdu", lang=lang)

    with translation.override("en"):
        results = run_calls(
            [lost("member", "fr"), lost("guest", "fr"), lost("other", "en"), lost("member", "fr")]
        )
        assert translation.get_language() == "en"
    messages = [str(r.message) for r in results]
    assert messages == [
        "Ce défi n’existe pas.",
        "Ce défi n’existe pas.",
        "This challenge does not exist.",
        "Ce défi n’existe pas.",
    ]
