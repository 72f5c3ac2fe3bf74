"""The channel layer of the embedded default (one process, no Redis).

Channels' ``InMemoryChannelLayer`` is written for any sender: on every ``group_send`` it
scans every channel and group for expired entries, starts one task per member channel and
deep-copies the message for each. Here the only member of a meeting's group is the hub's
one channel (``rooms.hub``), so those costs were most of a publish: about a tenth of the
event loop's time in scenario B of ``bench/`` (100 meetings), growing with the number of
meetings. ``LocalChannelLayer`` keeps the same API and the same semantics for its users
(capacity, ``ChannelFull`` dropping, expiry of messages and of group memberships), with
three differences:

- a group message is put on each member's queue directly, in the sender's call;
- expired entries are swept at most once per ``SWEEP_EVERY`` seconds, not on every call;
- messages are copied one level deep (the message dict and its top-level containers), not
  deep-copied: the senders in this project build each message for the send and never
  change it after, and receivers never change what they receive (the hub hands the same
  event dicts to every local socket);
- a group membership lasts until it is discarded: Channels' layer ends it after
  ``group_expiry`` (a day), which would cut a long-running process's hub off the control
  group (logouts, removals) and off the meetings it still has sockets in. The hub leaves
  its groups itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

# Seconds between two sweeps of expired messages and group memberships.
SWEEP_EVERY = 1.0


class LocalChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._swept_at = 0.0

    def _copy(self, message: dict) -> dict:
        return {k: copy.copy(v) for k, v in message.items()}

    def _put(self, channel: str, message: dict) -> None:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            queue.put_nowait((time.time() + self.expiry, self._copy(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        super()._clean_expired()

    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        self.groups.setdefault(group, {})[channel] = None  # no join time: no expiry

    async def send(self, channel: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._put(channel, message)

    async def group_send(self, group: str, message: dict) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            # As Channels' layer: a full channel misses the message.
            with contextlib.suppress(ChannelFull):
                self._put(channel, message)
