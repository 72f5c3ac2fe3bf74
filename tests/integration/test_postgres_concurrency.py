"""Races on a real PostgreSQL: two daphne processes write to one database at once.

The servers run on a database of their own (created and dropped here), whatever
database the rest of the suite uses, so these tests run in every ``make test``. In one
daphne process database work runs on one thread; two processes make the races real.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from tests.integration.conftest import ServerPool, answers, open_socket, postgres_db

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    """A fresh PostgreSQL database and two daphne processes on it."""
    with postgres_db() as db:
        pool = ServerPool(tmp_path_factory.mktemp("pg-servers"))
        try:
            yield db, pool.start(db.env, 2)
        finally:
            pool.stop_all()


async def _open_all(pairs):
    """Open ``(url, cookie)`` sockets, five at a time."""
    out = []
    for n in range(0, len(pairs), 5):
        out += await asyncio.gather(*(open_socket(u, c) for u, c in pairs[n : n + 5]))
    return out


async def _close_all(sockets):
    await asyncio.gather(*(ws.close() for ws, _ in sockets), return_exceptions=True)


async def test_concurrent_votes_never_exceed_the_budget(pg):
    """Twenty sockets (two members with ten tabs each) vote at once for ten different ideas
    on a budget of 3: each member ends with exactly 3 votes, the others are refused with
    ``conflict``."""
    db, (one, two) = pg
    seeded = db.seed(members=2, ideas=10, phase="vote", vote_budget=3)
    mid, ideas = seeded["meeting_id"], seeded["idea_ids"]
    pairs = [
        ((one, two)[n % 2].ws_url(mid), member["cookie"])
        for member in seeded["members"]
        for n in range(10)
    ]
    sockets = await _open_all(pairs)
    try:
        refs = []
        for n, (ws, _) in enumerate(sockets):
            ref = f"vote-{n}"
            refs.append(ref)
            await ws.send(json.dumps({"type": "vote.cast", "ref": ref, "idea_id": ideas[n % 10]}))
        got = await asyncio.gather(*(answers(ws, [r]) for (ws, _), r in zip(sockets, refs)))
    finally:
        await _close_all(sockets)
    per_member = Counter()
    for (_, welcome), result in zip(sockets, got):
        (frame,) = result.values()
        pid = welcome["you"]["participant_id"]
        if frame["type"] == "ack":
            per_member[pid] += 1
        else:
            assert frame["code"] == "conflict", frame
    assert sorted(per_member.values()) == [3, 3], per_member
    rows = db.rows(
        "SELECT v.participant_id, COUNT(*) FROM rooms_vote v JOIN rooms_idea i"
        " ON i.id = v.idea_id WHERE i.meeting_id = %s GROUP BY v.participant_id",
        (mid,),
    )
    assert dict(rows) == dict(per_member)


async def test_seq_has_no_gap_and_no_duplicate_under_200_concurrent_posts(pg):
    """Twenty members on two processes post ten ideas each at once: 200 acks with 200
    distinct seqs, and the meeting's log is exactly 1..last_seq."""
    db, (one, two) = pg
    seeded = db.seed(members=20)
    mid, challenge = seeded["meeting_id"], seeded["challenge_id"]
    pairs = [((one, two)[n % 2].ws_url(mid), m["cookie"]) for n, m in enumerate(seeded["members"])]
    sockets = await _open_all(pairs)
    try:
        refs: list[list[str]] = []
        for n, (ws, _) in enumerate(sockets):
            mine = [f"post-{n}-{k}" for k in range(10)]
            refs.append(mine)
            for ref in mine:
                frame = {"type": "idea.post", "ref": ref, "challenge_id": challenge, "text": ref}
                await ws.send(json.dumps(frame))
        got = await asyncio.gather(*(answers(ws, r) for (ws, _), r in zip(sockets, refs)))
    finally:
        await _close_all(sockets)
    frames = [f for result in got for f in result.values()]
    assert [f["type"] for f in frames] == ["ack"] * 200, [f for f in frames if f["type"] != "ack"]
    assert len({f["seq"] for f in frames}) == 200
    seqs = [
        s for (s,) in db.rows("SELECT seq FROM rooms_meetingevent WHERE meeting_id = %s", (mid,))
    ]
    (last_seq,) = db.rows("SELECT last_seq FROM rooms_meeting WHERE id = %s", (mid,))[0]
    assert sorted(seqs) == list(range(1, last_seq + 1))
    assert {f["seq"] for f in frames} <= set(seqs)
    (posted,) = db.rows(
        "SELECT COUNT(*) FROM rooms_idea WHERE meeting_id = %s AND text LIKE 'post-%%'", (mid,)
    )[0]
    assert posted == 200


