"""Live-protocol fixtures: real ASGI application, real sessions, WebsocketCommunicator."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from rooms import presence
from rooms.hub import hub
from rooms.models import Membership, Role

ORIGIN = (b"origin", b"http://127.0.0.1")


@pytest.fixture
async def live(settings):
    """A fresh channel layer, hub and presence store for each test's event loop."""
    channel_layers.backends = {}
    presence.reset_backend()
    yield
    await hub.stop()
    presence.reset_backend()
    channel_layers.backends = {}


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


class Socket:
    """A connected client: sends commands, collects frames, finds the one it waits for."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.c = communicator
        self.frames: list[dict] = []  # everything received, in order
        self.unread: list[dict] = []  # received but not yet returned by until()
        self.n = 0

    async def recv(self, timeout=3) -> dict:
        frame = json.loads(await self.c.receive_from(timeout=timeout))
        self.frames.append(frame)
        return frame

    async def send(self, type_: str, ref: str | None = None, **fields) -> str:
        self.n += 1
        ref = ref or f"r{self.n}"
        await self.c.send_to(text_data=json.dumps({"type": type_, "ref": ref, **fields}))
        return ref

    async def until(self, pred, timeout=3) -> dict:
        for n, frame in enumerate(self.unread):
            if pred(frame):
                del self.unread[n]
                return frame
        while True:
            frame = await self.recv(timeout)
            if pred(frame):
                return frame
            self.unread.append(frame)

    async def answer(self, ref: str, timeout=3) -> dict:
        return await self.until(
            lambda f: f.get("ref") == ref and f["type"] in ("ack", "error"), timeout
        )

    async def event(self, name: str, timeout=3) -> dict:
        return await self.until(lambda f: f["type"] == "event" and f["name"] == name, timeout)

    async def do(self, type_: str, **fields) -> dict:
        """Send a command and return its ack or error."""
        return await self.answer(await self.send(type_, **fields))

    async def quiet(self, timeout=0.2) -> list[dict]:
        """Every frame that arrives within ``timeout``."""
        got, self.unread = self.unread, []
        while True:
            try:
                got.append(await self.recv(timeout))
            except Exception:
                return got

    async def close(self):
        await self.c.disconnect()


@pytest.fixture
def connect(live):
    from pause.asgi import application

    opened: list[Socket] = []

    async def open_socket(user, meeting, *, after=None, headers=None, expect_welcome=True):
        path = f"/ws/meetings/{meeting.pk}/" + (f"?after={after}" if after is not None else "")
        hdrs = [ORIGIN] if headers is None else headers
        if user is not None and headers is None:
            cookie = await sync_to_async(session_cookie)(user)
            hdrs = [*hdrs, (b"cookie", cookie)]
        comm = WebsocketCommunicator(application, path, headers=hdrs)
        connected, code = await comm.connect(timeout=5)
        sock = Socket(comm)
        sock.connected, sock.code = connected, code
        if connected:
            opened.append(sock)
            if expect_welcome:
                sock.welcome = await sock.until(lambda f: f["type"] == "welcome")
        return sock

    yield open_socket


@pytest.fixture
def live_meeting(db, meeting_factory, member_factory):
    """A live open-format meeting with its owner, a facilitator and two members."""

    def make(**overrides):
        from rooms import services
        from rooms.models import Meeting

        meeting = meeting_factory(**overrides)
        room = meeting.room
        owner = Membership.objects.get(room=room, role=Role.OWNER).user
        fac = member_factory(room, Role.FACILITATOR)
        a = member_factory(room)
        b = member_factory(room)
        p = services.participant_join(meeting=meeting, user=fac)
        services.meeting_start(actor=p)
        return Meeting.objects.get(pk=meeting.pk), {"owner": owner, "fac": fac, "a": a, "b": b}

    return make


# Appended: the frame-validating ``ws`` fixture (tests/live/fixtures_extra.py).
from tests.live.fixtures_extra import ws  # noqa: E402, F401
