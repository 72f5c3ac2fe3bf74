"""Rooms and roles: creating a room, promoting and demoting facilitators, removing
members, leaving, scheduling meetings; through the services and through the pages."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from rooms import services
from rooms.errors import Conflict, Forbidden, Invalid
from rooms.models import Meeting, MeetingFormat, Membership, Role, Room
from rooms.services.rooms import LAST_OWNER

pytestmark = pytest.mark.django_db


def test_room_create_makes_the_creator_its_owner(user_factory):
    """The creator of a room becomes its one owner."""
    user = user_factory()
    room = services.room_create(user=user, name="  Atelier  ", description="Nous.")
    assert room.name == "Atelier"
    assert list(room.memberships.values_list("user_id", "role")) == [(user.pk, Role.OWNER)]


def test_room_create_refuses_an_empty_name(user_factory):
    """A room needs a name; nothing is created without one."""
    with pytest.raises(Invalid) as error:
        services.room_create(user=user_factory(), name="   ")
    assert error.value.field == "name"
    assert not Room.objects.exists()


def test_owner_promotes_and_demotes_a_facilitator(room_factory, member_factory):
    """An owner makes a member facilitator and back."""
    room = room_factory()
    owner = room.memberships.get().user
    member = member_factory(room)
    membership = Membership.objects.get(room=room, user=member)
    services.membership_set_role(actor=owner, membership=membership, role=Role.FACILITATOR)
    assert Membership.objects.get(pk=membership.pk).role == Role.FACILITATOR
    services.membership_set_role(actor=owner, membership=membership, role=Role.MEMBER)
    assert Membership.objects.get(pk=membership.pk).role == Role.MEMBER


@pytest.mark.parametrize("role", [Role.FACILITATOR, Role.MEMBER])
def test_only_owners_change_roles(room_factory, member_factory, role):
    """Facilitators and members cannot change anyone's role."""
    room = room_factory()
    actor = member_factory(room, role=role)
    target = Membership.objects.get(room=room, user=member_factory(room))
    with pytest.raises(Forbidden):
        services.membership_set_role(actor=actor, membership=target, role=Role.FACILITATOR)
    assert Membership.objects.get(pk=target.pk).role == Role.MEMBER


def test_the_last_owner_cannot_demote_herself(room_factory):
    """A room always keeps an owner."""
    room = room_factory()
    membership = room.memberships.get()
    with pytest.raises(Conflict) as error:
        services.membership_set_role(actor=membership.user, membership=membership, role=Role.MEMBER)
    assert error.value.message == LAST_OWNER
    assert room.memberships.get().role == Role.OWNER


def test_owner_removes_a_member(room_factory, member_factory):
    """An owner removes a member; a facilitator cannot."""
    room = room_factory()
    owner = room.memberships.get().user
    facilitator = member_factory(room, role=Role.FACILITATOR)
    member = member_factory(room)
    target = Membership.objects.get(room=room, user=member)
    with pytest.raises(Forbidden):
        services.membership_remove(actor=facilitator, membership=target)
    services.membership_remove(actor=owner, membership=target)
    assert not Membership.objects.filter(room=room, user=member).exists()


def test_a_member_leaves_but_the_last_owner_cannot(room_factory, member_factory):
    """Members leave freely; the only owner must hand over first."""
    room = room_factory()
    owner = room.memberships.get().user
    member = member_factory(room)
    services.membership_leave(user=member, room=room)
    assert not Membership.objects.filter(room=room, user=member).exists()
    with pytest.raises(Conflict):
        services.membership_leave(user=owner, room=room)
    co_owner = member_factory(room, role=Role.OWNER)
    services.membership_leave(user=owner, room=room)
    assert list(room.memberships.values_list("user_id", flat=True)) == [co_owner.pk]


def test_meeting_schedule_is_for_facilitators(room_factory, member_factory):
    """Owners and facilitators schedule meetings; members cannot."""
    room = room_factory()
    when = timezone.now() + dt.timedelta(days=3)
    facilitator = member_factory(room, role=Role.FACILITATOR)
    meeting = services.meeting_schedule(
        actor=facilitator, room=room, title="Pause", scheduled_at=when, format="open"
    )
    assert (meeting.room, meeting.state, meeting.format) == (room, "scheduled", "open")
    with pytest.raises(Forbidden):
        services.meeting_schedule(
            actor=member_factory(room), room=room, title="Non", scheduled_at=when
        )
    assert Meeting.objects.filter(room=room).count() == 1


