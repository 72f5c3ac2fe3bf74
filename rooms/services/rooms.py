"""Room-level writes: rooms, invite links, memberships and scheduling meetings.

Each function is one transaction, checks the actor's role itself and raises a
``rooms.errors.DomainError`` with a stable code when a rule refuses the change. Views call
these functions and nothing else writes rooms, invites or memberships.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rooms import broadcast
from rooms.errors import Conflict, Forbidden, Invalid, NotFound
from rooms.models import Invite, Meeting, MeetingFormat, Membership, Role, Room, User

__all__ = [
    "invite_accept",
    "invite_check",
    "invite_create",
    "invite_revoke",
    "meeting_schedule",
    "membership_leave",
    "membership_remove",
    "membership_set_role",
    "room_create",
    "room_update",
]

ROOM_NAME_MAX = 120
MEETING_TITLE_MAX = 160

# Messages the tests import, so they check the rule, not the prose.
INVITE_EXPIRED = _("This invite link has expired. Ask a facilitator of the room for a new one.")
INVITE_REVOKED = _("This invite link was revoked. Ask a facilitator of the room for a new one.")
INVITE_UNKNOWN = _("This invite link does not exist.")
LAST_OWNER = _("A room needs at least one owner: make someone else owner first.")
NOT_OWNER = _("Only an owner of the room can do this.")
NOT_FACILITATOR = _("Only the room's owners and facilitators can do this.")


def _membership_for(user: User, room: Room) -> Membership | None:
    return Membership.objects.filter(room=room, user=user).first()


def _require_owner(actor: User, room: Room) -> Membership:
    membership = _membership_for(actor, room)
    if membership is None or membership.role != Role.OWNER:
        raise Forbidden(NOT_OWNER)
    return membership


def _require_facilitator(actor: User, room: Room) -> Membership:
    membership = _membership_for(actor, room)
    if membership is None or not membership.can_facilitate:
        raise Forbidden(NOT_FACILITATOR)
    return membership


def _clean_text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid(_("This field is required."), field=field)
    if len(value) > max_length:
        raise Invalid(_("Use at most %(max)d characters.") % {"max": max_length}, field=field)
    return value


@transaction.atomic
def room_create(*, user: User, name: str, description: str = "") -> Room:
    """Create a room; its creator becomes its first owner."""
    room = Room.objects.create(
        name=_clean_text(name, field="name", max_length=ROOM_NAME_MAX),
        description=_clean_text(description, field="description", max_length=2000, required=False),
    )
    Membership.objects.create(room=room, user=user, role=Role.OWNER)
    return room


@transaction.atomic
def room_update(*, actor: User, room: Room, name: str, description: str = "") -> Room:
    """Rename a room or change its description (owners only)."""
    _require_owner(actor, room)
    room.name = _clean_text(name, field="name", max_length=ROOM_NAME_MAX)
    room.description = _clean_text(
        description, field="description", max_length=2000, required=False
    )
    room.save(update_fields=["name", "description"])
    return room


@transaction.atomic
def invite_create(*, actor: User, room: Room, expires_at: dt.datetime | None = None) -> Invite:
    """Create a reusable link that makes whoever opens it (logged in) a member."""
    _require_facilitator(actor, room)
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid(_("The expiry must be in the future."), field="expires_at")
    return Invite.objects.create(room=room, created_by=actor, expires_at=expires_at)


@transaction.atomic
def invite_revoke(*, actor: User, invite: Invite) -> Invite:
    """Revoke a room invite link; revoking twice is harmless."""
    _require_facilitator(actor, invite.room)
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
    return invite


def invite_check(invite: Invite) -> None:
    """Raise the reason a room invite cannot be used now, if any."""
    if invite.revoked_at is not None:
        raise Conflict(INVITE_REVOKED)
    if invite.expires_at is not None and invite.expires_at <= timezone.now():
        raise Conflict(INVITE_EXPIRED)


@transaction.atomic
def invite_accept(*, user: User, token: str) -> tuple[Membership, bool]:
    """Make ``user`` a member of the invite's room; return (membership, created).

    The link is reusable until it expires or is revoked; a user who is already a member
    keeps their role and the link's use count does not change.
    """
    invite = (
        Invite.objects.select_for_update()
        .select_related("room")
        .filter(token=token, meeting__isnull=True)
        .first()
    )
    if invite is None:
        raise NotFound(INVITE_UNKNOWN)
    existing = _membership_for(user, invite.room)
    if existing is not None:
        return existing, False
    invite_check(invite)
    membership = Membership.objects.create(room=invite.room, user=user, role=Role.MEMBER)
    Invite.objects.filter(pk=invite.pk).update(uses=F("uses") + 1)
    return membership, True


@transaction.atomic
def membership_set_role(*, actor: User, membership: Membership, role: str) -> Membership:
    """Change a member's role (owners only); the room always keeps one owner."""
    _require_owner(actor, membership.room)
    if role not in Role.values:
        raise Invalid(_("Unknown role."), field="role")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == role:
        return membership
    if membership.role == Role.OWNER and not _other_owners(membership).exists():
        raise Conflict(LAST_OWNER)
    membership.role = role
    membership.save(update_fields=["role"])
    # Open sockets were authorized, and render what they are sent, with the old role:
    # close them; the board reconnects for a fresh welcome (docs/protocol.md, closing).
    user_id, room_id = membership.user_id, membership.room_id
    transaction.on_commit(
        lambda: broadcast.close_sockets(user_id=user_id, room_id=room_id, reason="role_changed")
    )
    return membership


