"""Micro-benchmarks: a big meeting's snapshot, a resume after many missed events, the
CPU one ``idea.post`` costs the database thread, and acknowledged writes per second per
web process.

``run_all`` and ``writes_all`` are called by ``bench.run``. The in-process half runs as
``python -m bench.micro inproc --meeting ID --participant ID`` in a process whose
environment points at the benchmark database, and prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

SNAPSHOT_TARGET_MS = 50
RESUME_TARGET_MS = 200
MISSED = 500


def _summary(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {
        "n": len(samples),
        "median_ms": statistics.median(samples) * 1000,
        "p95_ms": samples[min(len(samples) - 1, int(len(samples) * 0.95))] * 1000,
        "min_ms": samples[0] * 1000,
    }


# --------------------------------------------------------------------------- in process


def inproc(meeting_id: int, participant_id: int, runs: int) -> dict:
    """Time the selectors the socket calls, with the encoding the hub does.

    ``snapshot`` is a snapshot built from nothing (the process's board cache emptied
    first: the first socket after a write); ``snapshot_cached`` the next one at the same
    ``seq``, as every other socket of a reconnect storm gets it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pause.settings")
    import django

    django.setup()
    from django.db import connection

    from rooms import selectors, wire
    from rooms.hub import encode
    from rooms.models import Idea, Meeting, Participant

    participant = Participant.objects.get(pk=participant_id)
    viewer = wire.Viewer.for_participant(participant)
    last = Meeting.objects.get(pk=meeting_id).last_seq
    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    def snapshot() -> tuple[float, int, int]:
        del queries[:]
        with connection.execute_wrapper(count):
            t0 = time.perf_counter()
            frames, _seq = selectors.stream_open(
                meeting_id=meeting_id, participant=participant, viewer=viewer, after=None
            )
            size = len(encode(frames[0]))
            return time.perf_counter() - t0, size, len(queries)

    cold, warm, resume = [], [], []
    size = events = cold_queries = warm_queries = 0
    for _ in range(runs + 1):  # the first run warms caches and is dropped
        wire._BOARDS.clear()
        took, size, cold_queries = snapshot()
        cold.append(took)
        took, _size, warm_queries = snapshot()
        warm.append(took)
        t0 = time.perf_counter()
        frames, _seq = selectors.stream_open(
            meeting_id=meeting_id, participant=participant, viewer=viewer, after=last - MISSED
        )
        texts = [encode(f) for f in frames]
        resume.append(time.perf_counter() - t0)
        events = len(texts) - 1
    commands = _command_cpu(meeting_id, participant)  # last: it adds ideas
    return {
        "ideas": Idea.objects.filter(meeting_id=meeting_id).count(),
        "snapshot_bytes": size,
        "snapshot": _summary(cold[1:]),
        "snapshot_queries": cold_queries,
        "snapshot_cached": _summary(warm[1:]),
        "snapshot_cached_queries": warm_queries,
        "resume_events": events,
        "resume": _summary(resume[1:]),
        "commands": commands,
    }


def _command_cpu(meeting_id: int, participant, posts: int = 200) -> dict:
    """Process CPU per ``idea.post`` run by ``run_calls`` (what the writer's database
    thread does: the transaction, its statements, the events), one per transaction and
    five per transaction (group commit under load); with the statement count of one."""
    import uuid

    from django.db import connection

    from rooms.models import Challenge
    from rooms.services import meetings as svc

    challenge_id = Challenge.objects.filter(meeting_id=meeting_id).values_list("pk", flat=True)[0]
    out: dict = {}
    for batch in (1, 5):
        runs = posts // batch

        def calls() -> list:
            return [
                svc.idea_post.call(
                    actor=participant,
                    ref=uuid.uuid4().hex,
                    challenge_id=challenge_id,
                    text="Une idée de plus",
                )
                for _ in range(batch)
            ]

        svc.run_calls(calls(), [])  # warm
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(runs):
            svc.run_calls(calls(), [])
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        out[f"batch_{batch}"] = {
            "cpu_ms_per_post": cpu / (runs * batch) * 1000,
            "wall_ms_per_post": wall / (runs * batch) * 1000,
        }
    statements: list[str] = []
    with connection.execute_wrapper(lambda ex, sql, *a: statements.append(sql) or ex(sql, *a)):
        svc.run_calls(calls(), [])
    out["statements_batch_5"] = len(statements)
    return out


# --------------------------------------------------------------------------- over a socket


