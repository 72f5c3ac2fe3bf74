"""Invite links: create, revoke, expire, reuse by several people, already a member."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from rooms import services
from rooms.errors import Conflict, Forbidden, NotFound
from rooms.models import Invite, Membership, Role
from rooms.services.rooms import INVITE_EXPIRED, INVITE_REVOKED

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(room_factory):
    return room_factory()


@pytest.fixture
def owner(room):
    return room.memberships.get().user


def test_invite_makes_a_logged_in_user_a_member(room, owner, user_factory):
    """Accepting a link adds a member with the member role and counts the use."""
    invite = services.invite_create(actor=owner, room=room)
    newcomer = user_factory()
    membership, created = services.invite_accept(user=newcomer, token=invite.token)
    assert created and membership.role == Role.MEMBER and membership.room == room
    invite.refresh_from_db()
    assert invite.uses == 1


def test_invite_link_is_reused_by_a_second_user(room, owner, user_factory):
    """One link serves the whole group: a second person joins with the same link."""
    invite = services.invite_create(actor=owner, room=room)
    first, second = user_factory(), user_factory()
    services.invite_accept(user=first, token=invite.token)
    services.invite_accept(user=second, token=invite.token)
    assert set(room.memberships.values_list("user_id", flat=True)) == {
        owner.pk,
        first.pk,
        second.pk,
    }
    invite.refresh_from_db()
    assert invite.uses == 2


def test_already_a_member_keeps_her_role(room, owner, member_factory):
    """A facilitator who opens a link again stays facilitator; nothing is counted."""
    facilitator = member_factory(room, role=Role.FACILITATOR)
    invite = services.invite_create(actor=owner, room=room)
    membership, created = services.invite_accept(user=facilitator, token=invite.token)
    assert not created and membership.role == Role.FACILITATOR
    assert Invite.objects.get(pk=invite.pk).uses == 0


def test_expired_invite_is_refused(room, owner, user_factory):
    """An expired link adds no one and says it expired."""
    invite = services.invite_create(
        actor=owner, room=room, expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    Invite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - dt.timedelta(1))
    newcomer = user_factory()
    with pytest.raises(Conflict) as error:
        services.invite_accept(user=newcomer, token=invite.token)
    assert error.value.message == INVITE_EXPIRED
    assert not Membership.objects.filter(user=newcomer).exists()


def test_revoked_invite_is_refused(room, owner, user_factory):
    """A revoked link adds no one and says it was revoked."""
    invite = services.invite_create(actor=owner, room=room)
    services.invite_revoke(actor=owner, invite=invite)
    newcomer = user_factory()
    with pytest.raises(Conflict) as error:
        services.invite_accept(user=newcomer, token=invite.token)
    assert error.value.message == INVITE_REVOKED
    assert not Membership.objects.filter(user=newcomer).exists()


def test_unknown_token_is_not_found(user_factory):
    """A made-up token is unknown."""
    with pytest.raises(NotFound):
        services.invite_accept(user=user_factory(), token="nope")


def test_members_cannot_create_or_revoke_links(room, owner, member_factory):
    """Only owners and facilitators manage invite links."""
    member = member_factory(room)
    with pytest.raises(Forbidden):
        services.invite_create(actor=member, room=room)
    invite = services.invite_create(actor=owner, room=room)
    with pytest.raises(Forbidden):
        services.invite_revoke(actor=member, invite=invite)
    assert Invite.objects.get(pk=invite.pk).revoked_at is None


def test_join_page_flow(client, room, owner, user_factory):
    """The join page shows the room and a button; posting it makes the visitor a member."""
    invite = services.invite_create(actor=owner, room=room)
    newcomer = user_factory()
    client.force_login(newcomer)
    url = reverse("rooms:join", args=[invite.token])
    page = client.get(url)
    assert page.status_code == 200 and room.name in page.content.decode()
    assert not Membership.objects.filter(user=newcomer).exists()
    response = client.post(url)
    assert response["Location"] == room.get_absolute_url()
    assert Membership.objects.filter(room=room, user=newcomer, role=Role.MEMBER).exists()


def test_join_page_sends_anonymous_visitors_to_login_and_back(client, room, owner):
    """An anonymous visitor is sent to log in, with the link as the next page."""
    invite = services.invite_create(actor=owner, room=room)
    url = reverse("rooms:join", args=[invite.token])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=" in response["Location"] and invite.token in response["Location"]


def test_join_page_with_an_expired_or_revoked_link_says_so(client, room, owner, user_factory):
    """Expired and revoked links get a clear page, never a membership."""
    expired = services.invite_create(
        actor=owner, room=room, expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    Invite.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(1))
    revoked = services.invite_create(actor=owner, room=room)
    services.invite_revoke(actor=owner, invite=revoked)
    newcomer = user_factory(language="en")
    client.force_login(newcomer)
    for invite, message in ((expired, INVITE_EXPIRED), (revoked, INVITE_REVOKED)):
        response = client.post(reverse("rooms:join", args=[invite.token]))
        assert response.status_code == 410
        with translation.override("en"):
            assert escape(str(message)) in response.content.decode()
    assert not Membership.objects.filter(user=newcomer).exists()
    assert client.get(reverse("rooms:join", args=["made-up"])).status_code == 404


def test_join_page_for_a_member_goes_to_the_room(client, room, owner):
    """A member who opens a link again is taken to the room."""
    invite = services.invite_create(actor=owner, room=room)
    client.force_login(owner)
    response = client.get(reverse("rooms:join", args=[invite.token]))
    assert response["Location"] == room.get_absolute_url()


def test_invites_page_creates_lists_and_revokes(client, room, owner):
    """A facilitator creates a link with an expiry, sees it, and revokes it."""
    client.force_login(owner)
    url = reverse("rooms:invites", args=[room.pk])
    client.post(url, {"expires_in_days": "7"})
    invite = Invite.objects.get(room=room)
    assert invite.expires_at is not None
    assert invite.token in client.get(url).content.decode()
    client.post(reverse("rooms:invite_revoke", args=[room.pk, invite.pk]))
    invite.refresh_from_db()
    assert invite.revoked_at is not None
    assert not invite.is_usable()
