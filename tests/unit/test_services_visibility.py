"""What each viewer may not see: anonymous authors, hidden texts, removal reasons.

Every event of the meeting is rendered for every viewer (``render_event``) and every
viewer's snapshot is taken (``snapshot_for``); the checks look through all of it, so a
new event or field that leaks is caught without a new test.
"""

from __future__ import annotations

import json

import pytest

from rooms import services
from rooms.models import MeetingEvent, Participant
from rooms.wire import Viewer, render_event, snapshot_for
from tests.unit.meeting_cast import build_cast

pytestmark = pytest.mark.django_db

VIEWERS = ("owner", "facilitator", "challenge_owner", "member", "guest", "author")


@pytest.fixture
def cast(meeting_factory, member_factory):
    cast = build_cast(meeting_factory=meeting_factory, member_factory=member_factory)
    # The "other" member of the cast writes the posts under test, as "author".
    cast.people["author"] = cast.people.pop("other")
    Participant.objects.filter(pk=cast["author"].pk).update(display_name="Zoé Secrète")
    cast["author"].display_name = "Zoé Secrète"
    services.meeting_start(actor=cast["facilitator"])
    services.phase_set(actor=cast["facilitator"], phase="ideas")
    cast.challenge_id = services.challenge_post(actor=cast["challenge_owner"], title="Prix").result[
        "id"
    ]
    return cast


def everything_seen_by(cast, role: str) -> tuple[list[dict], dict]:
    """All event frames and the snapshot of one viewer."""
    v = Viewer.for_participant(cast[role])
    frames = [
        render_event(e, v)
        for e in MeetingEvent.objects.filter(meeting=cast.meeting).order_by("seq")
    ]
    snapshot, _seq = snapshot_for(cast.meeting, v)
    return frames, snapshot


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def authorship_leaks(cast, role: str, author: Participant, *, content_only=True) -> list[str]:
    """Places where ``role`` could learn that ``author`` wrote a post: an ``author`` object
    naming them, an event ``actor`` equal to them, their name inside posted content."""
    frames, snapshot = everything_seen_by(cast, role)
    found = []
    content_events = {
        "idea.posted",
        "idea.edited",
        "idea.deleted",
        "reply.posted",
        "takeaway.posted",
        "ideas.revealed",
        "vote.cast",
        "vote.retracted",
        "reaction.toggled",
    }
    for f in frames:
        if f["name"] not in content_events:
            continue
        if f["actor"] == author.pk:
            found.append(f"actor of {f['name']} #{f['seq']}")
        for d in _walk(f["data"]):
            if isinstance(d.get("author"), dict) and d["author"]["id"] == author.pk:
                found.append(f"author in {f['name']} #{f['seq']}")
        if author.display_name in json.dumps(f, ensure_ascii=False):
            found.append(f"name in {f['name']} #{f['seq']}")
    posts = {k: snapshot[k] for k in ("ideas", "takeaways")}
    for d in _walk(posts):
        if isinstance(d.get("author"), dict) and d["author"]["id"] == author.pk:
            found.append(f"author in snapshot post {d.get('id')}")
    if author.display_name in json.dumps(posts, ensure_ascii=False):
        found.append("name in snapshot posts")
    return found


def _post_everything(cast, *, anonymous: bool):
    """The author posts an idea, edits it, replies, reacts, votes and leaves a takeaway."""
    s, a, fac = services, cast["author"], cast["facilitator"]
    target = s.idea_post(actor=cast["member"], challenge_id=cast.challenge_id, text="cible")
    target = target.result["id"]
    idea = s.idea_post(actor=a, challenge_id=cast.challenge_id, text="ma idée", anonymous=anonymous)
    idea = idea.result["id"]
    s.idea_edit(actor=a, idea_id=idea, text="mon idée")
    s.reply_post(actor=a, idea_id=target, text="oui et", anonymous=anonymous)
    s.reply_post(actor=cast["member"], idea_id=idea, text="bien")
    s.reaction_toggle(actor=a, idea_id=target, emoji="🎉")
    throwaway = s.idea_post(
        actor=a, challenge_id=cast.challenge_id, text="oups", anonymous=anonymous
    ).result["id"]
    s.idea_delete(actor=a, idea_id=throwaway)
    s.phase_set(actor=fac, phase="vote")
    s.vote_cast(actor=a, idea_id=target)
    s.phase_set(actor=fac, phase="wrapup")
    s.takeaway_post(actor=a, text="appris", anonymous=anonymous)
    return idea


@pytest.mark.parametrize("anonymity", ["optional", "always"])
def test_anonymous_authors_are_never_shown_to_anyone_else(cast, anonymity):
    """With anonymity ``optional`` (the author asked) or ``always`` (whatever was asked), no
    frame and no snapshot tells anyone but the author who wrote the posts, facilitators
    and the room owner included; the author still sees them as theirs."""
    services.meeting_settings(actor=cast["facilitator"], anonymity=anonymity)
    idea = _post_everything(cast, anonymous=anonymity == "optional")
    for role in VIEWERS:
        if role == "author":
            continue
        assert authorship_leaks(cast, role, cast["author"]) == [], role
    _frames, snapshot = everything_seen_by(cast, "author")
    mine = next(i for i in snapshot["ideas"] if i["id"] == idea)
    assert mine["mine"] and mine["author"]["id"] == cast["author"].pk
    assert snapshot["takeaways"][0]["mine"] and snapshot["takeaways"][0]["author"]


