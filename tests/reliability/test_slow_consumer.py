"""A client that stops reading is cut off instead of filling the server's memory, and
the others do not wait for it.

One daphne process (with small limits: a send queue of ``PAUSE_WS_SEND_QUEUE`` frames and
a write buffer of ``PAUSE_WS_WRITE_HIGH_WATER`` bytes, see tests/reliability/settings.py),
a poster, four watchers and one more client that either reads (baseline) or stops
reading (slow), in a meeting of 300 ideas of 2 KB. Before each burst the sixth client
asks for 10 snapshots (``sync``, ~650 KB each): the kernel holds up to 4 MB per socket
(``tcp_wmem``), so only past that does the server's own buffer grow. Each burst is
``PAUSE_SLOW_BURST`` ideas of 2,000 characters, sent without waiting for acks.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import time

import psutil
import pytest
from websockets.asyncio.client import connect

from tests.reliability.client import LiveClient, snapshot_diff
from tests.reliability.cluster import timeout_s

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.timeout(timeout_s(300)),
    # Not yet reliable on a loaded 2-core machine: the test's own clients (one Python
    # process parsing ~650 KB snapshots) fall behind too and are closed as slow, which
    # confounds the comparison. Run it by hand with PAUSE_SLOW_CONSUMER=1.
    pytest.mark.skipif(
        os.environ.get("PAUSE_SLOW_CONSUMER") != "1",
        reason="manual for now (PAUSE_SLOW_CONSUMER=1); see docs/reliability.md",
    ),
]

BURST = int(os.environ.get("PAUSE_SLOW_BURST", "150"))
PRELOAD = 300  # ideas of 2 KB already in the meeting: each snapshot weighs ~650 KB
SYNCS = 10  # snapshots asked for before each burst: more than the kernel's 4 MB buffer
ROUNDS = 2
ENV = {
    "DJANGO_SETTINGS_MODULE": "tests.reliability.settings",
    "PAUSE_WS_SEND_QUEUE": "100",
    "PAUSE_WS_WRITE_HIGH_WATER": str(64 * 1024),
    "PAUSE_RATE_LIMIT_PER_SECOND": "1000",
    "PAUSE_RATE_LIMIT_BURST": "1000",
    "DJANGO_LOG_LEVEL": "INFO",
}


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.95))]


class Watcher(LiveClient):
    """Notes when each idea text arrives."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.arrived: dict[str, float] = {}

    def _on_frame(self, frame: dict) -> None:
        if frame.get("type") == "event" and frame["name"] == "idea.posted":
            self.arrived[frame["data"]["text"]] = time.monotonic()
        super()._on_frame(frame)


