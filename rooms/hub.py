"""Per-process fan-out of a meeting's events to the sockets of this process.

Instead of one channel-layer subscription per socket, each web process joins a meeting's
group once, through one channel of its own, while it has sockets in that meeting. An
event arrives once per process; it is rendered and JSON-encoded once per distinct view
(``rooms.wire.view_key``: its author, the facilitators, everyone else) and written to the
local sockets directly. The event log stays the source of truth: a socket that misses
an event (layer overflow, restart) sees a gap in ``seq`` and reads it from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from channels.layers import get_channel_layer

from rooms.broadcast import CONTROL_GROUP, meeting_group
from rooms.presence import presence_backend

if TYPE_CHECKING:
    from rooms.consumers import MeetingConsumer

log = logging.getLogger(__name__)


def encode(frame: dict) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


class Hub:
    def __init__(self) -> None:
        self.sockets: dict[int, set[MeetingConsumer]] = defaultdict(set)
        self.channel: str | None = None
        self.layer = None
        self._reader: asyncio.Task | None = None
        self._heartbeat: asyncio.Task | None = None
        self._start_lock: asyncio.Lock | None = None
        self._loop = None
        self._loop_of_lock = None
        self._group_locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._joined: set[int] = set()
        self.layer_messages = 0  # channel-layer messages received (regression check)

    # ----------------------------------------------------------------- lifecycle

    async def _ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self._reader is not None and not self._reader.done() and self._loop is loop:
            return
        if self._start_lock is None or self._loop_of_lock is not loop:
            self._start_lock = asyncio.Lock()
            self._loop_of_lock = loop
        async with self._start_lock:
            if self._reader is not None and not self._reader.done() and self._loop is loop:
                return
            self._loop = loop
            self.layer = get_channel_layer()
            self.channel = await self.layer.new_channel("hub.")
            self._joined.clear()
            self._group_locks.clear()
            await self.layer.group_add(CONTROL_GROUP, self.channel)
            self._reader = loop.create_task(self._read())
            self._heartbeat = loop.create_task(self._beat())

    async def stop(self) -> None:
        """Stop the background tasks (tests call this between event loops)."""
        for task in (self._reader, self._heartbeat):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._reader = self._heartbeat = None
        self.sockets.clear()
        self._joined.clear()

    # ----------------------------------------------------------------- membership

    async def join(self, meeting_id: int, consumer: MeetingConsumer) -> None:
        await self._ensure_started()
        self.sockets[meeting_id].add(consumer)
        async with self._group_locks[meeting_id]:
            if meeting_id not in self._joined:
                await self.layer.group_add(meeting_group(meeting_id), self.channel)
                self._joined.add(meeting_id)

    async def leave(self, meeting_id: int, consumer: MeetingConsumer) -> None:
        local = self.sockets.get(meeting_id)
        if local is not None:
            local.discard(consumer)
        if local:
            return
        self.sockets.pop(meeting_id, None)
        async with self._group_locks[meeting_id]:
            if meeting_id in self._joined and not self.sockets.get(meeting_id):
                self._joined.discard(meeting_id)
                with contextlib.suppress(Exception):
                    await self.layer.group_discard(meeting_group(meeting_id), self.channel)

    # ----------------------------------------------------------------- delivery

    async def _read(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub: channel layer receive failed; retrying")
                await asyncio.sleep(1)
                continue
            self.layer_messages += 1
            try:
                await self.dispatch(message)
            except Exception:
                log.exception("hub: dispatch of %s failed", message.get("type"))

    async def dispatch(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "meeting.events":
            await self.deliver_events(message["meeting_id"], message["events"])
        elif kind == "meeting.presence":
            await self.push_presence(message["meeting_id"])
        elif kind == "sockets.close":
            await self.close_user(message["user_id"], message.get("room_id"), message["reason"])

    async def deliver_events(self, meeting_id: int, events: list[dict]) -> None:
        local = list(self.sockets.get(meeting_id, ()))
        if not local:
            return
        for event in events:
            cache: dict = {}
            for consumer in local:
                await consumer.deliver(event, cache)

    async def close_user(self, user_id: int, room_id: int | None, reason: str) -> None:
        for consumer in [c for cs in self.sockets.values() for c in cs]:
            if consumer.user_id == user_id and (room_id is None or consumer.room_id == room_id):
                await consumer.close_with(reason)

    # ----------------------------------------------------------------- presence

    async def push_presence(self, meeting_id: int, *, force: bool = False) -> None:
        local = list(self.sockets.get(meeting_id, ()))
        if not local:
            return
        entries = await presence_backend().list(meeting_id)
        text = encode({"type": "presence", "participants": entries})
        # Per socket: a second tab of someone already present leaves the list unchanged
        # but must still get it, and a socket gets it only after its welcome.
        for consumer in local:
            await consumer.send_presence(text, force=force)

    async def _beat(self) -> None:
        """Refresh this process's presence entries, and heal the lists of every local
        meeting (entries of a killed process expire without its heartbeat)."""
        backend = presence_backend()
        while True:
            await asyncio.sleep(backend.interval)
            try:
                for meeting_id, consumers in list(self.sockets.items()):
                    await backend.refresh(meeting_id, [c.presence_entry for c in consumers])
                    await self.push_presence(meeting_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub: presence heartbeat failed")


hub = Hub()
