"""HTTP pages: home, rooms, invite links, members, meetings, profile.

Views are transport: they parse a form, call one service or selector and render the
result. Rooms are private: every view under ``/rooms/<room_id>/`` resolves the visitor's
membership first (``room_view``), so a non-member or an anonymous visitor gets a 404 for
every URL and every method, exactly as for a room that does not exist.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _

from rooms import selectors_rooms as selectors
from rooms.errors import DomainError
from rooms.forms import InviteForm, MeetingForm, ProfileForm, RoleForm, RoomForm
from rooms.models import MeetingState, Membership, Role
from rooms.phases import PHASE_LABELS
from rooms.services import rooms as room_services


def room_view(*, methods=("GET",), facilitator=False, owner=False):
    """Resolve the visitor's membership of ``room_id`` (404 otherwise), then check the
    HTTP method and the role; the view receives the membership instead of the room id."""

    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, room_id: int, **kwargs) -> HttpResponse:
            membership = selectors.membership_get_or_404(request.user, room_id)
            if request.method not in methods:
                return HttpResponseNotAllowed(methods)
            if owner and membership.role != Role.OWNER:
                raise PermissionDenied
            if facilitator and not membership.can_facilitate:
                raise PermissionDenied
            return view(request, membership, **kwargs)

        return wrapper

    return decorator


def home(request: HttpRequest) -> HttpResponse:
    """The visitor's rooms; a landing page for anonymous visitors."""
    if not request.user.is_authenticated:
        return render(request, "rooms/landing.html")
    cards = selectors.rooms_list_for_user(request.user)
    return render(
        request,
        "rooms/home.html",
        {"cards": cards, "live_cards": [c for c in cards if c.live_meeting]},
    )