async def open_stalled(port: int, meeting_id: int, cookie: str):
    """A client whose socket stops reading after the handshake: a tiny receive buffer,
    and a websockets queue of one frame, so the server's writes pile up at once."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await connect(
        f"ws://127.0.0.1:{port}/ws/meetings/{meeting_id}/",
        sock=sock,
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": cookie},
        max_queue=1,
        ping_interval=None,
        compression=None,
        max_size=None,
        proxy=None,
    )


def test_a_client_that_stops_reading_is_closed_and_does_not_slow_the_others(
    cluster_factory, record_property
):
    """During bursts of ideas, a socket that stops reading is closed as a slow consumer
    (the server's memory stays bounded), it resumes from its seq when it comes back, and
    the other clients' p95 delivery latency grows by less than 20%."""
    # daphne's default 64 KiB limit also caps what the server sends (a snapshot): raised
    # here, as docs/reliability.md asks for production.
    cluster = cluster_factory(
        db_name="pause_reliability_slow", webs=1, env=ENV, max_message=16 * 2**20
    )
    web = cluster.webs[0]
    info = cluster.helper.call("setup", members=6, preload=PRELOAD)
    name = info["session_cookie_name"]
    people = info["people"][1:]
    cookies = [f"{name}={p['cookie']}" for p in people]
    meeting_id, challenge_id = info["meeting_id"], info["challenge_id"]
    server = psutil.Process(web.proc.pid)

    async def scenario():
        def client(cls, n):
            return cls(name=f"m{n}", meeting_id=meeting_id, cookie=cookies[n], ports=cluster.ports)

        poster = client(LiveClient, 0)
        watchers = [client(Watcher, n) for n in range(1, 5)]
        for c in (poster, *watchers):
            c.start()
        for c in (poster, *watchers):
            await asyncio.wait_for(c.ready.wait(), 30)
        n_round = 0

        async def burst() -> float:
            nonlocal n_round
            n_round += 1
            sent: dict[str, float] = {}
            refs = []
            for i in range(BURST):
                text = f"r{n_round}-{i} " + "x" * 1990
                ref = f"s{n_round}-{i}"
                sent[text] = time.monotonic()
                await poster._send(
                    {"type": "idea.post", "ref": ref, "challenge_id": challenge_id, "text": text}
                )
                refs.append(ref)
            end = time.monotonic() + 120
            while time.monotonic() < end and not all(
                t in w.arrived for w in watchers for t in sent
            ):
                await asyncio.sleep(0.02)
            latencies = [w.arrived[t] - s for w in watchers for t, s in sent.items()]
            assert len(latencies) == BURST * len(watchers), "a watcher missed ideas"
            return p95(latencies)

        baseline, slowed = [], []
        rss_before = server.memory_info().rss
        slow_frames: list[dict] = []
        for _ in range(ROUNDS):
            # Baseline: the sixth client reads.
            reader = client(LiveClient, 5)
            reader.start()
            await asyncio.wait_for(reader.ready.wait(), 30)
            for _ in range(SYNCS):  # the same server work as for the stalled client
                await reader._send({"type": "sync"})
            await asyncio.sleep(1)
            baseline.append(await burst())
            await reader.stop()
            # Slow: the sixth client stops reading.
            first = len(slow_frames)
            stalled = await open_stalled(web.port, meeting_id, cookies[5])
            slow_frames.append(json.loads(await stalled.recv()))  # the welcome, then no more
            for _ in range(SYNCS):  # ~6.5 MB of snapshots it will not read
                await stalled.send(json.dumps({"type": "sync"}))
            await asyncio.sleep(1)
            slowed.append(await burst())
            rss_peak = server.memory_info().rss
            # It comes back to read: what it got is a prefix of the stream, then closing.
            try:
                async with asyncio.timeout(30):
                    async for raw in stalled:
                        slow_frames.append(json.loads(raw))
            except TimeoutError:
                pytest.fail("the stalled socket was not closed")
            except Exception:
                pass
            closed_slow_frames = len(slow_frames) - first
        rss_after = server.memory_info().rss

        # Coming back with its cursor, it converges to the database's state.
        back = client(LiveClient, 5)
        for frame in slow_frames[-closed_slow_frames:]:
            back._on_frame(frame)
        back.start()
        await asyncio.wait_for(back.ready.wait(), 30)
        truth = await asyncio.to_thread(
            cluster.helper.call,
            "truth",
            meeting_id=meeting_id,
            participant_ids=[people[5]["participant_id"]],
        )
        want = truth["snapshots"][str(people[5]["participant_id"])]
        end = time.monotonic() + 15
        while back.seq != want["seq"] and time.monotonic() < end:
            await asyncio.sleep(0.05)
        for c in (poster, *watchers, back):
            await c.stop()
        return {
            "baseline": baseline,
            "slowed": slowed,
            "rss": (rss_before, rss_peak, rss_after),
            "slow_frames": slow_frames,
            "back": back,
            "want": want,
        }

    r = asyncio.run(scenario())
    log = web.log.read_text(errors="replace")
    closes = len(re.findall(r"closing a slow socket", log))
    base, slow = min(r["baseline"]), min(r["slowed"])
    rss_before, rss_peak, rss_after = r["rss"]
    figures = {
        "burst": BURST,
        "p95_baseline_s": round(base, 3),
        "p95_with_slow_client_s": round(slow, 3),
        "slowdown": round(slow / base - 1, 3),
        "slow_closes_logged": closes,
        "slow_client_got_closing": any(
            f.get("type") == "closing" and f["reason"] == "slow_consumer" for f in r["slow_frames"]
        ),
        "server_rss_mb": [round(x / 2**20, 1) for x in (rss_before, rss_peak, rss_after)],
    }
    record_property("figures", figures)
    print("slow consumer figures:", figures)
    assert closes == ROUNDS, figures  # each stalled socket was closed by the server
    events = [f["seq"] for f in r["slow_frames"] if f["type"] == "event"]
    assert events == list(range(events[0], events[0] + len(events))) if events else True
    # Bounded: far below what the bursts weigh (2 KB × burst × 6 sockets × rounds).
    assert rss_peak - rss_before < 64 * 2**20, figures
    back, want = r["back"], r["want"]
    assert back.seq == want["seq"], (back.seq, want["seq"], back.stats)
    assert back.snapshot == want["snapshot"], snapshot_diff(back.snapshot, want["snapshot"])
    # Not slowed by the stalled socket: within 20% (plus 20 ms of timer noise).
    assert slow <= base * 1.2 + 0.02, figures
