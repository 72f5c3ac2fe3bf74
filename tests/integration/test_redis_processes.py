"""Two real daphne processes sharing one database and one Redis (channels-redis).

A post on one process is seen on the other with the same seq; presence spans both;
a process killed with SIGKILL disappears from presence within ``PAUSE_PRESENCE_TTL``,
and its clients resume on the other process without losing or repeating an event.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.pause_client import Client
from tests.integration.conftest import redis_db

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]
TTL = 3


@pytest.fixture
def redis_url():
    with redis_db() as url:
        yield url


@pytest.fixture
def cluster(sqlite_db, servers, redis_url):
    env = {**sqlite_db.env, "REDIS_URL": redis_url, "PAUSE_PRESENCE_TTL": str(TTL)}
    one, two = servers(env, 2, wait=False)
    seeded = sqlite_db.seed(members=3)
    one.wait_ready()
    two.wait_ready()
    return sqlite_db, one, two, seeded


def _presence_ids(client: Client) -> set[int] | None:
    frames = [f for f in client.frames if f["type"] == "presence"]
    return {p["id"] for p in frames[-1]["participants"]} if frames else None


async def _until(pred, timeout: float, what: str) -> float:
    """Wait until ``pred()`` holds; return how long it took."""
    start = time.monotonic()
    while not pred():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def _me(client: Client) -> int:
    return next(f for f in client.frames if f["type"] == "welcome")["you"]["participant_id"]


async def test_two_processes_share_events_and_presence_and_survive_a_kill(cluster):
    """Clients on two processes see each other's posts with the same seq and each other
    in presence; after one process is killed, its users leave the presence of the other
    within the TTL, and its clients resume there with every event exactly once."""
    db, one, two, seeded = cluster
    mid, challenge = seeded["meeting_id"], seeded["challenge_id"]
    m0, m1, m2 = seeded["members"]
    on_one = [Client(one.ws_url(mid), m["cookie"], give_up=30) for m in (m0, m2)]
    on_two = Client(two.ws_url(mid), m1["cookie"], give_up=30)
    clients = [*on_one, on_two]
    runners = [asyncio.create_task(c.run()) for c in clients]
    try:
        for c in clients:
            await asyncio.wait_for(c.welcomed.wait(), 15)
        everyone = {_me(c) for c in clients}

        # A post on process one reaches process two with the same seq, and back.
        ack = await on_one[0].request(
            {"type": "idea.post", "challenge_id": challenge, "text": "Sur le premier"}
        )
        assert ack["type"] == "ack", ack
        for c in clients:
            seen = await c.wait_for(lambda f: f.get("seq") == ack["seq"] and f["type"] == "event")
            assert seen["name"] == "idea.posted" and seen["data"]["text"] == "Sur le premier"
        back = await on_two.request(
            {"type": "idea.post", "challenge_id": challenge, "text": "Sur le second"}
        )
        seen = await on_one[1].wait_for(lambda f: f.get("seq") == back["seq"])
        assert seen["data"]["text"] == "Sur le second"

        # Presence spans both processes.
        for c in clients:
            await _until(lambda c=c: _presence_ids(c) == everyone, 10, "everyone present")

        # SIGKILL process one: no goodbye, its Redis entries expire without heartbeat.
        # A command is in flight from a client of the killed process at that moment.
        in_flight = {"type": "idea.post", "challenge_id": challenge, "text": "En vol"}
        ref = await on_one[0].send(in_flight)
        one.kill()
        gone = {_me(c) for c in on_one}
        took = await _until(
            lambda: _presence_ids(on_two) == everyone - gone, TTL + 5, "killed users leave"
        )
        print(f"presence healed {took:.1f}s after the SIGKILL")
        assert took <= TTL + 3

        # Meanwhile process two goes on.
        for n in range(5):
            answer = await on_two.request(
                {"type": "idea.post", "challenge_id": challenge, "text": f"Pendant la panne {n}"}
            )
            assert answer["type"] == "ack"

        # The orphaned clients move to process two and resume from their cursor.
        for c in on_one:
            c.urls = [two.ws_url(mid)]
        answer = await asyncio.wait_for(asyncio.shield(on_one[0].answers[ref]), 30)
        assert answer["type"] == "ack", answer
        final = (
            await on_two.request(
                {"type": "reaction.toggle", "idea_id": ack["result"]["id"], "emoji": "🎉"}
            )
        )["seq"]
        for c in clients:
            await _until(lambda c=c: c.cursor.seq >= final, 20, "resumed to the last seq")
            await _until(lambda c=c: _presence_ids(c) == everyone, 10, "present again")
    finally:
        for c in clients:
            await c.stop()
        await asyncio.gather(*runners, return_exceptions=True)

    assert all(c.connections == 2 for c in on_one) and on_two.connections == 1
    for c in clients:
        # Every event after the first welcome, once and in order, across the reconnect.
        first = next(f for f in c.frames if f["type"] == "welcome")["seq"]
        assert [f["seq"] for f in c.applied] == list(range(first + 1, final + 1))
    texts = [t for (t,) in db.rows("SELECT text FROM rooms_idea WHERE text = %s", ("En vol",))]
    assert texts == ["En vol"]