@login_required
def room_create(request: HttpRequest) -> HttpResponse:
    form = RoomForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            room = room_services.room_create(user=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_domain_error(error)
        else:
            messages.success(
                request,
                _("Your room is ready. Invite people with a link from the room page."),
            )
            return redirect(room)
    return render(request, "rooms/room_form.html", {"form": form})


@room_view(methods=("GET",))
def room_detail(request: HttpRequest, membership: Membership) -> HttpResponse:
    room = membership.room
    members = selectors.room_members_list(room)
    return render(
        request,
        "rooms/room.html",
        {
            "room": room,
            "membership": membership,
            "members": members,
            "upcoming": selectors.room_meetings_upcoming(room),
            "past": selectors.room_meetings_past(room),
            "role_choices": Role.choices,
            "is_owner": membership.role == Role.OWNER,
        },
    )


@room_view(methods=("GET", "POST"), owner=True)
def room_edit(request: HttpRequest, membership: Membership) -> HttpResponse:
    room = membership.room
    form = RoomForm(
        request.POST or None, initial={"name": room.name, "description": room.description}
    )
    if request.method == "POST" and form.is_valid():
        try:
            room_services.room_update(actor=request.user, room=room, **form.cleaned_data)
        except DomainError as error:
            form.add_domain_error(error)
        else:
            messages.success(request, _("The room was updated."))
            return redirect(room)
    return render(request, "rooms/room_form.html", {"form": form, "room": room})


@room_view(methods=("GET", "POST"), facilitator=True)
def invites(request: HttpRequest, membership: Membership) -> HttpResponse:
    """List the room's invite links and create one."""
    room = membership.room
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            room_services.invite_create(actor=request.user, room=room, expires_at=form.expires_at())
        except DomainError as error:
            form.add_domain_error(error)
        else:
            messages.success(request, _("New invite link created: copy it and share it."))
            return redirect("rooms:invites", room_id=room.pk)
    return render(
        request,
        "rooms/invites.html",
        {
            "room": room,
            "membership": membership,
            "form": form,
            "invites": selectors.room_invites_list(room),
        },
    )


@room_view(methods=("POST",), facilitator=True)
def invite_revoke(request: HttpRequest, membership: Membership, invite_id: int) -> HttpResponse:
    invite = selectors.invite_get_or_404(membership, invite_id)
    if _run(request, room_services.invite_revoke, actor=request.user, invite=invite):
        messages.success(request, _("The invite link was revoked: it no longer works."))
    return redirect("rooms:invites", room_id=membership.room_id)


@room_view(methods=("POST",), owner=True)
def member_role(request: HttpRequest, membership: Membership, membership_id: int) -> HttpResponse:
    target = selectors.room_membership_get_or_404(membership, membership_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        done = _run(
            request,
            room_services.membership_set_role,
            actor=request.user,
            membership=target,
            role=form.cleaned_data["role"],
        )
        if done:
            messages.success(
                request,
                _("%(name)s is now %(role)s.")
                % {"name": target.user.public_name, "role": Role(done.role).label},
            )
    else:
        messages.error(request, _("Unknown role."))
    return redirect(membership.room)


@room_view(methods=("POST",), owner=True)
def member_remove(request: HttpRequest, membership: Membership, membership_id: int) -> HttpResponse:
    target = selectors.room_membership_get_or_404(membership, membership_id)
    name = target.user.public_name
    if _run(request, room_services.membership_remove, actor=request.user, membership=target):
        messages.success(request, _("%(name)s was removed from the room.") % {"name": name})
    return redirect(membership.room)


@room_view(methods=("GET", "POST"))
def room_leave(request: HttpRequest, membership: Membership) -> HttpResponse:
    room = membership.room
    if request.method == "POST":
        if _run(request, room_services.membership_leave, user=request.user, room=room):
            messages.success(request, _("You left “%(room)s”.") % {"room": room.name})
            return redirect("rooms:home")
        return redirect(room)
    return render(request, "rooms/leave.html", {"room": room, "membership": membership})


@room_view(methods=("GET", "POST"), facilitator=True)
def meeting_create(request: HttpRequest, membership: Membership) -> HttpResponse:
    room = membership.room
    form = MeetingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            meeting = room_services.meeting_schedule(
                actor=request.user, room=room, **form.cleaned_data
            )
        except DomainError as error:
            form.add_domain_error(error)
        else:
            messages.success(request, _("The meeting is scheduled."))
            return redirect(meeting)
    return render(request, "rooms/meeting_form.html", {"room": room, "form": form})


@room_view(methods=("GET",))
def meeting_detail(request: HttpRequest, membership: Membership, meeting_id: int) -> HttpResponse:
    """The meeting's agenda and state; the live board mounts here while it is open."""
    meeting = selectors.meeting_get_or_404(membership, meeting_id)
    return render(
        request,
        "rooms/meeting.html",
        {
            "room": membership.room,
            "membership": membership,
            "meeting": meeting,
            "agenda": selectors.meeting_agenda(meeting),
            "phase_label": PHASE_LABELS.get(meeting.phase, meeting.phase),
            "board_enabled": meeting.state in (MeetingState.SCHEDULED, MeetingState.LIVE),
            "can_facilitate": membership.can_facilitate,
            "guest_invite": selectors.guest_invite_for(meeting)
            if membership.can_facilitate
            else None,
        },
    )


def join(request: HttpRequest, token: str) -> HttpResponse:
    """Accept a room invite link: the logged-in visitor becomes a member."""
    invite = selectors.invite_get_by_token(token)
    if invite is None:
        return render(request, "rooms/join_invalid.html", {"reason": None}, status=404)
    if not request.user.is_authenticated:
        messages.info(
            request,
            _("Log in or create an account to join “%(room)s”.") % {"room": invite.room.name},
        )
        return redirect_to_login(request.get_full_path())
    room = invite.room
    if Membership.objects.filter(room=room, user=request.user).exists():
        messages.info(request, _("You are already a member of this room."))
        return redirect(room)
    try:
        room_services.invite_check(invite)
    except DomainError as error:
        return render(request, "rooms/join_invalid.html", {"reason": error.message}, status=410)
    if request.method == "POST":
        try:
            room_services.invite_accept(user=request.user, token=token)
        except DomainError as error:
            return render(request, "rooms/join_invalid.html", {"reason": error.message}, status=410)
        messages.success(request, _("Welcome to “%(room)s”!") % {"room": room.name})
        return redirect(room)
    return render(request, "rooms/join.html", {"invite": invite, "room": room})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        response = redirect("rooms:profile")
        if user.language:
            translation.activate(user.language)
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                user.language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            )
        else:
            response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
        messages.success(request, _("Your profile was saved."))
        return response
    return render(request, "rooms/profile.html", {"form": form})


def _run(request: HttpRequest, service, **kwargs):
    """Call a service; show its domain error as a message. Returns the result, or None
    on a domain error (True when the service returns nothing)."""
    try:
        result = service(**kwargs)
    except DomainError as error:
        messages.error(request, str(error.message))
        return None
    return True if result is None else result
