"""Per-process fan-out of a meeting's events to the sockets of this process.

Instead of one channel-layer subscription per socket, each web process joins a meeting's
group once, through one channel of its own, while it has sockets in that meeting. An
event arrives once per process; it is rendered and JSON-encoded once per distinct view
(``rooms.wire.view_key``: its author, the facilitators, everyone else) and written to the
local sockets directly; under uvicorn's sans-I/O protocol the WebSocket frame itself is
built once per view too (``rooms.consumers.EncodedFrame``). The event log stays the source
of truth: a socket that misses an event (layer overflow, restart) sees a gap in ``seq``
and reads it from the database.

Events of one meeting can reach a process out of order (two processes, or two database
threads, publish right after their commits), so the hub holds an event that comes early
for up to ``REORDER_WINDOW`` seconds while the one before it is on its way, instead of
sending every socket to the database for a gap that fills itself a moment later.

``database_call`` runs the sockets' ORM work: on PostgreSQL on a small pool of threads,
so that commands and connects of different meetings overlap their round trips and share
the commit's disk flush; on SQLite (one writer) on Channels' single database thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from asgiref.sync import SyncToAsync
from channels.db import DatabaseSyncToAsync, database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, connections

from rooms.broadcast import CONTROL_GROUP, meeting_group
from rooms.presence import presence_backend

if TYPE_CHECKING:
    from rooms.consumers import MeetingConsumer

log = logging.getLogger(__name__)

# Seconds an event that arrived before its predecessor waits for it.
REORDER_WINDOW = 0.25
# Presence changes of one meeting within this many seconds make one push (see Throttle).
PRESENCE_WINDOW = 0.15
# Seconds a pool connection that answered, with no error since, is trusted without
# Django's health check (``CONN_HEALTH_CHECKS``: a ``SELECT 1`` before the first query
# of every call, a tenth of a command's round trips).
HEALTH_CHECK_EVERY = 1.0
# Seconds a database thread keeps its connection, whatever ``CONN_MAX_AGE`` says: that
# setting is for the request threads, which come and go under ASGI; the pool's threads
# are few and fixed, and reconnecting on each call cost a connection setup per command.
THREAD_CONNECTION_AGE = 300.0

_pool: ThreadPoolExecutor | None = None


def _tidy_connections() -> None:
    """``close_old_connections`` (drop a broken or expired connection), with two
    differences for the pool's few fixed threads: a connection lives
    ``THREAD_CONNECTION_AGE`` seconds, and one checked less than ``HEALTH_CHECK_EVERY``
    seconds ago with no error since keeps its check (a failure in between still closes
    it, through ``errors_occurred``, and a connection the server dropped is found at most
    that long later, as it would be by its next query)."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and getattr(conn, "pause_aged", None) is not conn.connection:
            conn.close_at = now + THREAD_CONNECTION_AGE
            conn.pause_aged = conn.connection
        checked_at = getattr(conn, "pause_checked_at", None)
        trusted = (
            conn.health_check_done
            and checked_at is not None
            and now - checked_at < HEALTH_CHECK_EVERY
        )
        conn.close_if_unusable_or_obsolete()  # clears health_check_done
        if conn.connection is None:
            continue
        if trusted and not conn.errors_occurred:
            conn.health_check_done = True
        elif not trusted:
            conn.pause_checked_at = now  # its next query checks it first


class _PoolCall(DatabaseSyncToAsync):
    """``database_sync_to_async`` on the pool's threads, with ``_tidy_connections``."""

    def thread_handler(self, loop, *args, **kwargs):
        _tidy_connections()
        try:
            return SyncToAsync.thread_handler(self, loop, *args, **kwargs)
        finally:
            _tidy_connections()


def encode(frame: dict) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def database_call(fn):
    """``fn`` made awaitable, run off the event loop with Django's connection cleanup
    around it (as ``channels.db.database_sync_to_async``)."""
    global _pool
    if _vendor() == "sqlite":
        return database_sync_to_async(fn)
    if _pool is None:
        threads = settings.PAUSE_DB_THREADS  # threads, one database connection each
        _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="pause-db")
    return _PoolCall(fn, thread_sensitive=False, executor=_pool)


@functools.cache
def _vendor() -> str:
    """The database's vendor, read once: ``django.db.connection`` is per async context, so
    reading it in each socket's task made (and kept, for the socket's life) a connection
    object per socket, about 3.5 KB each."""
    return connection.vendor


