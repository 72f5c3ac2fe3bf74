"""Under uvicorn's ``websockets-sansio`` protocol (the production server), an event's
frame is built once per view and written to each socket's transport directly
(``rooms.consumers._write_direct``), unless the socket negotiated compression: a real
uvicorn server in this process, real ``websockets`` clients over loopback."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect as ws_connect
from websockets.frames import Frame, Opcode

from rooms import consumers
from tests.live.conftest import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_a_text_frame_is_the_one_websockets_builds(size):
    text = ("é" * size)[: max(size - size // 3, 0)] + "x" * (size // 3)
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
    assert consumers.text_frame(text) == expected
    assert consumers.EncodedFrame(text).wire == expected


async def _serve(**options):
    import uvicorn

    from pause.asgi import application

    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=0,
        ws="websockets-sansio",
        log_level="warning",
        lifespan="off",
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port


async def _open(port: int, meeting_id: int, user, compression):
    cookie = (await sync_to_async(session_cookie)(user)).decode()
    ws = await ws_connect(
        f"ws://127.0.0.1:{port}/ws/meetings/{meeting_id}/",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": cookie},
        compression=compression,
        proxy=None,
    )
    frames: list[dict] = []

    async def until(pred, timeout=5):
        for f in frames:
            if pred(f):
                return f
        async with asyncio.timeout(timeout):
            while True:
                frame = json.loads(await ws.recv())
                frames.append(frame)
                if pred(frame):
                    return frame

    welcome = await until(lambda f: f["type"] == "welcome")
    return ws, until, welcome


async def _post_and_receive(live_meeting, *, compression, deflate: bool):
    meeting, people = await sync_to_async(live_meeting)()
    server, task, port = await _serve(ws_per_message_deflate=deflate)
    sockets = []
    try:
        for who in ("fac", "a", "b"):
            sockets.append(await _open(port, meeting.pk, people[who], compression))
        (fac, fac_until, _), (a, a_until, _), _b = sockets

        async def command(ws, until, frame):
            await ws.send(json.dumps(frame))
            return await until(lambda f: f.get("ref") == frame["ref"])

        await command(fac, fac_until, {"type": "phase.set", "ref": "p", "phase": "ideas"})
        challenge = await command(
            fac, fac_until, {"type": "challenge.post", "ref": "c", "title": "Trouver"}
        )
        text = "Un atelier découverte, « ouvert » à toutes " * 12  # a 16-bit length
        ack = await command(
            a,
            a_until,
            {
                "type": "idea.post",
                "ref": "i",
                "challenge_id": challenge["result"]["id"],
                "text": text,
            },
        )
        assert ack["type"] == "ack", ack
        got = []
        for _ws, until, _welcome in sockets:
            got.append(await until(lambda f: f["type"] == "event" and f["name"] == "idea.posted"))
        assert {f["seq"] for f in got} == {ack["seq"]}
        assert [f["data"]["text"] for f in got] == [text.strip()] * 3
        assert [f["data"]["mine"] for f in got] == [False, True, False]
    finally:
        for ws, _until, _welcome in sockets:
            await ws.close()
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def _counting(monkeypatch) -> list[bool]:
    results: list[bool] = []
    real = consumers._write_direct

    def counted(owner, frame: bytes) -> bool:
        results.append(real(owner, frame))
        return results[-1]

    monkeypatch.setattr(consumers, "_write_direct", counted)
    return results


async def test_uvicorn_sansio_sockets_get_each_views_frame_written_directly(
    live, live_meeting, monkeypatch
):
    writes = _counting(monkeypatch)
    await _post_and_receive(live_meeting, compression=None, deflate=False)
    # phase.set, challenge.posted and idea.posted to 3 sockets each, at least.
    assert writes.count(True) >= 9 and False not in writes, writes


async def test_a_socket_that_negotiated_compression_goes_through_the_servers_send(
    live, live_meeting, monkeypatch
):
    writes = _counting(monkeypatch)
    await _post_and_receive(live_meeting, compression="deflate", deflate=True)
    assert writes and True not in writes, writes  # declined every time: compressed by send
