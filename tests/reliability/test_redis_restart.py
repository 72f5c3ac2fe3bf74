"""Restarting Redis under load loses no acknowledged write, live delivery between web
processes comes back, and every client converges.

Two daphne processes share a Redis that the test starts on its own port (no
persistence), so a restart empties it. Ten members, five on each process, post with
retries; Redis is killed and started again after a third of the posts. A probe posted on
one process must then reach a client on the other (that path needs Redis). Knobs:
``PAUSE_REDIS_POSTS`` posts per client (60), ``PAUSE_REDIS_DOWN`` seconds down (2).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter

import pytest

from tests.reliability.client import LiveClient, snapshot_diff
from tests.reliability.cluster import timeout_s

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.timeout(timeout_s(300)),
]

POSTS = int(os.environ.get("PAUSE_REDIS_POSTS", "60"))
DOWN = float(os.environ.get("PAUSE_REDIS_DOWN", "2"))
LIVE_BACK_S = 30.0
CONVERGE_S = 15.0


def test_redis_restart_under_load_loses_nothing_and_live_delivery_comes_back(
    cluster_factory, record_property
):
    """0 acknowledged writes lost or duplicated across a Redis restart; a post on one
    process reaches a client on the other within 30 s of Redis being back; every client
    equals the database within 15 s after that."""
    cluster = cluster_factory(db_name="pause_reliability_redis", webs=2)
    info = cluster.helper.call("setup", members=11)
    name = info["session_cookie_name"]
    people = info["people"][1:]
    webs = cluster.webs

    def pinned(web):
        return lambda: [web.port] if web.alive else []

    clients = [
        LiveClient(
            name=f"m{n}",
            meeting_id=info["meeting_id"],
            cookie=f"{name}={p['cookie']}",
            ports=pinned(webs[n % 2]),
        )
        for n, p in enumerate(people)
    ]
    posters, prober = clients[:10], clients[10]  # the prober is on webs[0]
    watcher = clients[1]  # on webs[1]

    async def scenario():
        for c in clients:
            c.start()
        for c in clients:
            await asyncio.wait_for(c.ready.wait(), 30)
        restarted = asyncio.Event()
        back_at: list[float] = []

        async def post(n: int, c: LiveClient) -> None:
            for i in range(POSTS):
                ref = f"p{n}-{i}"
                answer = await c.until_answered(
                    {
                        "type": "idea.post",
                        "ref": ref,
                        "challenge_id": info["challenge_id"],
                        "text": f"idea {ref}",
                    }
                )
                assert answer["type"] == "ack", answer

        async def restart() -> None:
            while sum(len(c.acks) for c in posters) < POSTS * len(posters) // 3:
                await asyncio.sleep(0.02)
            await asyncio.to_thread(cluster.redis.kill)
            await asyncio.sleep(DOWN)
            await asyncio.to_thread(cluster.redis.start)
            back_at.append(time.monotonic())
            restarted.set()

        async def probe() -> float:
            """Seconds from Redis back until a post on webs[0] is seen on webs[1]."""
            await restarted.wait()
            n = 0
            while time.monotonic() - back_at[0] < LIVE_BACK_S + 5:
                n += 1
                text = f"probe {n}"
                await prober.until_answered(
                    {
                        "type": "idea.post",
                        "ref": f"probe-{n}",
                        "challenge_id": info["challenge_id"],
                        "text": text,
                    }
                )
                end = time.monotonic() + 1
                while time.monotonic() < end:
                    if any(i["text"] == text for i in (watcher.snapshot or {}).get("ideas", [])):
                        return time.monotonic() - back_at[0]
                    await asyncio.sleep(0.02)
            return float("inf")

        restarting = asyncio.create_task(restart())
        probing = asyncio.create_task(probe())
        await asyncio.gather(*(post(n, c) for n, c in enumerate(posters)))
        await restarting
        live_back = await probing
        live_ok_at = back_at[0] + live_back
        truth = await asyncio.to_thread(
            cluster.helper.call,
            "truth",
            meeting_id=info["meeting_id"],
            participant_ids=[p["participant_id"] for p in people],
        )
        end = time.monotonic() + CONVERGE_S + 5
        pairs = list(zip(clients, people))
        while time.monotonic() < end:
            behind = [
                c.name
                for c, p in pairs
                if c.snapshot != truth["snapshots"][str(p["participant_id"])]["snapshot"]
            ]
            if not behind:
                break
            await asyncio.sleep(0.1)
        diffs = {
            c.name: snapshot_diff(
                c.snapshot, truth["snapshots"][str(p["participant_id"])]["snapshot"]
            )
            for c, p in pairs
        }
        settled = max(c.last_change for c in clients)
        for c in clients:
            await c.stop()
        return truth, live_back, max(0.0, settled - live_ok_at), diffs

    truth, live_back, converged_after, diffs = asyncio.run(scenario())
    acked = {ref for c in posters for ref in c.acks}
    texts = Counter(i["text"] for i in truth["ideas"])
    lost = [ref for ref in acked if texts[f"idea {ref}"] == 0]
    duplicated = [t for t, n in texts.items() if n > 1]
    stats = sum((c.stats for c in clients), Counter())
    figures = {
        "posts_acknowledged": len(acked),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "redis_down_seconds": DOWN,
        "live_delivery_back_seconds": round(live_back, 2),
        "converged_seconds_after_live_back": round(converged_after, 2),
        "clients_behind": [n for n, d in diffs.items() if d],
        "gaps_seen_by_clients": stats["gaps"],
        "resyncs": stats["resyncs"],
        "retries": stats["retries"],
    }
    record_property("figures", figures)
    print("redis restart figures:", figures)
    assert len(acked) == POSTS * len(posters), figures
    assert lost == [] and duplicated == [], figures
    assert live_back <= LIVE_BACK_S, figures
    assert figures["clients_behind"] == [], (figures, diffs)
    assert converged_after <= CONVERGE_S, figures
