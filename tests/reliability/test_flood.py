"""One client flooding at ten times the rate limit gets no more than the limit, and the
other meetings on the same web process barely notice.

One daphne process, two meetings. In meeting A one member sends ideas: first at the rate
limit (baseline), then at ten times it (flood), each for ``PAUSE_FLOOD_SECONDS`` (10 s;
the issue asks 30 s, shortened to keep the suite fast: set 30 to reproduce it). In
meeting B a member posts one idea at a time and a watcher notes when each arrives: the
p95 of that latency is compared between the two periods.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from tests.reliability.client import LiveClient
from tests.reliability.cluster import timeout_s

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.timeout(timeout_s(300)),
]

SECONDS = float(os.environ.get("PAUSE_FLOOD_SECONDS", "10"))
RATE, BURST = 10.0, 20  # the defaults of PAUSE_RATE_LIMIT_PER_SECOND / _BURST


def p95(values):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.95))]


class Watcher(LiveClient):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.arrived: dict[str, float] = {}

    def _on_frame(self, frame):
        if frame.get("type") == "event" and frame["name"] == "idea.posted":
            self.arrived[frame["data"]["text"]] = time.monotonic()
        super()._on_frame(frame)


def test_a_flood_at_ten_times_the_rate_limit_is_capped_and_other_meetings_keep_their_pace(
    cluster_factory, record_property
):
    """Accepted commands of the flooder ≤ rate × time + burst, and the p95 latency in
    another meeting worsens by less than 20% (plus 20 ms of timer noise)."""
    cluster = cluster_factory(
        db_name="pause_reliability_flood",
        webs=1,
        env={"PAUSE_RATE_LIMIT_PER_SECOND": str(RATE), "PAUSE_RATE_LIMIT_BURST": str(BURST)},
    )
    a = cluster.helper.call("setup", members=1)
    b = cluster.helper.call("setup", members=2)
    name = a["session_cookie_name"]

    def client(cls, info, n):
        cookie = f"{name}={info['people'][n]['cookie']}"
        return cls(name=f"c{n}", meeting_id=info["meeting_id"], cookie=cookie, ports=cluster.ports)

    flooder = client(LiveClient, a, 1)
    poster, watcher = client(LiveClient, b, 1), client(Watcher, b, 2)

    async def scenario():
        for c in (flooder, poster, watcher):
            c.start()
        for c in (flooder, poster, watcher):
            await asyncio.wait_for(c.ready.wait(), 30)
        answers = {"ack": 0, "rate_limited": 0}
        n_flood = 0

        async def flood(rate: float) -> None:
            nonlocal n_flood
            end = time.monotonic() + SECONDS
            futures = []
            while time.monotonic() < end:
                n_flood += 1
                ref = f"f{n_flood}"
                frame = {
                    "type": "idea.post",
                    "ref": ref,
                    "challenge_id": a["challenge_id"],
                    "text": f"flood {ref}",
                }
                fut = asyncio.get_running_loop().create_future()
                flooder._pending[ref] = fut
                await flooder._send(frame)
                futures.append(fut)
                await asyncio.sleep(1 / rate)
            for f in asyncio.as_completed(futures, timeout=30):
                answer = await f
                key = "ack" if answer["type"] == "ack" else answer["code"]
                answers[key] = answers.get(key, 0) + 1

        async def measure(tag: str) -> list[float]:
            latencies, n = [], 0
            end = time.monotonic() + SECONDS
            while time.monotonic() < end:
                n += 1
                text = f"{tag} {n}"
                sent = time.monotonic()
                frame = {
                    "type": "idea.post",
                    "ref": f"{tag}{n}",
                    "challenge_id": b["challenge_id"],
                    "text": text,
                }
                await poster.until_answered(frame)
                while text not in watcher.arrived:
                    await asyncio.sleep(0.002)
                latencies.append(watcher.arrived[text] - sent)
                await asyncio.sleep(0.1)
            return latencies

        base = (await asyncio.gather(flood(RATE), measure("base")))[1]
        base_answers = dict(answers)
        answers.update(ack=0, rate_limited=0)
        await asyncio.sleep(BURST / RATE)  # let the bucket refill
        flooded = (await asyncio.gather(flood(RATE * 10), measure("flood")))[1]
        for c in (flooder, poster, watcher):
            await c.stop()
        return base, flooded, base_answers, dict(answers), n_flood

    base, flooded, base_answers, flood_answers, _sent = asyncio.run(scenario())
    figures = {
        "seconds": SECONDS,
        "flood_sent": sum(flood_answers.values()),
        "flood_accepted": flood_answers["ack"],
        "flood_rate_limited": flood_answers["rate_limited"],
        "accepted_cap": RATE * SECONDS + BURST,
        "p95_other_meeting_baseline_ms": round(p95(base) * 1000, 1),
        "p95_other_meeting_flood_ms": round(p95(flooded) * 1000, 1),
    }
    record_property("figures", figures)
    print("flood figures:", figures)
    assert base_answers.get("rate_limited", 0) <= 2, base_answers  # at the limit: accepted
    assert figures["flood_sent"] >= RATE * SECONDS * 5, figures  # a real flood was sent
    assert flood_answers["ack"] <= RATE * SECONDS + BURST + RATE, figures
    assert p95(flooded) <= p95(base) * 1.2 + 0.02, figures