def _close_pool(pool: ThreadPoolExecutor) -> None:
    """Close each database thread's connection, then end the threads. A barrier holds
    every task on its own thread, so each thread runs one of them."""
    n = pool._max_workers
    barrier = threading.Barrier(n)

    def close() -> None:
        connections.close_all()
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=5)

    for future in [pool.submit(close) for _ in range(n)]:
        future.result()
    pool.shutdown()


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
        self._next_seq: dict[int, int] = {}  # meeting → the seq this process expects next
        self._early: dict[int, dict[int, dict]] = {}  # meeting → seq → event held back
        self._late_timers: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()
        self._announce = Throttle(self._announce_now)  # this process's sockets came or went
        self._push = Throttle(self._push_presence_now)  # a meeting's list changed somewhere
        self._presence_sent: dict[int, str] = {}  # meeting → the last list pushed to it
        self.presence_pushes = 0  # presence lists sent to local sockets (regression check)
        self.layer_messages = 0  # channel-layer messages received (regression check)
        self.window_releases = 0  # gaps handed out after REORDER_WINDOW (regression check)

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
        """Stop the background tasks (tests call this between event loops), and the
        database threads, whose connections close as the threads end."""
        global _pool
        if _pool is not None:
            pool, _pool = _pool, None
            await asyncio.get_running_loop().run_in_executor(None, _close_pool, pool)
        for task in (self._reader, self._heartbeat):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._reader = self._heartbeat = None
        self.sockets.clear()
        self._joined.clear()
        self._presence_sent.clear()
        self._forget_order()

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
        self._presence_sent.pop(meeting_id, None)
        self._forget_order(meeting_id)
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
        """Hand ``events`` to the local sockets in ``seq`` order, holding back those that
        arrived before their predecessor (see ``REORDER_WINDOW``)."""
        if not self.sockets.get(meeting_id):
            return
        expected = self._next_seq.get(meeting_id)
        early = self._early.setdefault(meeting_id, {})
        for event in events:
            if expected is None or event["seq"] >= expected:
                early[event["seq"]] = event
        if not early:
            return  # duplicates of what was already handed out
        if expected is None:
            expected = min(early)
        ready = []
        while expected in early:
            ready.append(early.pop(expected))
            expected += 1
        if early:
            # A gap. Events this process never heard (published before its subscription
            # to the meeting was in effect, in a connect storm) are in its sockets'
            # snapshots already: only a gap some live socket still lacks is worth waiting
            # for. A socket still connecting buffers, and reads any gap from the log.
            floor = self._floor(meeting_id)
            if floor is not None and floor > expected:
                ready.extend(early.pop(s) for s in sorted(s for s in early if s < floor))
                expected = floor
                while expected in early:
                    ready.append(early.pop(expected))
                    expected += 1
        self._next_seq[meeting_id] = expected
        if early and meeting_id not in self._late_timers:
            loop = asyncio.get_running_loop()
            self._late_timers[meeting_id] = loop.call_later(
                REORDER_WINDOW, self._spawn_release, meeting_id
            )
        elif not early:
            timer = self._late_timers.pop(meeting_id, None)
            if timer is not None:
                timer.cancel()
        if ready:
            await self._fan_out(meeting_id, ready)

    def _floor(self, meeting_id: int) -> int | None:
        """The first seq some live local socket of the meeting still lacks (None: none is
        live yet)."""
        sent = [c.sent_seq for c in self.sockets.get(meeting_id, ()) if c.ready]
        return min(sent) + 1 if sent else None

    def _spawn_release(self, meeting_id: int) -> None:
        task = asyncio.get_running_loop().create_task(self._release(meeting_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, meeting_id: int) -> None:
        """The window is over and the gap is still there (the layer lost a message): hand
        out what was held; each socket sees the gap and reads it from the log."""
        self._late_timers.pop(meeting_id, None)
        early = self._early.pop(meeting_id, {})
        if not early or not self.sockets.get(meeting_id):
            return
        events = [early[seq] for seq in sorted(early)]
        self.window_releases += 1
        self._next_seq[meeting_id] = events[-1]["seq"] + 1
        await self._fan_out(meeting_id, events)

    async def _fan_out(self, meeting_id: int, events: list[dict]) -> None:
        local = list(self.sockets.get(meeting_id, ()))
        for event in events:
            cache: dict = {}  # view_key → encoded frame: one render per view, not per socket
            for consumer in local:
                await consumer.deliver(event, cache)

    def _forget_order(self, meeting_id: int | None = None) -> None:
        ids = list(self._late_timers) if meeting_id is None else [meeting_id]
        for mid in ids:
            timer = self._late_timers.pop(mid, None)
            if timer is not None:
                timer.cancel()
        if meeting_id is None:
            self._next_seq.clear()
            self._early.clear()
        else:
            self._next_seq.pop(meeting_id, None)
            self._early.pop(meeting_id, None)

    async def close_user(self, user_id: int, room_id: int | None, reason: str) -> None:
        for consumer in [c for cs in self.sockets.values() for c in cs]:
            if consumer.user_id == user_id and (room_id is None or consumer.room_id == room_id):
                await consumer.close_with(reason)

    # ----------------------------------------------------------------- presence

    def presence_changed(self, meeting_id: int) -> None:
        """A local socket of the meeting came or went: tell every process (at most one
        message per meeting per ``PRESENCE_WINDOW``, however many sockets connect)."""
        self._announce(meeting_id)

    async def _announce_now(self, meeting_id: int) -> None:
        if self.layer is None:
            return
        with contextlib.suppress(Exception):
            await self.layer.group_send(
                meeting_group(meeting_id), {"type": "meeting.presence", "meeting_id": meeting_id}
            )

    async def push_presence(self, meeting_id: int) -> None:
        """Send the meeting's presence list to its local sockets, at once or, when one was
        sent less than ``PRESENCE_WINDOW`` ago, once at the end of that window. Presence is
        not ordered with events, so a storm of joins costs each socket a few lists, not
        one per join (O(n) per meeting and window instead of O(n²))."""
        self._push(meeting_id)

    async def _push_presence_now(self, meeting_id: int) -> None:
        local = list(self.sockets.get(meeting_id, ()))
        if not local:
            return
        entries = await presence_backend().list(meeting_id)
        text = encode({"type": "presence", "participants": entries})
        self._presence_sent[meeting_id] = text
        self.presence_pushes += 1
        # Per socket: a second tab of someone already present leaves the list unchanged
        # but must still get it, and a socket gets it only after its welcome.
        for consumer in local:
            await consumer.send_presence(text)

    async def _heal_presence(self, meeting_id: int) -> None:
        """Push the meeting's list if it is not the one last pushed here (entries of a
        killed process expired, a message was lost): a heartbeat that changes nothing
        sends nothing, instead of a list to every socket of the process."""
        if meeting_id in self._push.pending:
            return  # a push is on its way
        entries = await presence_backend().list(meeting_id)
        text = encode({"type": "presence", "participants": entries})
        if self._presence_sent.get(meeting_id) != text:
            await self.push_presence(meeting_id)

    async def _beat(self) -> None:
        """Refresh this process's presence entries, and heal the lists of every local
        meeting (entries of a killed process expire without its heartbeat)."""
        backend = presence_backend()
        while True:
            await asyncio.sleep(backend.interval)
            try:
                for meeting_id, consumers in list(self.sockets.items()):
                    await backend.refresh(meeting_id, [c.presence_entry for c in consumers])
                    await self._heal_presence(meeting_id)
                self._announce.forget_idle()
                self._push.forget_idle()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub: presence heartbeat failed")
            try:
                await self._check_behind()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub: last-seq check failed")

    async def _check_behind(self) -> None:
        """A socket that missed a meeting's *last* events (the layer dropped them, Redis
        was down) would otherwise learn of them only at the next event: compare each
        local socket with the log once per heartbeat and let laggards read it."""
        if not self.sockets:
            return
        last = await database_call(_last_seqs)(list(self.sockets))
        for meeting_id, consumers in list(self.sockets.items()):
            for consumer in list(consumers):
                if consumer.ready and consumer.sent_seq < last.get(meeting_id, 0):
                    consumer.ready = False
                    asyncio.get_running_loop().create_task(consumer._catch_up())


class Throttle:
    """Run ``fn(key)`` at once when it has not run for ``key`` within ``window`` seconds;
    otherwise once at the end of that window, however many calls came meanwhile. Each run
    reads the state as it is then, so the last change is never lost."""

    def __init__(self, fn, window: float | None = None) -> None:
        self.fn = fn
        self.window = window
        self.last: dict[int, float] = {}  # key → loop time of its last run
        self.pending: dict[int, asyncio.TimerHandle] = {}
        self.tasks: set[asyncio.Task] = set()
        self.loop = None

    def __call__(self, key: int) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # a new event loop (tests): forget the old one's state
            self.loop, self.last, self.pending = loop, {}, {}
        if key in self.pending:
            return
        window = PRESENCE_WINDOW if self.window is None else self.window
        wait = self.last.get(key, float("-inf")) + window - loop.time()
        if wait <= 0:
            self._run(key)
        else:
            self.pending[key] = loop.call_later(wait, self._run, key)

    def _run(self, key: int) -> None:
        self.pending.pop(key, None)
        self.last[key] = self.loop.time()
        task = self.loop.create_task(self.fn(key))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def forget_idle(self) -> None:
        """Drop the times of keys quiet for longer than a window (bounded memory)."""
        if self.loop is None:
            return
        window = PRESENCE_WINDOW if self.window is None else self.window
        horizon = self.loop.time() - window
        self.last = {k: t for k, t in self.last.items() if t > horizon or k in self.pending}


def _last_seqs(meeting_ids: list[int]) -> dict[int, int]:
    from rooms.models import Meeting

    return dict(Meeting.objects.filter(pk__in=meeting_ids).values_list("pk", "last_seq"))


hub = Hub()
