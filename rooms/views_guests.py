"""Guest pages: join one meeting from its guest link with a display name, no account."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rooms import services
from rooms.errors import DomainError
from rooms.guests import guest_key_for, remember_guest
from rooms.models import Membership, Participant
from rooms.selectors_rooms import meeting_get_or_404, membership_get_or_404


def _invite_or_error_page(request: HttpRequest, token: str):
    try:
        return services.guest_invite_get(token), None
    except DomainError as e:
        return None, render(request, "rooms/guest_invalid.html", {"message": e.message}, status=404)


@require_http_methods(["GET", "POST"])
def guest_join(request: HttpRequest, token: str) -> HttpResponse:
    invite, error = _invite_or_error_page(request, token)
    if error is not None:
        return error
    meeting = invite.meeting
    if (
        request.user.is_authenticated
        and Membership.objects.filter(room_id=meeting.room_id, user=request.user).exists()
    ):
        return redirect(meeting.get_absolute_url())
    key = guest_key_for(request.COOKIES, meeting.pk)
    known = key and Participant.objects.filter(meeting=meeting, guest_key=key, removed=False)
    if request.method == "GET" and known and known.exists():
        return redirect("guests:board", token=token)
    error_message = None
    name = ""
    if request.method == "POST":
        name = request.POST.get("display_name", "")
        try:
            participant = services.guest_join(token=token, display_name=name, guest_key=key)
        except DomainError as e:
            error_message = e.message
        else:
            response = redirect("guests:board", token=token)
            remember_guest(
                response,
                request.COOKIES,
                meeting.pk,
                participant.guest_key,
                secure=request.is_secure(),
            )
            return response
    return render(
        request,
        "rooms/guest_join.html",
        {"meeting": meeting, "room": invite.room, "error": error_message, "name": name},
        status=400 if error_message else 200,
    )


def guest_board(request: HttpRequest, token: str) -> HttpResponse:
    invite, error = _invite_or_error_page(request, token)
    if error is not None:
        return error
    meeting = invite.meeting
    key = guest_key_for(request.COOKIES, meeting.pk)
    participant = (
        Participant.objects.filter(meeting=meeting, guest_key=key).first() if key else None
    )
    if participant is None:
        return redirect("guests:join", token=token)
    if participant.removed:
        raise Http404
    return render(
        request,
        "rooms/guest_board.html",
        {"meeting": meeting, "room": invite.room, "participant": participant},
    )


def guest_link(request: HttpRequest, room_id: int, meeting_id: int) -> HttpResponse:
    """Facilitators create (or revoke) the meeting's guest link."""
    # Membership first: a non-member gets 404 whatever the method.
    membership = membership_get_or_404(request.user, room_id)
    meeting = meeting_get_or_404(membership, meeting_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        if request.POST.get("action") == "revoke":
            services.guest_invite_revoke(actor=request.user, meeting=meeting)
            messages.success(request, _("The guest link was revoked."))
        else:
            services.guest_invite_create(actor=request.user, meeting=meeting)
            messages.success(request, _("The guest link is ready: share it with your guests."))
    except DomainError as e:
        messages.error(request, e.message)
    return redirect(reverse("rooms:meeting", args=[room_id, meeting_id]) + "#guests")
