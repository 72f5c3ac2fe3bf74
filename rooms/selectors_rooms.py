"""Room-level reads for the HTTP pages: a user's rooms, a room's members, meetings and
invite links, a meeting's agenda.

Privacy rule: rooms are private. Every view under ``/rooms/<room_id>/`` starts with
``membership_get_or_404``, so a non-member (or an anonymous visitor) gets the same 404 as
for a room that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from rooms.models import (
    Challenge,
    ChallengeStatus,
    Invite,
    Meeting,
    MeetingState,
    Membership,
    Role,
    Room,
    User,
)

ROLE_ORDER = {Role.OWNER: 0, Role.FACILITATOR: 1, Role.MEMBER: 2}


def membership_get_or_404(user: User, room_id: int) -> Membership:
    """The user's membership of the room, or 404 for anyone else (anonymous included)."""
    if user is None or not user.is_authenticated:
        raise Http404
    membership = (
        Membership.objects.select_related("room", "user").filter(room_id=room_id, user=user).first()
    )
    if membership is None:
        raise Http404
    return membership


def meeting_get_or_404(membership: Membership, meeting_id: int) -> Meeting:
    """A meeting of the member's room, or 404 (a meeting id of another room is unknown)."""
    meeting = Meeting.objects.filter(room_id=membership.room_id, pk=meeting_id).first()
    if meeting is None:
        raise Http404
    return meeting


def invite_get_or_404(membership: Membership, invite_id: int) -> Invite:
    invite = (
        Invite.objects.select_related("room")
        .filter(room_id=membership.room_id, pk=invite_id, meeting__isnull=True)
        .first()
    )
    if invite is None:
        raise Http404
    return invite


def room_membership_get_or_404(membership: Membership, membership_id: int) -> Membership:
    """Another membership of the same room, or 404."""
    target = (
        Membership.objects.select_related("room", "user")
        .filter(room_id=membership.room_id, pk=membership_id)
        .first()
    )
    if target is None:
        raise Http404
    return target


def invite_get_by_token(token: str) -> Invite | None:
    return (
        Invite.objects.select_related("room")
        .filter(token=token, meeting__isnull=True)
        .annotate(member_count=Count("room__memberships"))
        .first()
    )


@dataclass(frozen=True)
class RoomCard:
    room: Room
    role: str
    member_count: int
    next_meeting: Meeting | None
    live_meeting: Meeting | None


def rooms_list_for_user(user: User) -> list[RoomCard]:
    """The user's rooms with their role, size, live meeting and next scheduled meeting."""
    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("room")
        .annotate(member_count=Count("room__memberships", distinct=True))
        .order_by("room__name")
    )
    room_ids = [m.room_id for m in memberships]
    live: dict[int, Meeting] = {}
    upcoming: dict[int, Meeting] = {}
    for meeting in Meeting.objects.filter(
        room_id__in=room_ids, state__in=[MeetingState.LIVE, MeetingState.SCHEDULED]
    ).order_by("scheduled_at"):
        target = live if meeting.state == MeetingState.LIVE else upcoming
        target.setdefault(meeting.room_id, meeting)
    return [
        RoomCard(
            room=m.room,
            role=m.role,
            member_count=m.member_count,
            next_meeting=upcoming.get(m.room_id),
            live_meeting=live.get(m.room_id),
        )
        for m in memberships
    ]


def room_members_list(room: Room) -> list[Membership]:
    """Members, owners first, then facilitators, then by name."""
    members = list(Membership.objects.filter(room=room).select_related("user"))
    members.sort(key=lambda m: (ROLE_ORDER.get(m.role, 9), m.user.public_name.casefold()))
    return members


def _with_agenda_count(qs: QuerySet[Meeting]) -> QuerySet[Meeting]:
    return qs.annotate(
        challenge_count=Count("challenges", filter=Q(challenges__status=ChallengeStatus.ACTIVE))
    )


def room_meetings_upcoming(room: Room) -> list[Meeting]:
    """Live meetings first, then scheduled ones, soonest first."""
    meetings = _with_agenda_count(
        Meeting.objects.filter(room=room, state__in=[MeetingState.LIVE, MeetingState.SCHEDULED])
    )
    return sorted(meetings, key=lambda m: (m.state != MeetingState.LIVE, m.scheduled_at))


def room_meetings_past(room: Room, *, limit: int = 50) -> list[Meeting]:
    """Ended meetings, most recent first."""
    return list(
        _with_agenda_count(Meeting.objects.filter(room=room, state=MeetingState.ENDED)).order_by(
            "-scheduled_at"
        )[:limit]
    )


def room_invites_list(room: Room) -> list[Invite]:
    """The room's member invite links, newest first (guest links are per meeting)."""
    invites = list(
        Invite.objects.filter(room=room, meeting__isnull=True)
        .select_related("created_by")
        .order_by("-created_at")
    )
    now = timezone.now()
    for invite in invites:
        invite.usable = invite.is_usable(now)
        invite.expired = invite.expires_at is not None and invite.expires_at <= now
    return invites


def meeting_agenda(meeting: Meeting) -> list[Challenge]:
    """The meeting's challenges still on the agenda, in order, with their owner."""
    return list(
        meeting.challenges.filter(status=ChallengeStatus.ACTIVE)
        .select_related("owner")
        .order_by("position", "id")
    )


def live_meetings_for_user(user: User) -> list[Meeting]:
    """Meetings live right now in the user's rooms (for the home page banner)."""
    return list(
        Meeting.objects.filter(state=MeetingState.LIVE, room__memberships__user=user)
        .select_related("room")
        .order_by("started_at")
    )


def guest_invite_for(meeting: Meeting) -> Invite | None:
    """The meeting's usable guest link, if a facilitator made one."""
    for invite in Invite.objects.filter(meeting=meeting, revoked_at__isnull=True):
        if invite.is_usable():
            return invite
    return None
