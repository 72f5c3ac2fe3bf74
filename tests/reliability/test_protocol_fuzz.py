"""Bad frames never crash the meeting socket: each gets a structured error (or the
socket is closed on purpose), and the socket keeps working afterwards.

Hypothesis sends arbitrary JSON values, arbitrary text, arbitrary bytes and mutated
commands through ``WebsocketCommunicator`` on the real ASGI application, plus hand-made
extremes: deep nesting, huge numbers, lone surrogates, invalid UTF-8, oversized frames.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rooms import presence
from rooms.hub import hub
from rooms.protocol import COMMAND_TYPES, client_frame_adapter
from tests.live.conftest import ORIGIN, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
command_like = st.builds(
    lambda t, fields: {"type": t, **fields},
    st.sampled_from([*COMMAND_TYPES, "sync", "nope", ""]),
    st.dictionaries(
        st.sampled_from(
            ["ref", "idea_id", "challenge_id", "text", "title", "phase", "seconds", "emoji", "x"]
        ),
        json_values,
        max_size=4,
    ),
)
frames = st.one_of(
    json_values.map(lambda v: ("text", json.dumps(v))),
    command_like.map(lambda v: ("text", json.dumps(v))),
    st.text(max_size=200).map(lambda t: ("text", t)),
    st.binary(max_size=200).map(lambda b: ("bytes", b)),
)
EXTREMES = [
    ("text", "[" * 100_000 + "]" * 100_000),
    ("text", '{"a":' * 50_000 + "1" + "}" * 50_000),
    ("text", '{"type":"idea.post","ref":"r1","challenge_id":' + "9" * 5000 + ',"text":"x"}'),
    ("text", '{"type":"vote.cast","ref":"r2","idea_id":1e999999}'),
    ("text", '{"type":"vote.cast","ref":"r3","idea_id":-1}'),
    ("text", '{"type":"idea.post","ref":"r4","challenge_id":1,"text":"\\ud800"}'),
    ("text", '{"type":"idea.post","ref":"r5","challenge_id":1,"text":"\ud800"}'),
    ("text", '{"type":"idea.post","ref":"\\u0000","challenge_id":1,"text":"x"}'),
    ("bytes", b"\xff\xfe\xfd invalid utf-8 \xc3\x28"),
    ("bytes", json.dumps({"type": "sync"}).encode()),
    ("text", "x" * 70_000),
    (
        "text",
        json.dumps({"type": "idea.post", "ref": "r6", "challenge_id": 1, "text": "é" * 40_000}),
    ),
    ("text", "NaN"),
    ("text", '{"type":"idea.post","ref":"r7","ref":"r8","challenge_id":1,"text":"dup keys"}'),
    ("text", ""),
]


def is_valid(kind: str, data) -> bool:
    if kind != "text":
        return False
    try:
        client_frame_adapter.validate_python(json.loads(data))
    except (ValueError, ValidationError, RecursionError):
        return False
    return True


async def exchange(cookie: bytes, meeting_id: int, batch) -> list[tuple[bool, dict | None]]:
    """Send each frame of ``batch`` on one socket; return (valid?, answer) per frame,
    answer None if the socket was closed. Ends with a sync that must be answered."""
    channel_layers.backends = {}
    presence.reset_backend()
    comm = WebsocketCommunicator(
        __import__("pause.asgi", fromlist=["application"]).application,
        f"/ws/meetings/{meeting_id}/",
        headers=[ORIGIN, (b"cookie", cookie)],
    )
    connected, _ = await comm.connect(timeout=5)
    assert connected
    out: list[tuple[bool, dict | None]] = []
    try:

        async def next_answer():
            while True:
                message = await comm.receive_output(timeout=5)
                if message["type"] == "websocket.close":
                    return None
                frame = json.loads(message["text"])
                if frame["type"] in ("ack", "error", "resync"):
                    return frame

        while True:  # welcome and presence
            frame = json.loads(await comm.receive_from(timeout=5))
            if frame["type"] == "welcome":
                break
        for kind, data in [*batch, ("text", json.dumps({"type": "sync"}))]:
            # send_input, not send_to: an empty frame is a frame too.
            await comm.send_input({"type": "websocket.receive", kind: data})
            answer = await next_answer()
            out.append((is_valid(kind, data), answer))
            if answer is None:
                break
    finally:
        await comm.disconnect()
        await hub.stop()
        channel_layers.backends = {}
    return out


def check(results) -> None:
    """Every bad frame: a structured error or a close; the socket still answers after."""
    for valid, answer in results[:-1]:
        if answer is None:
            return  # closed on purpose: nothing more is owed
        if not valid:
            assert answer["type"] == "error", answer
            assert answer["code"] in ("invalid", "too_large", "rate_limited"), answer
            assert isinstance(answer["message"], str) and answer["message"]
    assert results[-1][1] is not None and results[-1][1]["type"] == "resync", results[-1]


@pytest.fixture
def member(live_meeting):
    meeting, people = live_meeting()
    return session_cookie(people["a"]), meeting.pk


def server_errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_extreme_frames_get_a_structured_error_and_no_crash(member, caplog):
    """Deep nesting, huge numbers, surrogates, invalid UTF-8, oversized and empty frames
    are each answered with an error (or a close), and the socket then still answers."""
    cookie, meeting_id = member
    results = async_to_sync(exchange)(cookie, meeting_id, EXTREMES)
    check(results)
    assert len(results) == len(EXTREMES) + 1
    assert server_errors(caplog) == []


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(frames, min_size=1, max_size=8))
def test_arbitrary_frames_get_a_structured_error_and_no_crash(member, batch, caplog):
    """Arbitrary JSON, text, bytes and mutated commands: 0 server exceptions, every bad
    frame answered with a structured error, the socket still usable."""
    cookie, meeting_id = member
    check(asyncio.run(exchange(cookie, meeting_id, batch)))
    assert server_errors(caplog) == []
