"""Guests: people without an account who join one meeting through its guest link.

A guest is a ``Participant`` with a random ``guest_key`` (kept in a signed cookie by
``rooms.guests``) and no user; the phase rules give guests ideas, questions, votes,
reactions, replies and takeaways, never the room's archive or its other meetings.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rooms.errors import Forbidden, Invalid, NotFound, WrongPhase
from rooms.limits import DISPLAY_NAME_MAX
from rooms.models import Invite, Meeting, MeetingState, Membership, Participant, User
from rooms.services.meetings import participant_join

__all__ = ["guest_invite_create", "guest_invite_get", "guest_invite_revoke", "guest_join"]

GUESTS_NOT_ALLOWED = _("This room does not welcome guests.")
GUEST_LINK_UNKNOWN = _("This guest link does not exist or is no longer valid.")
MEETING_OVER = _("This meeting has ended.")


def _require_facilitator(user: User, meeting: Meeting) -> None:
    ok = Membership.objects.filter(
        room_id=meeting.room_id, user=user, role__in=("owner", "facilitator")
    ).exists()
    if not ok:
        raise Forbidden(_("Only the room's owners and facilitators can do this."))


@transaction.atomic
def guest_invite_create(*, actor: User, meeting: Meeting) -> Invite:
    """The meeting's guest link (one usable link at a time; created when missing)."""
    _require_facilitator(actor, meeting)
    if not meeting.room.allow_guests:
        raise Forbidden(GUESTS_NOT_ALLOWED)
    existing = Invite.objects.filter(meeting=meeting, revoked_at__isnull=True).first()
    if existing is not None and existing.is_usable():
        return existing
    return Invite.objects.create(room_id=meeting.room_id, meeting=meeting, created_by=actor)


@transaction.atomic
def guest_invite_revoke(*, actor: User, meeting: Meeting) -> int:
    """Revoke the meeting's guest links; guests already in stay until removed."""
    _require_facilitator(actor, meeting)
    return Invite.objects.filter(meeting=meeting, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def guest_invite_get(token: str) -> Invite:
    invite = (
        Invite.objects.select_related("meeting", "room")
        .filter(token=token, meeting__isnull=False)
        .first()
    )
    if invite is None or not invite.is_usable():
        raise NotFound(GUEST_LINK_UNKNOWN)
    if not invite.room.allow_guests:
        raise Forbidden(GUESTS_NOT_ALLOWED)
    if invite.meeting.state == MeetingState.ENDED:
        raise WrongPhase(MEETING_OVER)
    return invite


def guest_join(*, token: str, display_name: str, guest_key: uuid.UUID | None = None) -> Participant:
    """Join the meeting of a guest link as a guest; the same ``guest_key`` (from the
    browser's cookie) gives back the same participant."""
    invite = guest_invite_get(token)
    name = (display_name or "").strip()
    if not name:
        raise Invalid(_("Tell the others your name."), field="display_name")
    if len(name) > DISPLAY_NAME_MAX:
        raise Invalid(
            _("Use at most %(max)d characters.") % {"max": DISPLAY_NAME_MAX}, field="display_name"
        )
    participant = participant_join(
        meeting=invite.meeting, guest_key=guest_key or uuid.uuid4(), display_name=name
    )
    if participant.removed:
        raise Forbidden(_("A facilitator removed you from this meeting."))
    Invite.objects.filter(pk=invite.pk).update(uses=invite.uses + 1)
    return participant
