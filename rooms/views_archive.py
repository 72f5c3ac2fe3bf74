"""Archive pages: a room's past meetings, a meeting's summary, exports, "my challenges and
actions", search and the calendar feed.

Transport only: every page resolves the visitor's membership first (404 for anyone else,
as for the other room pages), then asks ``rooms.archive_policy`` what this visitor may
see; writes go through ``rooms.services.archive``.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from rooms import exports
from rooms import search as archive_search
from rooms.archive_policy import (
    FACILITATOR_ROLES,
    archived_meetings,
    challenge_access,
    meeting_role,
    summary_for,
)
from rooms.calendar_feed import calendar_for_membership
from rooms.errors import DomainError
from rooms.models import (
    Action,
    Challenge,
    ChallengeStatus,
    Consent,
    MeetingState,
    Membership,
    Room,
    Summary,
)
from rooms.selectors_rooms import meeting_get_or_404, membership_get_or_404
from rooms.services import archive as archive_services
from rooms.summaries import summary_build, summary_display

ARCHIVE_PAGE_SIZE = 20


def _summary_or_404(request: HttpRequest, room_id: int, meeting_id: int):
    """The membership, meeting, summary and the visitor's view of it, or 404."""
    membership = membership_get_or_404(request.user, room_id)
    meeting = meeting_get_or_404(membership, meeting_id)
    if meeting.state != MeetingState.ENDED:
        raise Http404
    role = meeting_role(meeting, request.user)
    if role is None:
        raise Http404
    summary = Summary.objects.filter(meeting=meeting).select_related("meeting").first()
    if summary is None:
        if role not in FACILITATOR_ROLES:
            raise Http404
        # A meeting ended before the archive existed: build its summary on first visit.
        with transaction.atomic():
            summary = summary_build(meeting=meeting)
    data = summary_for(summary, request.user, role=role)
    if data is None:
        raise Http404
    return membership, meeting, summary, data


@require_GET
def room_archive(request: HttpRequest, room_id: int) -> HttpResponse:
    """A room's ended meetings, newest first; drafts only for facilitators."""
    membership = membership_get_or_404(request.user, room_id)
    meetings = (
        archived_meetings(request.user)
        .filter(room_id=membership.room_id)
        .select_related("summary")
        .order_by("-ended_at", "-scheduled_at", "-pk")
    )
    page = Paginator(meetings, ARCHIVE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "rooms/archive/room_archive.html",
        {"membership": membership, "room": membership.room, "page": page},
    )


@require_GET
def summary_page(request: HttpRequest, room_id: int, meeting_id: int) -> HttpResponse:
    membership, meeting, summary, data = _summary_or_404(request, room_id, meeting_id)
    return render(
        request,
        "rooms/archive/summary.html",
        {
            "membership": membership,
            "room": membership.room,
            "meeting": meeting,
            "summary": summary,
            "s": summary_display(data),
            "consent_choices": Consent.choices,
        },
    )


@require_POST
def summary_edit(request: HttpRequest, room_id: int, meeting_id: int) -> HttpResponse:
    _m, meeting, summary, data = _summary_or_404(request, room_id, meeting_id)
    if not data["viewer"]["can_facilitate"]:
        raise Http404
    try:
        archive_services.summary_edit(
            summary=summary,
            user=request.user,
            intro=request.POST.get("intro", ""),
            conclusion=request.POST.get("conclusion", ""),
        )
        messages.success(request, _("The summary was saved."))
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("archive:summary", room_id, meeting.pk)


@require_POST
def summary_publish(request: HttpRequest, room_id: int, meeting_id: int) -> HttpResponse:
    _m, meeting, summary, data = _summary_or_404(request, room_id, meeting_id)
    if not data["viewer"]["can_facilitate"]:
        raise Http404
    try:
        archive_services.summary_publish(
            summary=summary, user=request.user, base_url=request.build_absolute_uri("/")
        )
        messages.success(request, _("The summary is published and was emailed once."))
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("archive:summary", room_id, meeting.pk)