@transaction.atomic
def membership_remove(*, actor: User, membership: Membership) -> None:
    """Remove someone from a room (owners only); use ``membership_leave`` for oneself."""
    _require_owner(actor, membership.room)
    if membership.user_id == actor.pk:
        raise Invalid(_("To leave the room yourself, use “Leave this room”."))
    if membership.role == Role.OWNER and not _other_owners(membership).exists():
        raise Conflict(LAST_OWNER)
    membership.delete()
    _close_live_sockets(membership)


@transaction.atomic
def membership_leave(*, user: User, room: Room) -> None:
    """Leave a room; the last owner cannot leave (the room would have no owner)."""
    membership = Membership.objects.select_for_update().filter(room=room, user=user).first()
    if membership is None:
        raise NotFound(_("You are not a member of this room."))
    if membership.role == Role.OWNER and not _other_owners(membership).exists():
        raise Conflict(LAST_OWNER)
    membership.delete()
    _close_live_sockets(membership)


def _close_live_sockets(membership: Membership) -> None:
    """Someone who is no longer a member stops receiving the room's live meetings."""
    user_id, room_id = membership.user_id, membership.room_id
    transaction.on_commit(
        lambda: broadcast.close_sockets(user_id=user_id, room_id=room_id, reason="forbidden")
    )


def _other_owners(membership: Membership):
    return Membership.objects.filter(room_id=membership.room_id, role=Role.OWNER).exclude(
        pk=membership.pk
    )


@transaction.atomic
def meeting_schedule(
    *,
    actor: User,
    room: Room,
    title: str,
    scheduled_at: dt.datetime,
    format: str = MeetingFormat.HOT_SEAT,
) -> Meeting:
    """Schedule a meeting in a room (owners and facilitators)."""
    _require_facilitator(actor, room)
    if format not in MeetingFormat.values:
        raise Invalid(_("Unknown meeting format."), field="format")
    if scheduled_at is None:
        raise Invalid(_("This field is required."), field="scheduled_at")
    return Meeting.objects.create(
        room=room,
        title=_clean_text(title, field="title", max_length=MEETING_TITLE_MAX),
        scheduled_at=scheduled_at,
        format=format,
        created_by=actor,
    )