def test_with_anonymity_off_a_request_for_anonymity_is_ignored(cast):
    """With ``off``, names are shown even when the client asks for anonymity."""
    services.meeting_settings(actor=cast["facilitator"], anonymity="off")
    _post_everything(cast, anonymous=True)
    leaks = authorship_leaks(cast, "member", cast["author"])
    assert any(leak.startswith("author in idea.posted") for leak in leaks)
    assert "author in snapshot post" in " ".join(leaks)


def test_with_optional_anonymity_named_posts_show_their_author(cast):
    """Under ``optional``, a post not marked anonymous carries its author to everyone."""
    _post_everything(cast, anonymous=False)
    assert authorship_leaks(cast, "guest", cast["author"]) != []


def test_votes_and_reactions_do_not_say_who(cast):
    """Others see vote and reaction counts, never who voted or reacted."""
    _post_everything(cast, anonymous=False)
    frames, _ = everything_seen_by(cast, "facilitator")
    for f in frames:
        if f["name"] in ("vote.cast", "reaction.toggled"):
            assert f["actor"] is None and f["data"]["mine"] is None, f


def test_hidden_ideas_reach_only_their_author_until_the_reveal(cast):
    """With hide-until-reveal, no other participant (facilitators included) receives the
    text or the author of an idea before ``ideas.reveal``; the author does; at the reveal
    everyone receives the text. Questions are never hidden."""
    fac = cast["facilitator"]
    services.meeting_settings(actor=fac, hide_until_reveal=True)
    services.idea_post(actor=cast["author"], challenge_id=cast.challenge_id, text="SECRET-1")
    services.idea_post(
        actor=cast["member"], challenge_id=cast.challenge_id, text="QUESTION-1", kind="question"
    )
    idea = Participant.objects.get(pk=cast["author"].pk).ideas.get(text="SECRET-1")
    services.idea_edit(actor=cast["author"], idea_id=idea.pk, text="SECRET-2")
    for role in VIEWERS:
        frames, snapshot = everything_seen_by(cast, role)
        seen = json.dumps([frames, snapshot], ensure_ascii=False)
        assert "QUESTION-1" in seen
        if role == "author":
            assert "SECRET-2" in json.dumps(snapshot, ensure_ascii=False)
        else:
            assert "SECRET" not in seen, role
            assert authorship_leaks(cast, role, cast["author"]) == [], role
            hidden = next(i for i in snapshot["ideas"] if i["id"] == idea.pk)
            assert hidden["hidden"] and hidden["text"] == ""
    # Nobody else can act on it before the reveal.
    from rooms.errors import NotFound

    with pytest.raises(NotFound):
        services.reply_post(actor=cast["member"], idea_id=idea.pk, text="x")
    services.ideas_reveal(actor=fac, challenge_id=cast.challenge_id)
    for role in VIEWERS:
        frames, snapshot = everything_seen_by(cast, role)
        reveal = next(f for f in frames if f["name"] == "ideas.revealed")
        assert [i["text"] for i in reveal["data"]["ideas"]] == ["SECRET-2"], role
        shown = next(i for i in snapshot["ideas"] if i["id"] == idea.pk)
        assert shown["text"] == "SECRET-2" and not shown["hidden"]


def test_a_removed_idea_keeps_its_reason_for_its_author_and_the_facilitators_only(cast):
    """The removal reason reaches the author and facilitators, in the event and the
    snapshot; the others only learn that the idea is gone, and never its text again."""
    idea = services.idea_post(
        actor=cast["author"], challenge_id=cast.challenge_id, text="SPAM-TEXT"
    ).result["id"]
    services.idea_remove(actor=cast["facilitator"], idea_id=idea, reason="REASON-42")
    for role in VIEWERS:
        frames, snapshot = everything_seen_by(cast, role)
        removed = next(f for f in frames if f["name"] == "idea.removed")
        in_snapshot = [i for i in snapshot["ideas"] if i["id"] == idea]
        if role in ("author", "owner", "facilitator"):
            assert removed["data"]["reason"] == "REASON-42", role
            assert in_snapshot[0]["removed_reason"] == "REASON-42"
        else:
            assert removed["data"]["reason"] is None, role
            assert in_snapshot == []
            assert "REASON-42" not in json.dumps([frames, snapshot], ensure_ascii=False)


def test_a_removed_hidden_idea_is_not_revealed(cast):
    """Revealing a challenge does not publish the text of an idea removed while hidden."""
    fac = cast["facilitator"]
    services.meeting_settings(actor=fac, hide_until_reveal=True)
    services.idea_post(actor=cast["author"], challenge_id=cast.challenge_id, text="SPAM-2")
    spam = Participant.objects.get(pk=cast["author"].pk).ideas.get().pk
    services.idea_post(actor=cast["member"], challenge_id=cast.challenge_id, text="fine")
    services.idea_remove(actor=fac, idea_id=spam, reason="spam")
    services.ideas_reveal(actor=fac, challenge_id=cast.challenge_id)
    frames, snapshot = everything_seen_by(cast, "member")
    assert "SPAM-2" not in json.dumps([frames, snapshot], ensure_ascii=False)


def test_switching_anonymity_off_later_does_not_unmask_earlier_posts(cast):
    """Posts written under ``always`` stay anonymous after the facilitator switches to
    ``off``: the setting decides for new posts, never retroactively."""
    fac = cast["facilitator"]
    services.meeting_settings(actor=fac, anonymity="always")
    _post_everything(cast, anonymous=False)
    services.meeting_settings(actor=fac, anonymity="off")
    services.phase_set(actor=fac, phase="ideas")
    services.idea_post(actor=cast["member"], challenge_id=cast.challenge_id, text="named now")
    for role in ("facilitator", "owner", "guest"):
        assert authorship_leaks(cast, role, cast["author"]) == [], role
