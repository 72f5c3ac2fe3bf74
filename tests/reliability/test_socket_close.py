"""Logging out and being removed from a room close the person's live sockets on every
web process, for real: through daphne, not only in the in-process test transport.

Two daphne processes and Redis; the sockets are on one process, the logout and the
removal happen in another (the helper process), so the close travels over the channel
layer as it does in production.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect

from tests.reliability.cluster import timeout_s

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.timeout(timeout_s(180)),
]


async def open_socket(port: int, meeting_id: int, cookie: str):
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws/meetings/{meeting_id}/",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": cookie},
        max_size=None,
        compression=None,
        proxy=None,
        ping_interval=None,
    )
    frame = json.loads(await ws.recv())
    assert frame["type"] == "welcome"
    return ws


async def closed_within(ws, seconds: float) -> tuple[float | None, list[str]]:
    """Seconds until the server closed ``ws`` (None if it did not), and the closing
    reasons it sent first."""
    start = time.monotonic()
    reasons = []
    try:
        async with asyncio.timeout(seconds):
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "closing":
                    reasons.append(frame["reason"])
    except TimeoutError:
        return None, reasons
    except Exception:
        pass
    return time.monotonic() - start, reasons


def test_logout_and_removal_close_the_sockets_on_another_web_process(
    cluster_factory, record_property
):
    """A logout closes all of that user's sockets within 5 s; a member removed from the
    room has theirs closed at once; both with a ``closing`` frame first, and nobody
    else's socket is touched."""
    cluster = cluster_factory(db_name="pause_reliability_close", webs=2)
    info = cluster.helper.call("setup", members=3)
    name = info["session_cookie_name"]
    meeting_id = info["meeting_id"]
    leaver, removed, bystander = info["people"][1:4]
    ports = [w.port for w in cluster.webs]

    async def scenario():
        leaver_ws = [
            await open_socket(port, meeting_id, f"{name}={leaver['cookie']}") for port in ports
        ]
        removed_ws = await open_socket(ports[0], meeting_id, f"{name}={removed['cookie']}")
        other_ws = await open_socket(ports[1], meeting_id, f"{name}={bystander['cookie']}")
        await asyncio.sleep(0.5)

        waits = [asyncio.create_task(closed_within(ws, 5)) for ws in leaver_ws]
        answer = await asyncio.to_thread(cluster.helper.call, "logout", cookie=leaver["cookie"])
        assert answer["status"] in (200, 302), answer
        logout = await asyncio.gather(*waits)

        wait = asyncio.create_task(closed_within(removed_ws, 5))
        await asyncio.to_thread(
            cluster.helper.call, "remove", participant_id=removed["participant_id"]
        )
        removal = await wait

        still_open = await closed_within(other_ws, 1)
        await other_ws.close()
        return logout, removal, still_open

    logout, removal, still_open = asyncio.run(scenario())
    figures = {
        "logout_close_seconds": [None if t is None else round(t, 2) for t, _ in logout],
        "removal_close_seconds": None if removal[0] is None else round(removal[0], 2),
    }
    record_property("figures", figures)
    print("socket close figures:", figures)
    for seconds, reasons in logout:
        assert seconds is not None and seconds <= 5, figures
        assert reasons == ["logged_out"], reasons
    assert removal[0] is not None and removal[0] <= 1.0, figures
    assert removal[1] and removal[1][0] in ("removed", "forbidden"), removal
    assert still_open[0] is None, "a bystander's socket was closed"