async def test_the_same_ref_from_two_sockets_of_one_member_writes_one_row(pg):
    """One member with a tab on each process sends each command twice at once with the
    same ref: both tabs get the same ack, and each ref wrote one idea and one receipt."""
    db, (one, two) = pg
    seeded = db.seed(members=1)
    mid, challenge = seeded["meeting_id"], seeded["challenge_id"]
    cookie = seeded["members"][0]["cookie"]
    sockets = await _open_all([(one.ws_url(mid), cookie), (two.ws_url(mid), cookie)])
    refs = [f"twice-{k}" for k in range(15)]
    try:
        for ref in refs:
            frame = json.dumps(
                {"type": "idea.post", "ref": ref, "challenge_id": challenge, "text": ref}
            )
            await asyncio.gather(*(ws.send(frame) for ws, _ in sockets))
        first, second = await asyncio.gather(*(answers(ws, refs) for ws, _ in sockets))
    finally:
        await _close_all(sockets)
    for ref in refs:
        assert first[ref]["type"] == "ack", first[ref]
        assert first[ref] == second[ref]
    rows = db.rows(
        "SELECT text, COUNT(*) FROM rooms_idea WHERE meeting_id = %s AND text LIKE 'twice-%%'"
        " GROUP BY text",
        (mid,),
    )
    assert dict(rows) == dict.fromkeys(refs, 1)
    (receipts,) = db.rows(
        "SELECT COUNT(*) FROM rooms_commandreceipt WHERE ref LIKE 'twice-%%'"
        " AND participant_id = %s",
        (sockets[0][1]["you"]["participant_id"],),
    )[0]
    assert receipts == len(refs)


async def test_concurrent_cluster_moves_and_deletions_keep_ideas_in_one_cluster(pg):
    """Four facilitator tabs on two processes move the same ten ideas between four themes
    at once while one theme is deleted: every idea ends in at most one existing theme, and
    replaying the log's moves and deletions gives exactly the database's assignment."""
    db, (one, two) = pg
    seeded = db.seed(members=1, ideas=10)
    mid, challenge, ideas = seeded["meeting_id"], seeded["challenge_id"], seeded["idea_ids"]
    cookie = seeded["facilitator"]["cookie"]
    sockets = await _open_all([((one, two)[n % 2].ws_url(mid), cookie) for n in range(4)])
    try:
        first = sockets[0][0]
        created = []
        for n in range(4):
            ref = f"theme-{n}"
            await first.send(
                json.dumps(
                    {"type": "cluster.create", "ref": ref, "challenge_id": challenge, "name": ref}
                )
            )
            created.append(ref)
        acks = await answers(first, created)
        clusters = [acks[r]["result"]["id"] for r in created]
        refs: list[list[str]] = []
        for n, (ws, _) in enumerate(sockets):
            mine = []
            for k, idea in enumerate(ideas):
                ref = f"move-{n}-{k}"
                mine.append(ref)
                target = clusters[(n + k) % 4]
                await ws.send(
                    json.dumps(
                        {"type": "idea.move", "ref": ref, "idea_id": idea, "cluster_id": target}
                    )
                )
            if n == 1:
                mine.append("drop")
                await ws.send(
                    json.dumps({"type": "cluster.delete", "ref": "drop", "cluster_id": clusters[0]})
                )
            refs.append(mine)
        got = await asyncio.gather(*(answers(ws, r) for (ws, _), r in zip(sockets, refs)))
    finally:
        await _close_all(sockets)
    for result in got:
        for frame in result.values():
            assert frame["type"] == "ack" or frame["code"] == "not_found", frame
    live = dict(db.rows("SELECT id, cluster_id FROM rooms_idea WHERE meeting_id = %s", (mid,)))
    existing = {c for (c,) in db.rows("SELECT id FROM rooms_cluster")}
    assert all(c is None or c in existing for c in live.values())
    assert clusters[0] not in existing
    replay: dict[int, int | None] = {}
    events = db.rows(
        "SELECT name, data FROM rooms_meetingevent WHERE meeting_id = %s ORDER BY seq", (mid,)
    )
    for name, data in events:
        data = data if isinstance(data, dict) else json.loads(data)
        if name == "idea.moved":
            replay[data["idea_id"]] = data["cluster_id"]
        elif name == "cluster.deleted":
            replay = {i: (None if c == data["cluster_id"] else c) for i, c in replay.items()}
    assert {i: replay.get(i) for i in ideas} == {i: live[i] for i in ideas}
