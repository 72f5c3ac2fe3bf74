"""The meeting socket, ``/ws/meetings/<id>/``: transport only.

It authenticates and authorizes before it joins anything or accepts, parses frames with
``rooms.protocol``, applies the per-connection rate limit and size limit, and turns
services' results and domain errors into frames. Rules live in ``rooms.services`` and
``rooms.phases``; what a viewer may see lives in ``rooms.wire``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import logging
import struct
import sys
import time
import uuid
from types import MappingProxyType
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation
from pydantic import ValidationError
from websockets.protocol import State
from websockets.server import ServerProtocol

from rooms import selectors, wire, writer
from rooms.errors import DomainError
from rooms.guests import guest_key_for
from rooms.hub import database_call, encode, hub
from rooms.opener import opener
from rooms.presence import Entry, presence_backend
from rooms.protocol import Sync, client_frame_adapter

log = logging.getLogger(__name__)

CLOSE_NOT_FOUND = 4404
CLOSE_FORBIDDEN = 4403
CLOSE_POLICY = 1008
# Frames a socket may have waiting to be written before it is closed as too slow.
SEND_QUEUE_FRAMES = 1000
# Bytes a socket may hold in the server's own write buffer before its writer waits.
WRITE_HIGH_WATER = 256 * 1024
# Bytes (of str objects) the queue may hold behind at least one frame before the socket is
# closed as too slow; ``PAUSE_WS_SEND_QUEUE_BYTES`` overrides it.
SEND_QUEUE_BYTES = 8 * 2**20
_CLOSE = object()  # in the outbox: close the socket once what precedes it is written


def _write_backlog(send):
    """A function giving the bytes written to this socket but not yet handed to the kernel
    (``backlog(adding)``: as they would be once ``adding`` more characters are written),
    or None when the server does not tell.

    Daphne's ``send`` never waits: it appends to the Twisted transport's buffer, which
    grows without bound when the peer stops reading. Reading that buffer lets the writer
    wait as it would on a server with backpressure, so a slow socket fills its own bounded
    queue instead of the process's memory.

    Uvicorn's ``send`` waits when the frame it writes leaves the transport's buffer over
    its high-water mark (the transport pauses writing). A frame that cannot do that, on a
    transport that is not paused, is written without suspending: then the hub can write
    to the socket directly (``send_text``'s fast path) instead of starting a writer task
    for each frame. Any other case reads as over every high water.
    """
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if hasattr(transport, "get_write_buffer_limits"):
        if hasattr(owner, "_paused"):  # uvicorn --ws websockets (websockets' legacy protocol)

            def paused() -> bool:
                return owner._paused
        elif isinstance(getattr(owner, "writable", None), asyncio.Event):  # websockets-sansio

            def paused() -> bool:
                return not owner.writable.is_set()
        else:
            return None

        def buffered(adding: int = 0) -> int:
            size = transport.get_write_buffer_size()
            # 4 bytes per character at most in UTF-8, plus the frame's header.
            if paused() or size + 4 * adding + 14 > transport.get_write_buffer_limits()[1]:
                return sys.maxsize
            return size

        return buffered
    # Under channels' session middleware, ``send`` is a wrapper holding the real one.
    for _ in range(4):
        if not isinstance(send, functools.partial):
            send = getattr(getattr(send, "__self__", None), "real_send", None)
    protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
    transport = getattr(protocol, "transport", None)
    if transport is None or not hasattr(transport, "dataBuffer"):
        return None

    def backlog(adding: int = 0) -> int:
        pending = len(transport.dataBuffer) - getattr(transport, "offset", 0)
        return pending + getattr(transport, "_tempDataLen", 0)

    return backlog


class EncodedFrame:
    """An event's frame for one view, encoded once for every socket of that view
    (``Hub._fan_out``'s cache): its text, and, for servers written to directly
    (``_write_direct``), the whole WebSocket frame, built on first use."""

    __slots__ = ("_wire", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = text_frame(self.text)
        return self._wire


def text_frame(text: str) -> bytes:
    """A final, unmasked text frame (RFC 6455 §5.2: a server never masks) of ``text``,
    as websockets serializes it without extensions."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 127, n)
    return head + payload


def _direct_target(send):
    """With uvicorn's ``websockets-sansio`` protocol: the protocol object behind ``send``,
    whose transport ``_write_direct`` writes whole text frames to; None under any other
    server (its frames go through ``send``).

    Uvicorn's ``send`` encodes the text and has websockets build the same bytes again for
    each socket; a meeting's event goes unchanged to every socket of a view, so its frame
    is built once (``EncodedFrame``) and each socket gets only the transport's write (at
    B's edge, 26,484 deliveries/s: p99 86–90 → 53–61 ms, CPU per delivery 32 → 30 µs;
    docs/benchmarks.md)."""
    owner = getattr(send, "__self__", None)
    if not isinstance(getattr(owner, "conn", None), ServerProtocol):
        return None
    if getattr(owner, "transport", None) is None:
        return None
    if not isinstance(getattr(owner, "writable", None), asyncio.Event):
        return None
    return owner


def _write_direct(owner, frame: bytes) -> bool:
    """Write ``frame`` (``EncodedFrame.wire``) to ``owner``'s transport (``_direct_target``)
    and say so; or decline (False: the caller goes through ``send``) unless the socket is
    open, its handshake done and no close sent, no extension (compression) negotiated, no
    fragmented message under way, and the transport neither paused (``send`` would wait)
    nor closing."""
    conn = owner.conn
    if (
        conn.state is not State.OPEN
        or conn.extensions
        or conn.expect_continuation_frame
        or not owner.handshake_complete
        or owner.close_sent
        or owner.disconnected
        or not owner.writable.is_set()
        or owner.transport.is_closing()
    ):
        return False
    owner.transport.write(frame)
    return True


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    __slots__ = ("at", "burst", "rate", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _field(error: ValidationError) -> tuple[str | None, str]:
    """The field at fault (after the ``type`` discriminator) and a message naming it."""
    first = error.errors()[0]
    parts = [str(p) for p in first.get("loc", ())]
    if first.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        field = "type"
    else:
        field = ".".join(parts[1:]) or (parts[0] if parts else None)
    return field, f"{field or 'frame'}: {first.get('msg', 'invalid')}"


def _language(scope) -> str:
    user = scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False) and user.language:
        return user.language
    cookie = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)
    codes = {code for code, _ in settings.LANGUAGES}
    if cookie in codes:
        return cookie
    for name, value in scope.get("headers", ()):
        if name == b"accept-language":
            for part in value.decode("latin-1").split(","):
                code = part.split(";")[0].strip()[:2].lower()
                if code in codes:
                    return code
    return settings.LANGUAGE_CODE


_NO_SCOPE: MappingProxyType = MappingProxyType({})


class MeetingConsumer(AsyncWebsocketConsumer):
    # No channel per socket: the hub subscribes once per process (rooms/hub.py).
    channel_layer_alias = "__pause_no_layer__"
    groups = ()  # none (Channels' __init__ gives each socket an empty list otherwise)
    # Slots, not an instance dict (about 0.8 KB a socket). An attribute missing here still
    # works (it goes to a dict made for it), it only costs that dict again.
    __slots__ = (
        "backlog",
        "base_send",
        "bucket",
        "buffer",
        "channel_layer",
        "closed",
        "direct",
        "high_water",
        "joined",
        "lang",
        "meeting_id",
        "outbox",
        "participant",
        "presence_entry",
        "presence_text",
        "queued_bytes",
        "ready",
        "room_id",
        "scope",
        "sent_seq",
        "user_id",
        "viewer",
        "welcomed",
        "writer",
        "writing",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # What an idle socket does not need is made on first use and dropped after it.
        # Frames that cannot be written at once wait here for the socket's own writer
        # task, which runs while there are some: the hub never waits for one socket, and
        # send_text closes a socket that does not keep up (slow_consumer) instead of
        # letting this grow without bound.
        self.outbox: collections.deque | None = None
        self.writer: asyncio.Task | None = None
        self.writing = False  # the writer holds a frame it has not handed to the server yet
        self.bucket: TokenBucket | None = None  # the rate limit, from the first frame received
        self.direct = None  # uvicorn's sansio protocol, written to directly (_write_direct)

    @classmethod
    def as_asgi(cls, **initkwargs):
        """Channels' ``as_asgi`` with a plain function, not a coroutine function: it hands
        back the consumer's coroutine instead of keeping a frame awaiting it per socket."""

        def app(scope, receive, send):
            return cls(**initkwargs)(scope, receive, send)

        app.consumer_class = cls
        app.consumer_initkwargs = initkwargs
        functools.update_wrapper(app, cls, updated=())
        return app

    async def __call__(self, scope, receive, send) -> None:
        """Channels' ``AsyncConsumer.__call__`` for a consumer with no channel layer, without
        its ``await_many_dispatch``: that keeps a task, an ``asyncio.wait`` and its futures
        per socket to wait on one source, where awaiting ``receive`` does the same. The
        scope is read by ``connect`` only and let go after it (``websocket_connect``)."""
        self.scope = scope
        del scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def websocket_connect(self, message) -> None:
        """Channels' handler (this consumer has no groups and raises neither Accept- nor
        DenyConnection); then the scope's copy made for this socket by the router is let
        go: headers, cookies and route are read by ``connect`` only."""
        try:
            await self.connect()
        finally:
            self.scope = _NO_SCOPE

    async def dispatch(self, message) -> None:
        """Channels' ``dispatch`` without its ``aclose_old_connections`` before every
        message: a hop to Channels' one sync thread for each connect and each frame of
        every socket of the process (in a reconnect storm, a thousand handshakes in one
        line). This consumer touches the database only through ``database_call``, which
        closes old connections in its own thread around each call."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message) -> None:
        """Channels' handler without its ``aclose_old_connections`` (see ``dispatch``); this
        consumer is in no channel-layer group of its own (the hub is)."""
        await self.disconnect(message["code"])
        raise StopConsumer()

    # ----------------------------------------------------------------- connect

    async def connect(self) -> None:
        self.meeting_id = int(self.scope["url_route"]["kwargs"]["meeting_id"])
        self.ready = False  # events from the hub wait in ``buffer`` until the welcome
        self.welcomed = False  # nothing but the welcome is sent before it
        self.presence_text: str | None = None
        self.presence_entry: Entry | None = None  # once authorized
        self.user_id = self.room_id = None  # once authorized (the hub's close_user)
        self.joined = False
        self.closed = False
        self.buffer: list[dict] = []
        self.sent_seq = 0
        guest_key = guest_key_for(self.scope.get("cookies", {}), self.meeting_id)
        after = self._after()
        # Join first, then read the log: nothing committed in between can be missed. The
        # hub is joined before authorizing, so that one database call authorizes, writes
        # a first join and reads the welcome (one thread hop); a refused socket leaves.
        await hub.join(self.meeting_id, self)
        self.joined = True
        try:
            # The session (pause/asgi.py only parses the cookies), the user, the
            # participant, its role and the meeting; then the first frames. With the
            # connects of the same moment (``rooms.opener``), which publishes the join.
            participant, self.viewer, frames, seq = await opener.open(
                meeting_id=self.meeting_id,
                user=self.scope.get("user"),
                guest_key=guest_key,
                session_key=self.scope.get("session_key"),
                after=after,
            )
        except DomainError as e:
            # Refused before accept: the handshake fails with 403.
            await self._leave()
            await self.close(code=CLOSE_FORBIDDEN if e.code == "forbidden" else CLOSE_NOT_FOUND)
            return
        except BaseException:
            await self._leave()
            raise
        user = participant.user if participant.user_id is not None else None
        self.lang = (user.language if user is not None else None) or _language(self.scope)
        self.user_id = participant.user_id
        self.room_id = participant.meeting.room_id
        # An idle socket keeps the participant row only (services reload what they use):
        # not its meeting, room or user objects.
        participant._state.fields_cache.clear()
        self.participant = participant
        await self.accept()
        self._watch_backlog()
        if frames is None:  # stream_open failed (logged)
            await self._close_socket(1011)
            return
        self.presence_entry = Entry(
            uuid.uuid4().hex, self.participant.pk, self.participant.display_name, self.viewer.role
        )
        for frame in frames:
            await self.send_text(encode(frame))
        self.sent_seq = seq
        self.welcomed = True
        await self._drain()
        await presence_backend().add(self.meeting_id, self.presence_entry)
        await self._presence_changed()

    def _after(self) -> int | None:
        raw_query = self.scope.get("query_string", b"")
        if not raw_query:  # a first connect: no cursor (parse_qs is not free)
            return None
        query = parse_qs(raw_query.decode("latin-1"))
        raw = query.get("after", [None])[0]
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except ValueError:
            return -1  # unknown cursor: gets resync
        return value if value >= 0 else -1

    async def _presence_changed(self) -> None:
        # Coalesced per meeting by the hub: a storm of connects is not O(n²) lists.
        hub.presence_changed(self.meeting_id)

    async def disconnect(self, code) -> None:
        self.closed = True
        writer = getattr(self, "writer", None)
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
        if not getattr(self, "joined", False):
            return
        await self._leave()
        if self.presence_entry is None:  # never welcomed: never in the presence list
            return
        with contextlib.suppress(Exception):
            await presence_backend().remove(self.meeting_id, self.presence_entry)
        await self._presence_changed()

    async def _leave(self) -> None:
        """Leave the hub (joined at the start of ``connect``)."""
        if self.joined:
            self.joined = False
            await hub.leave(self.meeting_id, self)

    # ----------------------------------------------------------------- server → client

    async def send_text(self, text: str) -> None:
        """Queue a frame for this socket; never waits for the client.

        The first frames (the ``welcome`` and, on a resume, the missed events: up to the
        log's retention) are written at once: they are already in memory, and counting
        them against the queue would close a client that resumes after more than
        ``PAUSE_WS_SEND_QUEUE`` events before it could read any (it would then resume with
        the same cursor, forever).

        After them, a socket is closed as too slow when its queue is over its bound in
        frames (``PAUSE_WS_SEND_QUEUE``) or in bytes (``PAUSE_WS_SEND_QUEUE_BYTES``, at
        least one frame: a client asking for snapshots it does not read would otherwise
        hold one per frame of the queue) *while its transport is backed up* (the client
        has not read what was written). A queue that is long only because a batch of
        events was handed to every socket at once drains at the next turn of the loop."""
        if self.closed:
            return
        if not self.welcomed:
            await self._send_now(text)
            return
        if self._writes_now(len(text)):
            await self._send_now(text)
            return
        size = sys.getsizeof(text)
        queued = getattr(self, "queued_bytes", 0)
        frames = len(self.outbox) if self.outbox is not None else 0
        if frames and (
            frames >= getattr(settings, "PAUSE_WS_SEND_QUEUE", SEND_QUEUE_FRAMES)
            or queued + size > getattr(settings, "PAUSE_WS_SEND_QUEUE_BYTES", SEND_QUEUE_BYTES)
        ):
            backlog = getattr(self, "backlog", None)
            if backlog is None or backlog() > self.high_water:
                self._slow_consumer()
                return
        self._queue(text)
        self.queued_bytes = queued + size

    def _queue(self, item) -> None:
        """Put ``item`` in the outbox, starting the writer task if it is not running."""
        if self.outbox is None:
            self.outbox = collections.deque()
        self.outbox.append(item)
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write())

    def _writes_now(self, size: int) -> bool:
        """Whether a frame of ``size`` characters may be written at once (the fast path):
        nothing is queued and the client keeps up (daphne's send never waits, uvicorn's
        does not while under its high water), so no writer task is started for it."""
        if self.writing or self.outbox:
            return False
        backlog = getattr(self, "backlog", None)
        return backlog is not None and backlog(size) <= self.high_water

    async def _send_now(self, text: str) -> bool:
        """Hand one frame to the server; on failure say so and close the socket."""
        try:
            # The ASGI send itself: Channels' two send() layers add nothing per frame.
            await self.base_send({"type": "websocket.send", "text": text})
            return True
        except asyncio.CancelledError:
            raise
        except Exception:
            # E.g. daphne refusing a frame over --websocket-max-message-size: say so and
            # close, rather than leave the client waiting for a frame that never comes.
            log.exception("socket write failed; closing the socket")
            self.closed = True
            with contextlib.suppress(Exception):
                await self._close_socket(1011)
            return False

    def _watch_backlog(self) -> None:
        self.backlog = _write_backlog(self.base_send)
        self.direct = _direct_target(self.base_send)
        self.high_water = getattr(settings, "PAUSE_WS_WRITE_HIGH_WATER", WRITE_HIGH_WATER)

    async def _write(self) -> None:
        """Write the outbox, then end: an idle socket holds no task and no outbox."""
        backlog, high_water = getattr(self, "backlog", None), getattr(self, "high_water", 0)
        me = asyncio.current_task()
        try:
            while self.outbox:
                text = self.outbox.popleft()
                if text is _CLOSE:
                    await self._close_socket(CLOSE_POLICY)
                    return
                self.writing = True  # send_text's fast path waits until this frame is out
                self.queued_bytes = getattr(self, "queued_bytes", 0) - sys.getsizeof(text)
                if not await self._send_now(text):
                    return
                while backlog is not None and backlog() > high_water:
                    await asyncio.sleep(0.005)
                self.writing = False
            self.outbox = None
        finally:
            if self.writer is me:
                self.writer = None

    async def _close_socket(self, code: int) -> None:
        """Close an accepted socket with ``code``. Daphne (autobahn) refuses to send any
        code but 1000 and 3000-4999 and raises instead, which left the socket open: fall
        back to 1000 there, the ``closing`` frame sent before says why."""
        try:
            await self.close(code=code)
        except Exception:
            with contextlib.suppress(Exception):
                await self.close(code=1000)

    def _slow_consumer(self) -> None:
        """The client stopped reading: drop its queue and close it; it resumes by seq."""
        self.closed = True
        if self.writer is not None:
            self.writer.cancel()
        self.outbox = None  # its frames are not kept: it resumes by seq
        self.writing = False
        self.queued_bytes = 0

        async def close() -> None:
            with contextlib.suppress(Exception):
                await self.send(text_data=encode({"type": "closing", "reason": "slow_consumer"}))
                await self._close_socket(CLOSE_POLICY)

        self.writer = asyncio.get_running_loop().create_task(close())
        log.info("closing a slow socket of participant %s", self.participant.pk)

    async def send_presence(self, text: str) -> None:
        if not self.welcomed or text == self.presence_text:
            return
        self.presence_text = text
        await self.send_text(text)

    async def close_with(self, reason: str) -> None:
        """Send ``closing`` after what is already queued, then close."""
        if self.closed:
            return
        await self.send_text(encode({"type": "closing", "reason": reason}))
        if not self.closed:
            self.closed = True
            self._queue(_CLOSE)

    async def deliver(self, event: dict, cache: dict) -> None:
        """Called by the hub for each event of this meeting, in seq order."""
        if not self.ready:
            self.buffer.append(event)
            return
        seq = event["seq"]
        if seq <= self.sent_seq:
            return
        if seq > self.sent_seq + 1:
            # Missed events (the layer drops when full): read them from the log.
            self.ready = False
            self.buffer.append(event)
            asyncio.get_running_loop().create_task(self._catch_up())
            return
        await self._send_event(event, cache)

    async def _send_event(self, event: dict, cache: dict) -> None:
        key = wire.view_key(event["name"], event["data"], event["actor"], self.viewer)
        frame = cache.get(key)
        if frame is None:
            frame = cache[key] = EncodedFrame(encode(wire.event_frame(event, self.viewer)))
        direct = self.direct
        if not (
            # send_text's fast path, with the frame built once for the whole view
            direct is not None
            and self.welcomed
            and not self.closed
            and self._writes_now(len(frame.text))
            and _write_direct(direct, frame.wire)
        ):
            await self.send_text(frame.text)
        self.sent_seq = event["seq"]
        if (
            event["name"] == "participant.updated"
            and event["data"]["id"] == self.participant.pk
            and event["data"]["removed"]
        ):
            await self.close_with("removed")

    async def _read_log(self) -> bool:
        """Send the events after ``sent_seq`` from the log; say whether it moved forward."""
        before = self.sent_seq
        frames = await database_call(selectors.events_after)(
            meeting_id=self.meeting_id, after=self.sent_seq, viewer=self.viewer
        )
        for frame in frames:
            if frame["seq"] == self.sent_seq + 1:
                await self.send_text(encode(frame))
                self.sent_seq = frame["seq"]
        return self.sent_seq > before

    async def _catch_up(self) -> None:
        try:
            await self._read_log()
        except Exception:
            log.exception("catch-up failed")
        await self._drain()

    async def _drain(self) -> None:
        """Send what arrived while the log was read, then go live."""
        while self.buffer:
            pending, self.buffer = sorted(self.buffer, key=lambda e: e["seq"]), []
            for event in pending:
                if event["seq"] == self.sent_seq + 1:
                    await self._send_event(event, {})
                elif event["seq"] > self.sent_seq + 1:
                    self.buffer = [e for e in pending if e["seq"] > self.sent_seq]
                    if not await self._read_log():
                        # The log cannot fill the gap (pruned): start over from a snapshot.
                        self.buffer = []
                        await self._resync("lagging")
                        return
                    break
        self.ready = True

    # ----------------------------------------------------------------- client → server

    async def _error(self, code: str, message: str, ref=None, field=None) -> None:
        await self.send_text(
            encode({"type": "error", "ref": ref, "code": code, "message": message, "field": field})
        )

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.closed:  # closing (slow, removed, logged out): what it sends is moot
            return
        if text_data is None:
            await self._error("invalid", "frames are JSON text, not binary")
            return
        limit = settings.PAUSE_WS_MAX_FRAME_BYTES
        if len(text_data) > limit or (
            # Up to 4 bytes a character: only a long frame can be over in bytes.
            len(text_data) * 4 > limit and len(text_data.encode("utf-8", "surrogatepass")) > limit
        ):
            await self._error("too_large", "frame larger than 64 KiB")
            return
        try:
            raw = json.loads(text_data)
        except (ValueError, RecursionError):
            await self._error("invalid", "frame: not valid JSON")
            return
        ref = raw.get("ref") if isinstance(raw, dict) and isinstance(raw.get("ref"), str) else None
        ref = ref if ref and len(ref) <= 64 else None
        try:
            frame = client_frame_adapter.validate_python(raw)
        except ValidationError as e:
            field, message = _field(e)
            await self._error("invalid", message, ref, field)
            return
        except (ValueError, RecursionError):
            await self._error("invalid", "frame: invalid", ref)
            return
        if self.bucket is None:
            self.bucket = TokenBucket(
                settings.PAUSE_RATE_LIMIT_PER_SECOND, settings.PAUSE_RATE_LIMIT_BURST
            )
        if not self.bucket.take():
            with translation.override(self.lang):
                message = str(translation.gettext("Slow down: too many actions at once."))
            await self._error("rate_limited", message, ref)
            return
        if isinstance(frame, Sync):
            await self._resync("requested")
            return
        await self._command(frame)

    async def _command(self, frame) -> None:
        """Hand the command to the writer and go on reading: the next frames of this
        socket queue behind it (in order) and may share its transaction. The writer sends
        the reply when its batch is written (``_reply``)."""
        writer.submit(self.participant, frame, self.lang, self._reply)

    async def _reply(self, frame: dict) -> None:
        await self.send_text(encode(frame))

    async def _resync(self, reason: str) -> None:
        self.ready = False
        frame, seq = await database_call(selectors.resync_frame)(
            meeting_id=self.meeting_id, viewer=self.viewer, reason=reason
        )
        await self.send_text(encode(frame))
        self.sent_seq = seq
        await self._drain()
