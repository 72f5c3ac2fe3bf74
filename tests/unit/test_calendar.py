"""The private iCalendar feed of a room's upcoming meetings (RFC 5545)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from rooms.calendar_feed import escape_text, fold
from rooms.models import Meeting, MeetingState, Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def feed(client, room_factory, member_factory):
    room = room_factory(name="Pause, Lyon; centre")
    user = member_factory(room)
    now = timezone.now()
    Meeting.objects.create(
        room=room,
        title="Séance de février, spéciale « prix »; venez nombreuses " + "x" * 80,
        scheduled_at=now + dt.timedelta(days=3),
    )
    Meeting.objects.create(room=room, title="Déjà finie", scheduled_at=now, state="ended")
    Meeting.objects.create(
        room=room_factory(), title="Autre salon", scheduled_at=now + dt.timedelta(days=1)
    )
    token = Membership.objects.get(room=room, user=user).calendar_token
    response = client.get(reverse("archive:calendar", args=[token]))
    return response


def test_feed_is_a_calendar_of_the_rooms_upcoming_meetings_only(feed):
    """Only the scheduled meetings of the member's room are in the feed."""
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("text/calendar")
    body = feed.content.decode()
    unfolded = body.replace("\r\n ", "")
    assert body.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:")
    assert body.endswith("END:VCALENDAR\r\n")
    assert unfolded.count("BEGIN:VEVENT") == 1
    assert "Déjà finie" not in unfolded and "Autre salon" not in unfolded
    assert "SUMMARY:Séance de février\\, spéciale « prix »\\; venez" in unfolded
    assert "X-WR-CALNAME:Pause · Pause\\, Lyon\\; centre" in unfolded
    for key in ("UID:", "DTSTAMP:", "DTSTART:", "DTEND:"):
        assert key in unfolded


def test_feed_lines_end_in_crlf_and_fold_at_75_octets(feed):
    """Every line ends with CRLF and is at most 75 octets; continuations start with a
    space."""
    body = feed.content
    assert b"\n" not in body.replace(b"\r\n", b"")
    lines = body.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines)
    lines[0].decode("utf-8")  # folding never splits a UTF-8 character
    for line in lines:
        line.decode("utf-8")


def test_unknown_token_is_404(client):
    """A wrong token gives nothing away."""
    url = reverse("archive:calendar", args=["x" * 32])
    assert client.get(url).status_code == 404


def test_text_escaping_and_folding_follow_rfc_5545():
    """Backslash, semicolon, comma and newline are escaped; folding keeps characters."""
    assert escape_text("a\\b;c,d\ne") == "a\\\\b\\;c\\,d\\ne"
    folded = fold("SUMMARY:" + "é" * 80)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts)
    assert "".join(p[1:] if i else p for i, p in enumerate(parts)) == "SUMMARY:" + "é" * 80


def test_a_live_meeting_stays_in_the_feed_until_it_ends(client, room_factory, member_factory):
    """A meeting that has started but not ended is still listed."""
    room = room_factory()
    user = member_factory(room)
    Meeting.objects.create(
        room=room, title="En cours", scheduled_at=timezone.now(), state=MeetingState.LIVE
    )
    token = Membership.objects.get(room=room, user=user).calendar_token
    assert "En cours" in client.get(reverse("archive:calendar", args=[token])).content.decode()
