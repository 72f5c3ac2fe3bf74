"""The summary built when a meeting ends, and the archive services around it."""

import json

import pytest

from rooms.archive_policy import summary_for
from rooms.errors import Forbidden, Invalid
from rooms.models import Action, ActionStatus, Consent, Summary
from rooms.services import archive as archive_services
from rooms.summaries import summary_build
from tests.unit.archive_scenario import play

pytestmark = pytest.mark.django_db


@pytest.fixture
def s():
    return play()


def _challenge(data, cid):
    return next(c for c in data["challenges"] if c["id"] == cid)


def test_ending_a_meeting_builds_its_summary_with_ranked_ideas_unvoted_included(s):
    """Ideas are ranked by votes, then reactions; the unvoted ones are there too."""
    pricing = _challenge(s.summary.data, s.ids["pricing"])
    ranked = [(i["text"], i["votes"], i["reaction_count"]) for i in pricing["ideas"]]
    assert ranked == [
        ("Augmenter le prix de 10 % dès janvier", 3, 0),
        ("Publier les tarifs sur le site", 1, 0),
        ("Proposer un forfait annuel", 0, 1),
        ("Demander leur avis aux clientes", 0, 0),
    ]
    assert [i["rank"] for i in pricing["ideas"]] == [1, 2, 3, 4]
    assert [q["text"] for q in pricing["questions"]] == ["Quel est ton prix actuel ?"]


def test_summary_has_owner_ask_counts_clusters_actions_takeaways_and_figures(s):
    """Per challenge: owner, ask, counts, clusters with their ideas, actions with owner
    and due date; then takeaways, participants and figures."""
    data = s.summary.data
    pricing = _challenge(data, s.ids["pricing"])
    assert pricing["owner"]["name"] == "Alice"
    assert pricing["ask"] == "Comment augmenter mes prix sans perdre mes clientes ?"
    assert pricing["counts"] == {"ideas": 4, "questions": 1, "votes": 4, "replies": 2}
    assert pricing["clusters"] == [
        {"id": s.ids["cluster"], "name": "Prix", "idea_ids": [s.ids["raise"], s.ids["publish"]]}
    ]
    (action,) = pricing["actions"]
    assert action["text"] == "Passer mes tarifs à 60 € en janvier"
    assert action["owner"]["name"] == "Alice"
    assert action["due_date"] == "2031-01-15"
    assert action["idea_ids"] == [s.ids["raise"]]
    assert [t["text"] for t in data["takeaways"]] == [
        "Oser parler de ses prix",
        "Le forfait rassure",
    ]
    assert data["figures"]["ideas"] == 6
    assert data["figures"]["questions"] == 1
    assert data["figures"]["votes"] == 4
    assert data["figures"]["participants"] == 5
    assert data["figures"]["duration_minutes"] is not None
    assert {p["name"] for p in data["participants"]} == {"Fanny", "Alice", "Bob", "Chloé", "Gaby"}


def test_summary_data_stores_no_author_for_anonymous_items(s):
    """Anonymity holds even in the stored JSON: no name, no participant id."""
    raw = json.dumps(s.summary.data)
    pricing = _challenge(s.summary.data, s.ids["pricing"])
    yearly = next(i for i in pricing["ideas"] if i["id"] == s.ids["yearly"])
    assert yearly["author"] is None and yearly["anonymous"] is True
    publish = next(i for i in pricing["ideas"] if i["id"] == s.ids["publish"])
    anon_reply = next(r for r in publish["replies"] if r["id"] == s.ids["reply_anon"])
    assert anon_reply["author"] is None
    assert "participant_id" not in json.dumps(yearly)
    assert "Chloé" not in json.dumps(yearly)
    assert raw.count('"author": null') >= 3


def test_summary_build_is_idempotent_and_keeps_the_facilitators_text(s):
    """Building again changes nothing, keeps the intro and the publication."""
    archive_services.summary_edit(summary=s.summary, user=s.fanny, intro="Une belle séance.")
    before = s.summary.data
    summary = summary_build(meeting=s.meeting)
    assert Summary.objects.filter(meeting=s.meeting).count() == 1
    assert summary.data == before
    assert summary.intro == "Une belle séance."


def test_unpublished_summary_is_seen_by_facilitators_only(s):
    """Until published only facilitators (room owner/facilitator) see the summary."""
    assert summary_for(s.summary, s.fanny) is not None
    assert summary_for(s.summary, s.alice) is None
    archive_services.summary_publish(summary=s.summary, user=s.fanny)
    assert summary_for(s.summary, s.alice) is not None
    assert summary_for(s.summary, s.olga) is None


def test_only_facilitators_edit_and_publish(s):
    """A member cannot edit or publish; nothing changes."""
    with pytest.raises(Forbidden):
        archive_services.summary_edit(summary=s.summary, user=s.alice, intro="x")
    with pytest.raises(Forbidden):
        archive_services.summary_publish(summary=s.summary, user=s.bob)
    assert s.summary.intro == "" and s.summary.published_at is None


def test_only_the_challenge_owner_sets_its_consent(s):
    """The owner chooses the consent level; others, facilitators included, cannot."""
    from rooms.models import Challenge

    pricing = Challenge.objects.get(pk=s.ids["pricing"])
    with pytest.raises(Forbidden):
        archive_services.challenge_consent_set(
            challenge=pricing, user=s.fanny, consent=Consent.PRIVATE
        )
    with pytest.raises(Invalid):
        archive_services.challenge_consent_set(challenge=pricing, user=s.alice, consent="nope")
    archive_services.challenge_consent_set(challenge=pricing, user=s.alice, consent=Consent.SUMMARY)
    pricing.refresh_from_db()
    assert pricing.consent == Consent.SUMMARY


def test_action_status_changed_later_shows_in_the_archive(s):
    """The archive shows an action's current status and note, on the action and on the
    idea it came from."""
    Action.objects.filter(pk=s.ids["action"]).update(
        status=ActionStatus.DONE, status_note="Fait, aucune cliente perdue"
    )
    archive_services.summary_publish(summary=s.summary, user=s.fanny)
    data = summary_for(s.summary, s.bob)
    pricing = _challenge(data, s.ids["pricing"])
    assert pricing["actions"][0]["status"] == "done"
    assert pricing["actions"][0]["status_note"] == "Fait, aucune cliente perdue"
    raise_idea = next(i for i in pricing["ideas"] if i["id"] == s.ids["raise"])
    assert raise_idea["actions"] == [
        {"id": s.ids["action"], "text": "Passer mes tarifs à 60 € en janvier", "status": "done"}
    ]
