"""Killing web processes loses no acknowledged idea and duplicates none.

Two daphne processes share a PostgreSQL database and a Redis channel layer. Twenty
members post ideas, each retrying with the same ``ref`` until answered, while web
processes are killed with SIGKILL at random moments and restarted; clients reconnect to
whichever process is up and resume with ``?after=<seq>``. Knobs (environment):
``PAUSE_KILL_POSTS`` posts per client (100), ``PAUSE_KILL_COUNT`` kills (20),
``PAUSE_KILL_SEED`` the random seed.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter

import pytest

from tests.reliability.client import LiveClient, snapshot_diff
from tests.reliability.cluster import timeout_s

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.timeout(timeout_s(400)),
]

POSTS = int(os.environ.get("PAUSE_KILL_POSTS", "100"))
KILLS = int(os.environ.get("PAUSE_KILL_COUNT", "20"))
SEED = int(os.environ.get("PAUSE_KILL_SEED", str(random.randrange(1 << 30))))
CONVERGE_S = 10.0


def make_clients(cluster, info) -> list[LiveClient]:
    name = info["session_cookie_name"]
    return [
        LiveClient(
            name=f"m{n}",
            meeting_id=info["meeting_id"],
            cookie=f"{name}={p['cookie']}",
            ports=cluster.ports,
        )
        for n, p in enumerate(info["people"][1:])
    ]


async def wait_converged(clients, truth, timeout: float) -> tuple[bool, list[str]]:
    """Wait until every client's state equals the database's for that viewer."""
    end = time.monotonic() + timeout
    while True:
        behind = [
            f"{c.name}: {snapshot_diff(c.snapshot, truth['snapshots'][str(pid)]['snapshot'])}"
            for c, pid in clients
            if c.snapshot != truth["snapshots"][str(pid)]["snapshot"]
        ]
        if not behind or time.monotonic() > end:
            return not behind, behind
        await asyncio.sleep(0.1)


def test_sigkill_of_web_processes_loses_and_duplicates_no_acknowledged_idea(
    cluster_factory, record_property
):
    """20 clients post with retries while web processes are SIGKILLed at random and
    restarted: every acknowledged idea is in the database exactly once, and every
    client's state equals the database's within 10 s of the last kill."""
    rng = random.Random(SEED)
    cluster = cluster_factory(db_name="pause_reliability", webs=2)
    info = cluster.helper.call("setup", members=20)
    pids = [p["participant_id"] for p in info["people"][1:]]
    clients = make_clients(cluster, info)
    kills: list[float] = []

    async def scenario():
        for c in clients:
            c.start()

        async def post(n: int, c: LiveClient) -> None:
            for i in range(POSTS):
                ref = f"k{n}-{i}"
                answer = await c.until_answered(
                    {
                        "type": "idea.post",
                        "ref": ref,
                        "challenge_id": info["challenge_id"],
                        "text": f"idea {ref}",
                    }
                )
                assert answer["type"] == "ack", answer

        total = POSTS * len(clients)
        # The kills happen at random points of the posting (by acknowledged posts, so the
        # schedule does not depend on the machine's speed), each on a serving process.
        marks = sorted(rng.sample(range(total // 50, total - total // 50), KILLS))

        async def killer() -> None:
            for mark in marks:
                while sum(len(c.acks) for c in clients) < mark:
                    await asyncio.sleep(0.01)
                await asyncio.sleep(rng.uniform(0, 0.05))
                # Killed once it serves again: a kill during start-up tests only that.
                while not (serving := [w for w in cluster.webs if w.alive and w.ready]):
                    await asyncio.sleep(0.05)
                web = rng.choice(serving)
                web.signal(signal.SIGKILL)
                kills.append(time.monotonic())
                await asyncio.to_thread(web.kill)  # reap it
                web.start()
                restarts.append(
                    asyncio.get_running_loop().create_task(asyncio.to_thread(web.wait_ready))
                )

        restarts: list[asyncio.Task] = []
        killing = asyncio.get_running_loop().create_task(killer())
        started = time.monotonic()
        await asyncio.gather(*(post(n, c) for n, c in enumerate(clients)))
        posted_at = time.monotonic()
        await killing
        await asyncio.gather(*restarts)
        truth = await asyncio.to_thread(
            cluster.helper.call, "truth", meeting_id=info["meeting_id"], participant_ids=pids
        )
        ok, behind = await wait_converged(list(zip(clients, pids)), truth, CONVERGE_S)
        settled = max(c.last_change for c in clients)
        for c in clients:
            await c.stop()
        return truth, ok, behind, settled, posted_at, posted_at - started

    truth, ok, behind, settled, posted_at, posting_s = asyncio.run(scenario())
    # Posting goes on for a moment after the last kill: convergence counts from the
    # later of the last kill and the last acknowledged post.
    converged_after = max(0.0, settled - max(kills[-1], posted_at))

    acked = {ref for c in clients for ref in c.acks}
    texts = Counter(i["text"] for i in truth["ideas"])
    lost = [ref for ref in acked if texts[f"idea {ref}"] == 0]
    duplicated = [t for t, n in texts.items() if n > 1]
    stats = sum((c.stats for c in clients), Counter())
    figures = {
        "seed": SEED,
        "posts_acknowledged": len(acked),
        "ideas_in_database": len(truth["ideas"]),
        "kills": len(kills),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "posting_seconds": round(posting_s, 1),
        "posting_after_last_kill_seconds": round(max(0.0, posted_at - kills[-1]), 2),
        "converged_seconds": round(converged_after, 2),
        "reconnects": stats["connects"] - len(clients),
        "retries": stats["retries"],
        "gaps_seen_by_clients": stats["gaps"],
        "duplicates_seen_by_clients": stats["duplicates"],
        "resyncs": stats["resyncs"],
    }
    record_property("figures", figures)
    print("worker kill figures:", figures)
    assert len(kills) == KILLS
    assert len(acked) == POSTS * len(clients), figures
    assert lost == [], figures
    assert duplicated == [], figures
    assert len(truth["ideas"]) == len(acked), figures
    assert ok, behind[:3]
    assert converged_after <= CONVERGE_S, figures
