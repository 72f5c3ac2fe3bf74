"""Forced disconnects during posting: every client resumes from its seq with no gap and
no duplicate, and a cursor the log cannot serve always gets ``resync``.

The drop test runs two daphne processes with Redis: ten members post with retries while
their TCP connections are cut (no closing handshake) ``PAUSE_DROPS`` times (1,000) at
random; each reconnects to either process with ``?after=<seq>``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter

import pytest
from asgiref.sync import sync_to_async

from rooms.models import MeetingEvent
from tests.reliability.client import LiveClient, snapshot_diff
from tests.reliability.cluster import timeout_s

DROPS = int(os.environ.get("PAUSE_DROPS", "1000"))
POSTS = int(os.environ.get("PAUSE_DROPS_POSTS", "60"))


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.timeout(timeout_s(400))
def test_forced_disconnects_resume_without_gap_or_duplicate(cluster_factory, record_property):
    """1,000 forced disconnects during posting: 0 gaps and 0 duplicates seen by clients,
    0 acknowledged ideas lost, and every client's state equals the database's."""
    rng = random.Random(int(os.environ.get("PAUSE_DROPS_SEED", "7")))
    cluster = cluster_factory(db_name="pause_reliability_drops", webs=2)
    info = cluster.helper.call("setup", members=10)
    name = info["session_cookie_name"]
    people = info["people"][1:]
    clients = [
        LiveClient(
            name=f"m{n}",
            meeting_id=info["meeting_id"],
            cookie=f"{name}={p['cookie']}",
            ports=cluster.ports,
        )
        for n, p in enumerate(people)
    ]

    async def scenario():
        for c in clients:
            c.start()
        drops = 0
        posting = True

        async def post(n, c):
            for i in range(POSTS):
                ref = f"d{n}-{i}"
                frame = {
                    "type": "idea.post",
                    "ref": ref,
                    "challenge_id": info["challenge_id"],
                    "text": f"idea {ref}",
                }
                assert (await c.until_answered(frame))["type"] == "ack"

        async def dropper():
            nonlocal drops
            while drops < DROPS:
                await asyncio.sleep(rng.uniform(0.0, 0.02 if posting else 0.01))
                ready = [c for c in clients if c.ws is not None and c.ready.is_set()]
                if ready:
                    rng.choice(ready).drop()
                    drops += 1

        dropping = asyncio.create_task(dropper())
        await asyncio.gather(*(post(n, c) for n, c in enumerate(clients)))
        posting = False
        await dropping
        truth = await asyncio.to_thread(
            cluster.helper.call,
            "truth",
            meeting_id=info["meeting_id"],
            participant_ids=[p["participant_id"] for p in people],
        )
        end = time.monotonic() + 15
        pairs = list(zip(clients, people))

        def behind():
            return {
                c.name: snapshot_diff(
                    c.snapshot, truth["snapshots"][str(p["participant_id"])]["snapshot"]
                )
                for c, p in pairs
                if c.snapshot != truth["snapshots"][str(p["participant_id"])]["snapshot"]
            }

        while behind() and time.monotonic() < end:
            await asyncio.sleep(0.1)
        late = behind()
        for c in clients:
            await c.stop()
        return truth, late, drops

    truth, late, drops = asyncio.run(scenario())
    stats = sum((c.stats for c in clients), Counter())
    acked = {ref for c in clients for ref in c.acks}
    texts = Counter(i["text"] for i in truth["ideas"])
    figures = {
        "forced_disconnects": drops,
        "reconnects": stats["connects"] - len(clients),
        "posts_acknowledged": len(acked),
        "lost": sum(1 for ref in acked if texts[f"idea {ref}"] == 0),
        "duplicated": sum(1 for n in texts.values() if n > 1),
        "gaps_seen_by_clients": stats["gaps"],
        "duplicates_seen_by_clients": stats["duplicates"],
        "bad_resumes": stats["bad_resume"],
        "resyncs": stats["resyncs"],
        "clients_behind": sorted(late),
    }
    record_property("figures", figures)
    print("connection drop figures:", figures)
    assert drops == DROPS
    assert figures["reconnects"] >= DROPS * 0.9, figures  # a cut socket comes back
    assert len(acked) == POSTS * len(clients)
    assert figures["lost"] == figures["duplicated"] == 0, figures
    assert figures["gaps_seen_by_clients"] == 0, figures
    assert figures["duplicates_seen_by_clients"] == 0, figures
    assert figures["bad_resumes"] == 0, figures
    assert late == {}, late


@pytest.mark.django_db(transaction=True)
async def test_a_cursor_the_log_cannot_serve_always_gets_resync(connect, live_meeting, settings):
    """Cursors older than the retention, ahead of the log, malformed, negative, or below
    a pruned log: each gets ``welcome`` then ``resync`` with a full snapshot, never a
    silent gap."""
    settings.PAUSE_EVENT_RETENTION = 3
    meeting, people = await sync_to_async(live_meeting)()
    a = await connect(people["a"], meeting)
    ack = await a.do("challenge.post", title="Fixer mes prix")
    for n in range(6):
        await a.do("challenge.edit", challenge_id=ack["result"]["id"], title=f"Prix {n}")
    last = (await a.event("challenge.edited"))["seq"] + 5
    cases = {"1": "cursor_too_old", str(last + 50): "cursor_unknown", "x": "cursor_unknown"}
    cases["-4"] = "cursor_unknown"
    seen = {}
    for after, reason in cases.items():
        sock = await connect(people["b"], meeting, after=after)
        frame = await sock.until(lambda f: f["type"] in ("resync", "event"))
        seen[after] = (frame["type"], frame.get("reason"), sock.welcome["resumed"])
        assert frame["type"] == "resync" and frame["reason"] == reason, (after, frame)
        assert frame["snapshot"]["meeting"]["id"] == meeting.pk
        await sock.close()
    # A log pruned below the cursor (within the retention count): resync too.
    settings.PAUSE_EVENT_RETENTION = 10_000
    await sync_to_async(
        lambda: MeetingEvent.objects.filter(meeting=meeting, seq__lte=last - 2).delete()
    )()
    sock = await connect(people["b"], meeting, after=last - 4)
    frame = await sock.until(lambda f: f["type"] in ("resync", "event"))
    assert frame["type"] == "resync", frame
    assert frame["reason"] == "cursor_too_old"