@require_POST
def challenge_consent(
    request: HttpRequest, room_id: int, meeting_id: int, challenge_id: int
) -> HttpResponse:
    membership = membership_get_or_404(request.user, room_id)
    meeting = meeting_get_or_404(membership, meeting_id)
    challenge = Challenge.objects.filter(meeting=meeting, pk=challenge_id).first()
    if challenge is None or meeting.state != MeetingState.ENDED:
        raise Http404
    try:
        archive_services.challenge_consent_set(
            challenge=challenge, user=request.user, consent=request.POST.get("consent", "")
        )
        messages.success(request, _("Your choice for the archive is saved."))
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("archive:summary", room_id, meeting.pk)


@require_GET
def meeting_export(request: HttpRequest, room_id: int, meeting_id: int, fmt: str) -> HttpResponse:
    data = _summary_or_404(request, room_id, meeting_id)[3]
    body, content_type = exports.export(data, fmt)
    response = HttpResponse(body, content_type=content_type)
    name = exports.filename(data, fmt)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def my_actions(request: HttpRequest) -> HttpResponse:
    """The visitor's own challenges and actions in the ended meetings of their rooms."""
    rooms = Membership.objects.filter(user=request.user).values("room_id")
    challenges = (
        Challenge.objects.filter(
            owner__user=request.user,
            status=ChallengeStatus.ACTIVE,
            meeting__state=MeetingState.ENDED,
            meeting__room_id__in=rooms,
        )
        .select_related("meeting__room")
        .order_by("-meeting__ended_at", "position")
    )
    actions = (
        Action.objects.filter(
            owner__user=request.user,
            challenge__status=ChallengeStatus.ACTIVE,
            challenge__meeting__state=MeetingState.ENDED,
            challenge__meeting__room_id__in=rooms,
        )
        .select_related("challenge__meeting__room", "challenge__owner")
        .order_by("status", "due_date", "-pk")
    )
    return render(
        request,
        "rooms/archive/my_actions.html",
        {"challenges": challenges, "actions": actions},
    )


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@login_required
@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    room_id = _int(request.GET.get("room"))
    owner_id = _int(request.GET.get("owner"))
    date_from, date_to = _date(request.GET.get("from")), _date(request.GET.get("to"))
    page = _int(request.GET.get("page")) or 1
    rooms = Room.objects.filter(memberships__user=request.user).order_by("name")
    if room_id and not rooms.filter(pk=room_id).exists():
        room_id = None
    results = archive_search.search(
        user=request.user,
        query=q,
        room_id=room_id,
        date_from=date_from,
        date_to=date_to,
        owner_id=owner_id,
        page=page,
    )
    return render(
        request,
        "rooms/archive/search.html",
        {
            "q": q,
            "results": results,
            "rooms": rooms,
            "owners": _owner_choices(request.user),
            "room_id": room_id,
            "owner_id": owner_id,
            "date_from": date_from,
            "date_to": date_to,
        },
    )


def _owner_choices(user) -> list[tuple[int, str]]:
    """Challenge owners the visitor may filter by: names they may see in the archive."""
    owners: dict[int, str] = {}
    challenges = (
        Challenge.objects.filter(
            meeting__in=archived_meetings(user),
            status=ChallengeStatus.ACTIVE,
            owner__user__isnull=False,
        )
        .select_related("owner__user")
        .order_by("owner__display_name")
    )
    for c in challenges:
        access = challenge_access(consent=c.consent, owner_user_id=c.owner.user_id, user=user)
        if access.visible and access.names:
            owners.setdefault(c.owner.user_id, c.owner.display_name)
    return sorted(owners.items(), key=lambda item: item[1].lower())


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A member's private iCalendar feed of their room's upcoming meetings (no login:
    calendar applications cannot log in; the token is the secret)."""
    membership = (
        Membership.objects.select_related("room", "user").filter(calendar_token=token).first()
    )
    if membership is None:
        raise Http404
    body = calendar_for_membership(membership, base_url=request.build_absolute_uri("/"))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="pause.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
