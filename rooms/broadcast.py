"""After commit, hand a meeting's new events to the channel layer: one message per event
batch to the meeting's group, which every web process with sockets in that meeting has
joined once (see ``rooms.hub``). Never called inside a transaction that may roll back."""

from __future__ import annotations

import json
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from rooms.wire import event_dict

log = logging.getLogger(__name__)

# Every process's hub joins this group to hear about logouts and removals.
CONTROL_GROUP = "pause-control"


def meeting_group(meeting_id: int) -> str:
    """The channel-layer group of a meeting, built from its id only."""
    return f"meeting-{int(meeting_id)}"


def _send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        # Live delivery is at-most-once: clients resume from the event log.
        log.exception("channel layer send to %s failed", group)


def publish_events(meeting_id: int, events: list[dict]) -> None:
    _send(
        meeting_group(meeting_id),
        {"type": "meeting.events", "meeting_id": int(meeting_id), "events": events},
    )


async def publish_events_async(meeting_id: int, events: list[dict]) -> None:
    """``publish_events`` from the event loop, without a hop through a thread."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "meeting.events", "meeting_id": int(meeting_id), "events": events}
    try:
        await layer.group_send(meeting_group(meeting_id), message)
    except Exception:
        log.exception("channel layer send to meeting %s failed", meeting_id)


def on_commit_publish(meeting_id: int, events, into: list | None = None) -> None:
    """Publish ``events`` (MeetingEvent rows) once the current transaction commits; or,
    with ``into``, append ``(meeting_id, payload)`` to it then, for an asynchronous
    caller to publish with ``publish_events_async``."""
    if not events:
        return
    payload = [event_dict(e) for e in events]
    # Round-trip through JSON now, so a payload that cannot travel fails where it is built.
    payload = json.loads(json.dumps(payload))
    if into is not None:
        transaction.on_commit(lambda: into.append((meeting_id, payload)))
    else:
        transaction.on_commit(lambda: publish_events(meeting_id, payload))


def publish_presence_changed(meeting_id: int) -> None:
    _send(meeting_group(meeting_id), {"type": "meeting.presence", "meeting_id": int(meeting_id)})


def close_sockets(*, user_id: int, room_id: int | None = None, reason: str) -> None:
    """Close the live sockets of a user (all of them, or those in one room's meetings)."""
    _send(
        CONTROL_GROUP,
        {"type": "sockets.close", "user_id": int(user_id), "room_id": room_id, "reason": reason},
    )
