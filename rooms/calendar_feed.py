"""An iCalendar (RFC 5545) feed of a room's upcoming meetings, for one member.

Written by hand: the format is small, and the three rules that matter are here — CRLF
line ends, TEXT escaping (backslash, semicolon, comma, newline) and folding of lines
longer than 75 octets without splitting a UTF-8 character.
"""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from rooms.models import Meeting, MeetingState, Membership

PRODID = "-//Pause//Pause meetings//EN"
# Meetings have a start but no end in the model; a calendar needs a length.
DEFAULT_DURATION = dt.timedelta(hours=2)
# How long a started meeting stays in the feed (a live meeting is still "upcoming").
LOOKBACK = dt.timedelta(hours=12)


def escape_text(value: str) -> str:
    """RFC 5545 section 3.3.11: backslash, semicolon, comma and newlines in TEXT."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """RFC 5545 section 3.1: lines of at most 75 octets, continued with CRLF + space."""
    out: list[str] = []
    current, size = "", 0
    limit = 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            out.append(current)
            current, size = " ", 1  # the continuation's leading space counts
        current += ch
        size += n
    out.append(current)
    return "\r\n".join(out)


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def upcoming_meetings(room_id: int):
    since = timezone.now() - LOOKBACK
    return Meeting.objects.filter(
        room_id=room_id,
        state__in=[MeetingState.SCHEDULED, MeetingState.LIVE],
        scheduled_at__gte=since,
    ).order_by("scheduled_at", "pk")


def calendar_for_membership(membership: Membership, *, base_url: str) -> str:
    room = membership.room
    base = base_url.rstrip("/")
    host = base.split("://", 1)[-1].split("/", 1)[0] or "pause"
    now = _utc(timezone.now())
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(f'Pause · {room.name}')}",
    ]
    for meeting in upcoming_meetings(room.pk):
        url = base + reverse("rooms:meeting", args=[room.pk, meeting.pk])
        description = room.description.strip()
        lines += [
            "BEGIN:VEVENT",
            f"UID:meeting-{meeting.pk}@{host}",
            f"DTSTAMP:{now}",
            f"DTSTART:{_utc(meeting.scheduled_at)}",
            f"DTEND:{_utc(meeting.scheduled_at + DEFAULT_DURATION)}",
            f"SUMMARY:{escape_text(meeting.title)}",
            f"LOCATION:{escape_text(room.name)}",
            f"URL:{url}",
        ]
        if description:
            lines.append(f"DESCRIPTION:{escape_text(description + chr(10) + url)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