async def over_socket(ws_url: str, origin: str, cookie: str, last: int, runs: int) -> dict:
    """The same two reads end to end: handshake → welcome with the snapshot, and
    handshake with ``?after=`` → the last missed event."""
    from websockets.asyncio.client import connect

    async def one(after: int | None) -> float:
        return await asyncio.wait_for(timed(after), 30)

    async def timed(after: int | None) -> float:
        url = ws_url if after is None else f"{ws_url}?after={after}"
        t0 = time.perf_counter()
        async with connect(
            url,
            origin=origin,
            additional_headers={"Cookie": cookie},
            compression=None,
            max_size=64 * 2**20,
            proxy=None,
        ) as ws:
            async for text in ws:
                if after is None and text.startswith('{"type":"welcome"'):
                    break
                if after is not None and text.startswith(f'{{"type":"event","seq":{last},'):
                    break
        return time.perf_counter() - t0

    snap, resume = [], []
    for _ in range(runs + 1):
        snap.append(await one(None))
        resume.append(await one(last - MISSED))
    return {"snapshot": _summary(snap[1:]), "resume": _summary(resume[1:])}


def run_all(db, kinds: list[str], opts, seed, log) -> dict:
    from bench.servers import APP, Server, pause_env

    runs = 5 if opts.quick else 15
    seeded = seed(db, rooms=1, members=10, copies=1, prefix="m", ideas=MISSED, join_all=True)
    room = seeded["rooms"][0]
    meeting_id = room["meetings"][0]["meeting_id"]
    env = pause_env(db, None)  # production settings: DEBUG off (no query log)
    member = room["members"][3]
    participant = _participant_id(env, meeting_id, member["user_id"])
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.micro",
            "inproc",
            "--meeting",
            str(meeting_id),
            "--participant",
            str(participant),
            "--runs",
            str(runs),
        ],
        cwd=APP["dir"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = {"inproc": json.loads(out.stdout.strip().splitlines()[-1]), "load": _load()}
    log(f"micro in process: {result['inproc']}")
    last = _last_seq(env, meeting_id)
    result["socket"] = {}
    for kind in kinds:
        server = Server(kind, pause_env(db, None))
        try:
            result["socket"][kind] = asyncio.run(
                over_socket(
                    f"{server.ws}/ws/meetings/{meeting_id}/",
                    server.http,
                    member["cookie"],
                    last,
                    runs,
                )
            )
        except TimeoutError:
            result["socket"][kind] = {"error": "no welcome (or no last event) within 30 s"}
        finally:
            log(f"micro {kind} over a socket: {result['socket'].get(kind)}")
            server.close()
    return result


def _django_query(env: dict, code: str) -> str:
    from bench.servers import APP

    script = (
        "import django,os;os.environ.setdefault('DJANGO_SETTINGS_MODULE','pause.settings');"
        "django.setup();" + code
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=APP["dir"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()


def _participant_id(env: dict, meeting_id: int, user_id: int) -> int:
    return int(
        _django_query(
            env,
            "from rooms.models import Participant;"
            f"print(Participant.objects.get(meeting_id={meeting_id}, user_id={user_id}).pk)",
        )
    )


def _last_seq(env: dict, meeting_id: int) -> int:
    return int(
        _django_query(
            env,
            "from rooms.models import Meeting;"
            f"print(Meeting.objects.get(pk={meeting_id}).last_seq)",
        )
    )


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------------- writes


def writes_all(db, kinds: list[str], opts, seed, log, fanout) -> list[dict]:
    """Acknowledged ``idea.post`` per second on one web process, PostgreSQL and SQLite:
    20 meetings × 5 members, posts spread over all sockets, the step passes while the
    ack p99 stays under 100 ms."""
    from bench.servers import WORK_DIR, Database, Server, pause_env

    members = 5
    factor = 1.6 if opts.quick else 1.3
    steps, x = [], 20.0
    while x < 5000:
        steps.append(round(x) * members)
        x *= factor
    out = []
    for db_kind in ("postgres", "sqlite"):
        this = db if db_kind == "postgres" else Database.create("sqlite", WORK_DIR)
        try:
            seeded = seed(this, rooms=20, members=members, copies=len(kinds), prefix="w")
            for k, kind in enumerate(kinds):
                meetings = [
                    {
                        "meeting_id": r["meetings"][k]["meeting_id"],
                        "challenge_id": r["meetings"][k]["challenge_id"],
                        "members": [{"cookie": m["cookie"]} for m in r["members"]],
                    }
                    for r in seeded["rooms"]
                ]
                server = Server(kind, pause_env(this, None))
                try:
                    result = fanout(
                        scenario=f"writes-{db_kind}",
                        servers=[server],
                        meetings=meetings,
                        steps=steps,
                        opts=opts,
                        kind="pause",
                        criterion="ack",
                    )
                finally:
                    server.close()
                result["database"] = db_kind
                out.append(result)
        finally:
            if this is not db:
                this.drop()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.micro")
    parser.add_argument("what", choices=["inproc"])
    parser.add_argument("--meeting", type=int, required=True)
    parser.add_argument("--participant", type=int, required=True)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    print(json.dumps(inproc(args.meeting, args.participant, args.runs)))


if __name__ == "__main__":
    main()
