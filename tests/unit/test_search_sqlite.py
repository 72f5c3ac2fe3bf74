"""Search on SQLite (FTS5 fallback): stemming of plurals, accents, consent, anonymity,
rooms the user is not in, filters and safe snippets."""

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from rooms.models import Challenge, Meeting, MeetingState, Summary
from rooms.search import normalise_word, search
from tests.unit.archive_scenario import play, publish

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip(
            "SQLite FTS5 tests: this pass runs on PostgreSQL, whose search is tested in "
            "tests/integration/test_search_postgres.py"
        )


@pytest.fixture
def s():
    s = play()
    publish(s)
    return s


def _texts(results):
    return [(h.kind, h.id) for h in results.hits]


def test_plural_and_accent_folding():
    """The suffix stripping that makes "tarifs" meet "tarif" (and keeps "prix" whole)."""
    assert normalise_word("Tarifs") == "tarif"
    assert normalise_word("prix") == "prix"
    assert normalise_word("Stratégies") == "strategy"
    assert normalise_word("bateaux") == "bateau"
    assert normalise_word("devis") == "devis"


def test_singular_finds_plural_and_accents_are_ignored(s):
    """'tarif' finds 'tarifs'; 'ceramiste' finds 'céramiste'; 'PRIX' finds 'prix'."""
    hits = _texts(search(user=s.bob, query="tarif"))
    assert ("idea", s.ids["publish"]) in hits
    assert ("reply", s.ids["reply_named"]) in hits
    assert ("challenge", s.ids["pricing"]) in hits
    assert ("challenge", s.ids["pricing"]) in _texts(search(user=s.bob, query="ceramiste"))
    assert ("idea", s.ids["raise"]) in _texts(search(user=s.bob, query="PRIX"))
    assert ("takeaway", s.ids["take_named"]) in _texts(search(user=s.bob, query="prix"))


def test_results_link_to_the_idea_in_its_summary_and_snippets_are_escaped(s):
    """A hit opens its meeting's summary at the idea; markup in user text is escaped
    and the matched words are marked."""
    results = search(user=s.bob, query="blog")
    (hit,) = results.hits
    summary = reverse("archive:summary", args=[s.room.pk, s.meeting.pk])
    assert hit.url == f"{summary}#idea-{s.ids['blog']}"
    assert "<script>" not in hit.snippet
    assert "&lt;script&gt;" in hit.snippet
    assert "<mark>blog</mark>" in hit.snippet


def test_no_result_from_a_room_the_user_is_not_in(s):
    """Olga belongs to another room: she finds nothing of this one."""
    assert search(user=s.olga, query="tarifs").hits == []


def test_draft_summaries_are_searchable_by_facilitators_only():
    """Before publication only facilitators find the meeting's content."""
    s = play(prefix="d-")
    assert search(user=s.bob, query="tarifs").hits == []
    assert search(user=s.fanny, query="tarifs").hits


def test_anonymous_items_are_found_without_their_author(s):
    """An anonymous idea is found, with no author, for everyone."""
    for user in (s.fanny, s.chloe, s.bob):
        (hit,) = search(user=user, query="forfaits annuels").hits
        assert hit.id == s.ids["yearly"] and hit.author is None
    (hit,) = search(user=s.bob, query="rassure").hits
    assert hit.kind == "takeaway" and hit.author is None


@pytest.mark.parametrize("consent", ["full", "anonymised", "summary", "private"])
def test_search_respects_every_consent_level(s, consent):
    """full: all with names; anonymised: texts, no names, no owner filter; summary: the
    challenge but no idea texts; private: only the owner finds it."""
    Challenge.objects.filter(pk=s.ids["pricing"]).update(consent=consent)
    hits = search(user=s.bob, query="prix").hits
    idea_hit = next((h for h in hits if h.id == s.ids["raise"] and h.kind == "idea"), None)
    challenge_hit = next(
        (h for h in hits if h.kind == "challenge" and h.id == s.ids["pricing"]), None
    )
    by_owner = _texts(search(user=s.bob, query="prix", owner_id=s.alice.pk))
    if consent == "full":
        assert idea_hit.author == "Chloé" and challenge_hit.author == "Alice"
        assert ("challenge", s.ids["pricing"]) in by_owner
    elif consent == "anonymised":
        assert idea_hit.author is None and challenge_hit.author is None
        assert by_owner == []
    elif consent == "summary":
        assert idea_hit is None and challenge_hit.author == "Alice"
        assert search(user=s.bob, query="janvier").hits == []
    else:
        assert idea_hit is None and challenge_hit is None
        owner_hits = _texts(search(user=s.alice, query="prix"))
        assert ("idea", s.ids["raise"]) in owner_hits
    # The owner always finds her whole challenge.
    assert ("idea", s.ids["raise"]) in _texts(search(user=s.alice, query="augmenter"))


def test_filters_by_room_and_date(s):
    """A room filter and a date range narrow the results."""
    assert search(user=s.bob, query="tarifs", room_id=s.room.pk).hits
    assert search(user=s.bob, query="tarifs", room_id=s.room.pk + 999).hits == []
    # The day as the site's time zone has it (the filter's): UTC's differs around midnight.
    day = timezone.localdate(s.meeting.scheduled_at)
    assert search(user=s.bob, query="tarifs", date_from=day, date_to=day).hits
    later = day + dt.timedelta(days=2)
    assert search(user=s.bob, query="tarifs", date_from=later).hits == []


def test_search_page_renders_hits_with_marks_and_filters(client, s):
    """The page shows escaped snippets with <mark> and keeps the filters."""
    client.force_login(s.bob)
    page = client.get(reverse("archive:search"), {"q": "blog"}).content.decode()
    assert "<mark>blog</mark>" in page
    assert "&lt;script&gt;" in page and "<script>alert" not in page
    assert f"#idea-{s.ids['blog']}" in page


def test_a_meeting_ended_later_is_indexed_by_its_summary(s):
    """summary_build indexes the meeting: a second ended meeting is searchable."""
    m = Meeting.objects.create(
        room=s.room, title="Mars", scheduled_at=s.meeting.scheduled_at, state=MeetingState.ENDED
    )
    from rooms.summaries import summary_build

    Challenge.objects.create(meeting=m, owner=s.p["bob"], title="Recruter une stagiaire")
    summary = summary_build(meeting=m)
    Summary.objects.filter(pk=summary.pk).update(published_at=s.summary.published_at)
    assert search(user=s.chloe, query="stagiaires").hits
