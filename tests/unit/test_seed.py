"""The demo seed: the room, its people with working logins, three meetings in three
states with real content, and --once that does nothing the second time."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from rooms.management.commands.seed_demo import DEMO_PASSWORD, DEMO_ROOM
from rooms.models import (
    Action,
    Idea,
    Meeting,
    MeetingEvent,
    Room,
    Summary,
    Takeaway,
    User,
    Vote,
)

pytestmark = pytest.mark.django_db

LOGINS = [
    "animatrice@pause.example",
    "claire@pause.example",
    "ines@pause.example",
    "sophie@pause.example",
]


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seeded(capsys):
    call_command("seed_demo", "--once")
    return capsys.readouterr().out


def test_seed_creates_the_demo_room(seeded):
    """One room, four members, one meeting in each state, content in each of them."""
    room = Room.objects.get(name=DEMO_ROOM)
    assert room.memberships.count() == 4
    assert room.memberships.get(user__email=LOGINS[0]).role == "owner"
    states = dict(room.meetings.values_list("state", "format"))
    assert set(states) == {"scheduled", "live", "ended"}
    live = room.meetings.get(state="live")
    ended = room.meetings.get(state="ended")
    assert live.format == "hot-seat" and live.challenges.exists()
    assert Idea.objects.filter(meeting=live).exists()
    assert Idea.objects.filter(meeting=ended).count() >= 6
    assert Vote.objects.filter(idea__meeting=ended).exists()
    assert Action.objects.filter(challenge__meeting=ended).exists()
    assert Takeaway.objects.filter(meeting=ended).exists()
    assert Summary.objects.filter(meeting=ended).exists()
    # Written through the services: every change is in the event log.
    assert MeetingEvent.objects.filter(meeting=live).count() == live.last_seq > 0


def test_seed_prints_the_url_and_logins(seeded):
    """The command says where to go and how to log in."""
    assert "http://127.0.0.1:8000/" in seeded
    for email in LOGINS:
        assert email in seeded
    assert DEMO_PASSWORD in seeded


def test_seed_logins_work(seeded, client):
    """Every demo account logs in with the printed password (its email is verified)."""
    for email in LOGINS:
        response = client.post(
            reverse("account_login"), {"login": email, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 302, email
        assert int(client.session["_auth_user_id"]) == User.objects.get(email=email).pk
        client.logout()


def test_seed_once_is_idempotent_and_a_plain_run_rebuilds(seeded, capsys):
    """--once leaves an existing demo untouched; without it the demo is rebuilt from
    scratch, not duplicated."""
    counts = (Room.objects.count(), Meeting.objects.count(), Idea.objects.count())
    call_command("seed_demo", "--once")
    assert "nothing to do" in capsys.readouterr().out
    assert (Room.objects.count(), Meeting.objects.count(), Idea.objects.count()) == counts
    call_command("seed_demo")
    assert Room.objects.filter(name=DEMO_ROOM).count() == 1
    assert Meeting.objects.count() == 3
    assert User.objects.filter(email__in=LOGINS).count() == 4


def test_demo_pages_render(seeded, client):
    """The demo room, its meetings and the home page render for the facilitator."""
    client.force_login(User.objects.get(email=LOGINS[0]))
    room = Room.objects.get(name=DEMO_ROOM)
    assert client.get(reverse("rooms:home")).status_code == 200
    assert client.get(room.get_absolute_url()).status_code == 200
    for meeting in room.meetings.all():
        assert client.get(meeting.get_absolute_url()).status_code == 200


def test_the_demo_ended_meeting_has_a_published_two_hour_summary(seeded):
    """Demo members find the ended meeting in the archive and in search."""
    import datetime as dt

    from rooms.models import Meeting

    ended = Meeting.objects.get(room__name="Pause entrepreneuses", state="ended")
    assert ended.summary.published_at is not None
    assert ended.ended_at - ended.started_at == dt.timedelta(hours=2)
