"""Guests join one meeting from its guest link, without an account."""

import pytest
from django.urls import reverse

from rooms import services
from rooms.errors import Forbidden, NotFound, WrongPhase
from rooms.guests import COOKIE, guest_key_for
from rooms.models import Participant, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def guest_link(meeting_factory, member_factory):
    meeting = meeting_factory()
    fac = member_factory(meeting.room, Role.FACILITATOR)
    invite = services.guest_invite_create(actor=fac, meeting=meeting)
    return meeting, fac, invite


def test_a_guest_joins_with_a_name_and_a_reload_keeps_the_same_identity(client, guest_link):
    """The signed cookie brings the same guest back; the board page opens for them."""
    meeting, _fac, invite = guest_link
    url = reverse("guests:join", args=[invite.token])
    assert client.get(url).status_code == 200
    response = client.post(url, {"display_name": "Nadia"})
    assert response.status_code == 302
    assert response["Location"] == reverse("guests:board", args=[invite.token])
    key = guest_key_for({COOKIE: response.cookies[COOKIE].value}, meeting.pk)
    guest = Participant.objects.get(meeting=meeting, guest_key=key)
    assert guest.user is None and guest.display_name == "Nadia"
    # Reload: the join page sends the known guest straight to the board.
    assert client.get(url)["Location"] == reverse("guests:board", args=[invite.token])
    board = client.get(reverse("guests:board", args=[invite.token]))
    assert board.status_code == 200
    assert b'id="board"' in board.content
    client.post(url, {"display_name": "Nadia"})
    assert Participant.objects.filter(meeting=meeting, user=None).count() == 1


def test_a_guest_sees_no_room_page(client, guest_link):
    """A guest has no account: every page of the room is a 404 or a login redirect."""
    meeting, _fac, invite = guest_link
    client.post(reverse("guests:join", args=[invite.token]), {"display_name": "Nadia"})
    response = client.get(reverse("rooms:room", args=[meeting.room_id]))
    assert response.status_code in (302, 404)
    assert meeting.room.name.encode() not in response.content


def test_an_empty_name_is_refused_and_nothing_is_created(client, guest_link):
    meeting, _fac, invite = guest_link
    response = client.post(reverse("guests:join", args=[invite.token]), {"display_name": "  "})
    assert response.status_code == 400
    assert not Participant.objects.filter(meeting=meeting).exists()


def test_revoked_link_rooms_without_guests_and_ended_meetings_refuse_guests(guest_link, client):
    meeting, fac, invite = guest_link
    services.guest_invite_revoke(actor=fac, meeting=meeting)
    with pytest.raises(NotFound):
        services.guest_join(token=invite.token, display_name="Nadia")
    assert client.get(reverse("guests:join", args=[invite.token])).status_code == 404

    invite = services.guest_invite_create(actor=fac, meeting=meeting)
    meeting.room.allow_guests = False
    meeting.room.save(update_fields=["allow_guests"])
    with pytest.raises(Forbidden):
        services.guest_join(token=invite.token, display_name="Nadia")

    meeting.room.allow_guests = True
    meeting.room.save(update_fields=["allow_guests"])
    meeting.state = "ended"
    meeting.save(update_fields=["state"])
    with pytest.raises(WrongPhase):
        services.guest_join(token=invite.token, display_name="Nadia")


def test_only_facilitators_make_guest_links(guest_link, member_factory):
    meeting, _fac, _invite = guest_link
    member = member_factory(meeting.room)
    with pytest.raises(Forbidden):
        services.guest_invite_create(actor=member, meeting=meeting)


def test_the_guest_link_view_is_404_for_non_members(client, guest_link, user_factory):
    meeting, _fac, _invite = guest_link
    client.force_login(user_factory())
    url = reverse("guests:link", args=[meeting.room_id, meeting.pk])
    assert client.post(url).status_code == 404


def test_facilitators_create_the_guest_link_from_the_meeting_page(client, guest_link):
    """The meeting page shows the guest link to facilitators, and only to them."""
    meeting, fac, invite = guest_link
    client.force_login(fac)
    page = client.get(meeting.get_absolute_url())
    assert reverse("guests:join", args=[invite.token]).encode() in page.content
    client.post(reverse("guests:link", args=[meeting.room_id, meeting.pk]), {"action": "revoke"})
    invite.refresh_from_db()
    assert invite.revoked_at is not None


def test_members_do_not_see_the_guest_link(client, guest_link, member_factory):
    meeting, _fac, invite = guest_link
    client.force_login(member_factory(meeting.room))
    page = client.get(meeting.get_absolute_url())
    assert page.status_code == 200
    assert invite.token.encode() not in page.content
