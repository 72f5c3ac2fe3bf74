"""Search on PostgreSQL: French and English stemming, accents (unaccent), ranking,
highlighted snippets, the GIN indexes, and no result from a room the user is not in.

Runs in the PostgreSQL pass of the suite (``DATABASE_URL=postgres://…``); the SQLite
pass skips it (SQLite search is tested in tests/unit/test_search_sqlite.py).
"""

import pytest
from django.db import connection

from rooms.models import Challenge, Idea
from rooms.search import search
from tests.unit.archive_scenario import play, publish

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "PostgreSQL full-text search: this pass runs on SQLite; the PostgreSQL pass "
            "(DATABASE_URL=postgres://postgres@127.0.0.1:5432/pause) runs it"
        )


@pytest.fixture
def s():
    s = play()
    publish(s)
    return s


def _hits(user, q, **kw):
    return [(h.kind, h.id) for h in search(user=user, query=q, **kw).hits]


def _add_idea(s, challenge_key, text, **kw):
    return Idea.objects.create(
        meeting=s.meeting,
        challenge_id=s.ids[challenge_key],
        author=s.p["bob"],
        text=text,
        **kw,
    )


def test_unaccent_and_both_configurations_exist():
    """The migration created pause_french and pause_english, with unaccent."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT cfgname FROM pg_ts_config WHERE cfgname LIKE 'pause_%'")
        assert {r[0] for r in cursor.fetchall()} == {"pause_french", "pause_english"}
        cursor.execute("SELECT to_tsvector('pause_french', 'Les Tarifs élevés')::text")
        vector = cursor.fetchone()[0]
        assert "'tarif':2" in vector and "'elev':3" in vector


def test_french_stemming_and_accents(s):
    """'tarif' finds 'tarifs'; 'Prix' finds 'prix'; 'ceramiste' finds 'céramiste';
    'élevés' finds 'eleve'."""
    hits = _hits(s.bob, "tarif")
    assert ("idea", s.ids["publish"]) in hits
    assert ("reply", s.ids["reply_named"]) in hits
    assert ("challenge", s.ids["pricing"]) in hits
    assert ("idea", s.ids["raise"]) in _hits(s.bob, "Prix")
    assert ("challenge", s.ids["pricing"]) in _hits(s.bob, "ceramiste")
    eleve = _add_idea(s, "pricing", "Un prix eleve rassure")
    assert ("idea", eleve.pk) in _hits(s.bob, "élevés")


def test_english_stemming(s):
    """English words are stemmed by the English configuration: 'pricing strategies'
    finds 'price strategy'."""
    idea = _add_idea(s, "pricing", "A clear price strategy for 2031")
    assert ("idea", idea.pk) in _hits(s.bob, "pricing strategies")
    assert ("idea", idea.pk) in _hits(s.bob, "prices")


def test_ranking_puts_the_closest_match_first(s):
    """An idea that matches every word, several times, ranks above one that matches once."""
    strong = _add_idea(s, "pricing", "Tarifs, tarifs : publier ses tarifs et ses prix")
    weak = _add_idea(s, "pricing", "Parler aux clientes avant de changer les tarifs un jour")
    hits = _hits(s.bob, "tarifs")
    assert hits.index(("idea", strong.pk)) < hits.index(("idea", weak.pk))
    ranks = [h.rank for h in search(user=s.bob, query="tarifs").hits]
    assert ranks == sorted(ranks, reverse=True)


def test_snippets_mark_terms_and_escape_text(s):
    """ts_headline snippets: the matched words in <mark>, the rest escaped."""
    (hit,) = [h for h in search(user=s.bob, query="blog").hits]
    assert "<mark>blog</mark>" in hit.snippet
    assert "<script>" not in hit.snippet
    assert "&amp;" in hit.snippet
    raise_hit = next(h for h in search(user=s.bob, query="prix").hits if h.id == s.ids["raise"])
    assert "<mark>prix</mark>" in raise_hit.snippet


def test_no_result_from_a_room_the_user_is_not_in(s):
    """Olga, member of another room only, finds nothing."""
    assert _hits(s.olga, "tarifs") == []
    assert _hits(s.olga, "prix") == []


def test_consent_and_anonymity_hold_on_postgres(s):
    """summary: no idea texts; private: only the owner; anonymous ideas have no author."""
    (hit,) = search(user=s.fanny, query="forfait annuel").hits
    assert hit.author is None
    Challenge.objects.filter(pk=s.ids["pricing"]).update(consent="summary")
    assert ("idea", s.ids["raise"]) not in _hits(s.bob, "prix")
    assert ("challenge", s.ids["pricing"]) in _hits(s.bob, "prix")
    Challenge.objects.filter(pk=s.ids["pricing"]).update(consent="private")
    assert ("challenge", s.ids["pricing"]) not in _hits(s.bob, "prix")
    assert ("idea", s.ids["raise"]) in _hits(s.alice, "prix")
    Challenge.objects.filter(pk=s.ids["pricing"]).update(consent="anonymised")
    assert _hits(s.bob, "prix", owner_id=s.alice.pk) == []
    idea = next(h for h in search(user=s.bob, query="prix").hits if h.id == s.ids["raise"])
    assert idea.author is None


def test_search_uses_the_gin_indexes(s):
    """The search reads the indexed generated column (planner told to avoid sequential
    scans, as it would on a large table)."""
    from rooms.search import _TSQUERY

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT i.id FROM rooms_idea i WHERE i.pause_search @@ {_TSQUERY}",
            {"q": "tarifs"},
        )
        plan = "\n".join(r[0] for r in cursor.fetchall())
    assert "rooms_idea_fts" in plan