def test_create_room_page(client, user_factory):
    """The create page makes a room and lands on it, with the creator as owner."""
    user = user_factory()
    client.force_login(user)
    response = client.post(
        reverse("rooms:room_create"), {"name": "Les Audacieuses", "description": "Lyon"}
    )
    room = Room.objects.get(name="Les Audacieuses")
    assert response.status_code == 302
    assert response["Location"] == room.get_absolute_url()
    assert room.memberships.get().user == user
    page = client.get(room.get_absolute_url())
    assert "Les Audacieuses" in page.content.decode()


def test_room_page_lists_members_and_meetings(
    client, room_factory, member_factory, meeting_factory
):
    """The room page shows its description, members with roles, upcoming and past meetings."""
    room = room_factory(description="Deux lundis par mois.")
    member = member_factory(room, display_name="Claire")
    meeting_factory(room=room, title="Prochaine Pause")
    meeting_factory(
        room=room,
        title="Pause passée",
        state="ended",
        scheduled_at=timezone.now() - dt.timedelta(days=10),
    )
    client.force_login(member)
    html = client.get(room.get_absolute_url()).content.decode()
    assert "Deux lundis par mois." in html
    assert "Claire" in html
    assert html.index("Prochaine Pause") < html.index("Pause passée")


def test_member_cannot_open_facilitator_pages(client, room_factory, member_factory):
    """A plain member gets 403 on scheduling and invites: she knows the room exists."""
    room = room_factory()
    client.force_login(member_factory(room))
    assert client.get(reverse("rooms:meeting_create", args=[room.pk])).status_code == 403
    assert client.get(reverse("rooms:invites", args=[room.pk])).status_code == 403


def test_schedule_meeting_page(client, room_factory, member_factory):
    """A facilitator schedules a meeting from the form and lands on its page."""
    room = room_factory()
    client.force_login(member_factory(room, role=Role.FACILITATOR))
    url = reverse("rooms:meeting_create", args=[room.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {"title": "Pause de mars", "scheduled_at": "2031-03-03T18:30", "format": "hot-seat"},
    )
    meeting = Meeting.objects.get(room=room)
    assert response["Location"] == meeting.get_absolute_url()
    assert (meeting.title, meeting.format) == ("Pause de mars", MeetingFormat.HOT_SEAT)
    assert timezone.localtime(meeting.scheduled_at).hour == 18


def test_role_and_remove_pages(client, room_factory, member_factory):
    """The owner promotes then removes a member from the room page's forms."""
    room = room_factory()
    owner = room.memberships.get().user
    member = member_factory(room)
    membership = Membership.objects.get(room=room, user=member)
    client.force_login(owner)
    client.post(
        reverse("rooms:member_role", args=[room.pk, membership.pk]), {"role": "facilitator"}
    )
    assert Membership.objects.get(pk=membership.pk).role == Role.FACILITATOR
    client.post(reverse("rooms:member_remove", args=[room.pk, membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_leave_page_for_the_last_owner_shows_why(client, room_factory):
    """The last owner who tries to leave stays, and is told why."""
    room = room_factory()
    owner = room.memberships.get().user
    client.force_login(owner)
    response = client.post(reverse("rooms:room_leave", args=[room.pk]), follow=True)
    assert Membership.objects.filter(room=room, user=owner).exists()
    with translation.override(response["Content-Language"]):
        assert escape(str(LAST_OWNER)) in response.content.decode()


def test_meeting_page_shows_the_agenda_and_the_board(client, meeting_factory, member_factory):
    """A scheduled meeting's page lists its challenges in order, with owner and ask, and
    mounts the board."""
    meeting = meeting_factory(format="hot-seat")
    user = member_factory(meeting.room, display_name="Inès")
    owner = services.participant_join(meeting=meeting, user=user)
    for title, ask in (("Premiers clients B2B", "Par où commencer ?"), ("Atelier partagé", "")):
        services.challenge_post(actor=owner, title=title, ask=ask)
    client.force_login(user)
    html = client.get(meeting.get_absolute_url()).content.decode()
    assert html.index("Premiers clients B2B") < html.index("Atelier partagé")
    assert "Par où commencer ?" in html and "Inès" in html
    assert 'id="board"' in html


def test_ended_meeting_page_has_no_board(client, meeting_factory, member_factory):
    """An ended meeting is read-only: no board on its page."""
    meeting = meeting_factory(state="ended")
    client.force_login(member_factory(meeting.room))
    response = client.get(meeting.get_absolute_url())
    assert response.status_code == 200
    assert 'id="board"' not in response.content.decode()
