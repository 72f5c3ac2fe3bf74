"""Exports of a meeting (Markdown, CSV, JSON) respect consent and anonymity."""

import csv
import io
import json

import pytest
from django.urls import reverse

from rooms.exports import _cell, local_day
from rooms.models import Challenge, Summary
from tests.unit.archive_scenario import (
    ANON_PAIRS,
    assert_anonymous,
    assert_consent,
    play,
    publish,
    section,
)

pytestmark = pytest.mark.django_db
CONSENTS = ("full", "anonymised", "summary", "private")


@pytest.fixture
def s():
    s = play()
    publish(s)
    return s


def _get(client, s, user, fmt):
    client.force_login(user)
    url = reverse("archive:export", args=[s.room.pk, s.meeting.pk, fmt])
    return client.get(url)


def _csv_rows(body):
    return list(csv.DictReader(io.StringIO(body)))


def test_exports_are_attachments_with_their_type(client, s):
    """Each format downloads as an attachment with its content type."""
    for fmt, ctype in (("md", "text/markdown"), ("csv", "text/csv"), ("json", "application/json")):
        response = _get(client, s, s.bob, fmt)
        assert response.status_code == 200
        assert response["Content-Type"].startswith(ctype)
        assert response["Content-Disposition"].startswith("attachment; filename=")
        assert response["Content-Disposition"].endswith(f'.{fmt}"')


def test_exports_are_404_for_non_members_and_before_publication(client):
    """A non-member gets 404; a member too while the summary is a draft."""
    s = play()
    assert _get(client, s, s.olga, "md").status_code == 404
    assert _get(client, s, s.bob, "csv").status_code == 404
    assert _get(client, s, s.fanny, "json").status_code == 200


def test_csv_has_one_row_per_idea_reply_action_and_takeaway(client, s):
    """CSV: ideas (questions included), replies, actions and takeaways, one row each."""
    rows = _csv_rows(_get(client, s, s.fanny, "csv").content.decode())
    kinds = [r["record"] for r in rows]
    assert kinds.count("idea") == 7  # 6 ideas + 1 question
    assert kinds.count("reply") == 2
    assert kinds.count("action") == 1
    assert kinds.count("takeaway") == 2
    action = next(r for r in rows if r["record"] == "action")
    assert action["due_date"] == "2031-01-15" and action["author"] == "Alice"
    top = next(r for r in rows if r["id"] == str(s.ids["raise"]) and r["record"] == "idea")
    assert (top["rank"], top["votes"], top["cluster"]) == ("1", "3", "Prix")


def test_csv_cells_cannot_start_a_spreadsheet_formula():
    """A cell starting with =, +, -, @ is prefixed so a spreadsheet shows it as text."""
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("-2") == "'-2"
    assert _cell("plain") == "plain"


@pytest.mark.parametrize("consent", CONSENTS)
def test_every_export_respects_every_consent_level(client, s, consent):
    """A member sees of the pricing challenge what its owner consented to; the owner
    always sees it all."""
    Challenge.objects.filter(pk=s.ids["pricing"]).update(consent=consent)
    for fmt, user, owner_view in (
        (fmt, user, owner_view)
        for fmt in ("md", "csv", "json")
        for user, owner_view in ((s.bob, False), (s.alice, True))
    ):
        body = _get(client, s, user, fmt).content.decode()
        if fmt == "md":
            part = section(body, "## Fixer mes tarifs", "\n## ")
        elif fmt == "csv":
            rows = [r for r in _csv_rows(body) if r["challenge_id"] == str(s.ids["pricing"])]
            part = "\n".join(",".join(r.values()) for r in rows)
            if rows:
                part = "Fixer mes tarifs\n" + part
        else:
            data = json.loads(body)
            found = [c for c in data["challenges"] if c["id"] == s.ids["pricing"]]
            part = json.dumps(found[0], ensure_ascii=False) if found else ""
        assert_consent(part, body, consent, owner_view=owner_view)


@pytest.mark.parametrize("fmt", ("md", "csv"))
def test_line_exports_never_show_anonymous_authors(client, s, fmt):
    """Markdown and CSV: no author next to an anonymous idea, reply or takeaway, even
    for the facilitator or the author herself."""
    for user in (s.fanny, s.chloe, s.bob):
        assert_anonymous(_get(client, s, user, fmt).content.decode())


def test_json_export_never_shows_anonymous_authors(client, s):
    """JSON: anonymous items carry a null author and no participant id at all."""
    body = _get(client, s, s.fanny, "json").content.decode()
    data = json.loads(body)
    assert "participant_id" not in body and "user_id" not in body
    pricing = next(c for c in data["challenges"] if c["id"] == s.ids["pricing"])
    yearly = next(i for i in pricing["ideas"] if i["id"] == s.ids["yearly"])
    assert yearly["author"] is None
    anon_takeaway = next(t for t in data["takeaways"] if t["id"] == s.ids["take_anon"])
    assert anon_takeaway["author"] is None
    assert {t for t, _ in ANON_PAIRS} <= set(body.replace('"', "\n").splitlines())


def test_exports_date_a_meeting_by_the_sites_time_zone(client, s, settings):
    """A meeting at 00:30 in Paris (23:30 UTC the day before) is dated that day in the
    Markdown and in the file's name, as the pages show it."""
    settings.TIME_ZONE = "Europe/Paris"
    summary = Summary.objects.get(meeting=s.meeting)
    summary.data["meeting"]["scheduled_at"] = "2026-03-02T23:30:00Z"
    summary.save(update_fields=["data"])
    assert local_day("2026-03-02T23:30:00Z") == "2026-03-03"
    response = _get(client, s, s.bob, "md")
    assert response["Content-Disposition"].endswith('-2026-03-03.md"')
    body = response.content.decode()
    assert "2026-03-03" in body and "2026-03-02" not in body
