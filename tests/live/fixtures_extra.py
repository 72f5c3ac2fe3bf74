"""Extra live fixtures: sockets whose every received frame is checked against the
protocol, guests with their signed cookie, and a state that applies events like a client.

Import the fixtures in a test module (``from tests.live.fixtures_extra import ws  # noqa``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.core import signing

from rooms import guests, services
from rooms.protocol import server_frame_adapter
from rooms.state import apply_event
from tests.live.conftest import ORIGIN


def guest_headers(meeting, key: uuid.UUID) -> list[tuple[bytes, bytes]]:
    """The headers of a browser that joined ``meeting`` as the guest ``key``."""
    value = signing.dumps({str(meeting.pk): str(key)}, salt=guests.SALT)
    return [ORIGIN, (b"cookie", f"{guests.COOKIE}={value}".encode())]


async def join_as_guest(meeting, name: str = "Gaby Guest"):
    """A guest participant of ``meeting`` and the headers its socket sends."""
    key = uuid.uuid4()
    participant = await sync_to_async(services.participant_join)(
        meeting=meeting, guest_key=key, display_name=name
    )
    return participant, guest_headers(meeting, key)


async def drain(sock, wait: float = 0.25) -> list[dict]:
    """Every frame that arrives within ``wait`` seconds (and the unread ones), without
    the communicator's receive timeout, which cancels the application (asgiref's
    ``receive_output``): ``Socket.quiet`` leaves a dead socket behind."""
    got, sock.unread = sock.unread, []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        while not sock.c.output_queue.empty():
            message = sock.c.output_queue.get_nowait()
            if message["type"] != "websocket.send":
                got.append({"type": "<" + message["type"] + ">", **message})
                continue
            frame = json.loads(message["text"])
            sock.frames.append(frame)
            got.append(frame)
        if loop.time() >= deadline:
            return got
        await asyncio.sleep(0.02)


def events(frames: list[dict]) -> list[dict]:
    return [f for f in frames if f.get("type") == "event"]


class ClientState:
    """What a client holds: a snapshot, and every event applied in seq order."""

    def __init__(self, welcome: dict):
        self.snapshot = welcome["snapshot"]
        self.seq = welcome["seq"]

    def feed(self, frames: list[dict]) -> None:
        for f in frames:
            if f["type"] == "resync":
                self.snapshot, self.seq = f["snapshot"], f["seq"]
            elif f["type"] == "event" and f["seq"] > self.seq:
                assert f["seq"] == self.seq + 1, f"gap: {self.seq} → {f['seq']}"
                self.snapshot = apply_event(self.snapshot, f)
                self.seq = f["seq"]


@pytest.fixture
async def ws(connect):
    """``connect`` whose sockets are closed at the end and whose received frames must all
    validate against ``rooms.protocol.server_frame_adapter`` (and be valid JSON text)."""
    opened = []

    async def open_socket(*args, **kwargs):
        sock = await connect(*args, **kwargs)
        opened.append(sock)
        return sock

    yield open_socket
    for sock in opened:
        # A socket the server closed, or one a receive timeout cancelled, is already gone.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await sock.close()
    bad = []
    for sock in opened:
        for frame in sock.frames:
            try:
                server_frame_adapter.validate_python(json.loads(json.dumps(frame)))
            except Exception as e:
                bad.append(f"{frame!r:.300}: {e!s:.500}")
    assert bad == [], "\n".join(bad)
