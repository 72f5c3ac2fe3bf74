"""Writes to the archive of an ended meeting: the facilitators' text, publication (with
its one email to the participants) and each challenge owner's consent.

These are not meeting content (the meeting has ended, its event log is closed), so they
write no ``MeetingEvent``; each is one transaction on the locked summary or challenge.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from rooms.archive_policy import FACILITATOR_ROLES, summary_for
from rooms.errors import Forbidden, Invalid, WrongPhase
from rooms.models import Challenge, Consent, MeetingState, Membership, Summary

__all__ = ["challenge_consent_set", "summary_edit", "summary_publish"]

log = logging.getLogger(__name__)


def _require_facilitator(summary: Summary, user) -> None:
    role = (
        Membership.objects.filter(
            room_id=summary.meeting.room_id, user_id=getattr(user, "pk", None)
        )
        .values_list("role", flat=True)
        .first()
    )
    if role not in FACILITATOR_ROLES:
        raise Forbidden(_("Only the room's facilitators can edit or publish a summary."))


def _locked(summary: Summary) -> Summary:
    return Summary.objects.select_for_update().select_related("meeting__room").get(pk=summary.pk)


def summary_edit(
    *, summary: Summary, user, intro: str | None = None, conclusion: str | None = None
) -> Summary:
    """Change the facilitators' text parts (before or after publishing)."""
    fields = []
    with transaction.atomic():
        summary = _locked(summary)
        _require_facilitator(summary, user)
        for name, value in (("intro", intro), ("conclusion", conclusion)):
            if value is None:
                continue
            value = value.strip()
            limit = Summary._meta.get_field(name).max_length
            if len(value) > limit:
                raise Invalid(_("At most %(limit)d characters.") % {"limit": limit}, name)
            setattr(summary, name, value)
            fields.append(name)
        if fields:
            summary.save(update_fields=fields)
    return summary


def summary_publish(*, summary: Summary, user, base_url: str | None = None) -> Summary:
    """Publish the summary to the room's members and email it to the meeting's
    participants who have an account, once: ``emailed_at`` is set in the same
    transaction as the sending, under the summary's row lock, so publishing again (or
    twice at the same time) sends nothing more."""
    with transaction.atomic():
        summary = _locked(summary)
        _require_facilitator(summary, user)
        if summary.meeting.state != MeetingState.ENDED:
            raise WrongPhase(_("The meeting has not ended yet."))
        if summary.published_at is None:
            # Saved first: the emails are rendered by the archive policy, which lets
            # members see only published summaries.
            summary.published_at = timezone.now()
            summary.save(update_fields=["published_at"])
        if summary.emailed_at is None:
            summary_email_send(summary=summary, base_url=base_url)
            summary.emailed_at = timezone.now()
            summary.save(update_fields=["emailed_at"])
    return summary


def challenge_consent_set(*, challenge: Challenge, user, consent: str) -> Challenge:
    """The challenge owner chooses what the archive keeps of their challenge."""
    if consent not in Consent.values:
        raise Invalid(_("Unknown choice."), "consent")
    with transaction.atomic():
        challenge = (
            Challenge.objects.select_for_update().select_related("owner").get(pk=challenge.pk)
        )
        if user is None or challenge.owner.user_id is None or challenge.owner.user_id != user.pk:
            raise Forbidden(
                _("Only the owner of a challenge chooses what the archive keeps of it.")
            )
        if challenge.consent != consent:
            challenge.consent = consent
            challenge.save(update_fields=["consent"])
    return challenge


# --------------------------------------------------------------------------- email


def _site_url(base_url: str | None) -> str:
    return (base_url or getattr(settings, "PAUSE_SITE_URL", "") or "http://localhost:8000").rstrip(
        "/"
    )


def summary_email_messages(*, summary: Summary, base_url: str | None = None) -> list:
    """One message per participant with an account who may see the summary, in their
    language, rendered from what the archive policy lets that person see."""
    from rooms.summaries import summary_display

    meeting = summary.meeting
    link = _site_url(base_url) + reverse("archive:summary", args=[meeting.room_id, meeting.pk])
    messages = []
    recipients = (
        meeting.participants.filter(user__isnull=False, removed=False)
        .select_related("user")
        .order_by("id")
    )
    for participant in recipients:
        user = participant.user
        if not user.email or not user.is_active:
            continue
        data = summary_for(summary, user)
        if data is None:
            continue  # no longer a member of the room
        with translation.override(user.language or settings.LANGUAGE_CODE):
            context = {"s": summary_display(data), "link": link, "user": user}
            subject = render_to_string("rooms/archive/email/subject.txt", context)
            text = render_to_string("rooms/archive/email/summary.txt", context)
            html = render_to_string("rooms/archive/email/summary.html", context)
        message = EmailMultiAlternatives(
            subject=" ".join(subject.split()), body=text, to=[user.email]
        )
        message.attach_alternative(html, "text/html")
        messages.append(message)
    return messages


def summary_email_send(*, summary: Summary, base_url: str | None = None) -> int:
    messages = summary_email_messages(summary=summary, base_url=base_url)
    if not messages:
        return 0
    sent = mailers.default.send_messages(messages) or 0
    log.info("summary %s emailed to %s participants", summary.pk, sent)
    return sent
