"""The database work of a socket's first join and of grouped idea posts, in process:
the web process's CPU and PostgreSQL's own CPU for each, with no socket and no event
loop in the way (what ``bench.run`` cannot separate: there the two share two cores with
the load generator).

    python -m bench.inproc [--runs 3]

Seeds two template databases once (bench/seed.py), then for each run copies them
(``CREATE DATABASE … TEMPLATE``: every run starts from the same rows) and measures in a
child process pointed at the copy:

- ``connect``: ``selectors.connection_open`` for 510 members' first joins (sessions of
  60 rooms × 10 members; 30 more first, to warm up), then for the same members again
  (returning sockets), each with ``PAUSE_PG_PREPARED`` on and off, interleaved;
- ``connect_batch``: ``selectors.connection_open_many`` for the same members, the nine
  of each meeting in one batch (``rooms.opener``'s batches when a meeting's members
  connect together), first joins then returning (per connect; 27 first, to warm up);
- ``posts``: ``run_calls`` with batches of 12 ``idea.post`` across 12 meetings (20 rooms ×
  5 members, all joined), as the writer groups them under load.

PostgreSQL's CPU is its backend's (``/proc/<pid>/stat``): PostgreSQL on this machine
only. Prints one JSON line per measure and a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TEMPLATES = {"connect": "pause_inproc_connect_seed", "posts": "pause_inproc_posts_seed"}
COPY = "pause_inproc_run"
WORK = Path(__file__).resolve().parent.parent / "var" / "bench"


def _url(name: str) -> str:
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def _env(name: str, **extra: str) -> dict:
    env = {**os.environ, "DATABASE_URL": _url(name), "DJANGO_DEBUG": "true", **extra}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("REDIS_URL", None)
    return env


def _sql(*statements: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _templates() -> dict[str, Path]:
    """Create and seed the two template databases; the seeds' JSON files."""
    seeds = {}
    args = {
        "connect": ["--rooms", "60", "--members", "10"],
        "posts": ["--rooms", "20", "--members", "5", "--join-all", "--no-sessions"],
    }
    for what, name in TEMPLATES.items():
        _sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        env = _env(name)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, check=True)
        seeds[what] = WORK / f"inproc-{what}-{os.getpid()}.json"
        seed = [*args[what], "--prefix", f"inproc-{what}", "--out", str(seeds[what])]
        subprocess.run([sys.executable, "-m", "bench.seed", *seed], env=env, check=True)
    return seeds


def _run(what: str, seed: Path, **env: str) -> dict:
    """One measure in a child process, on a fresh copy of ``what``'s template."""
    template = TEMPLATES["connect" if what == "connect_batch" else what]
    _sql(
        f'DROP DATABASE IF EXISTS "{COPY}" WITH (FORCE)',
        f'CREATE DATABASE "{COPY}" TEMPLATE "{template}"',
    )
    out = subprocess.run(
        [sys.executable, "-m", "bench.inproc", "child", what, str(seed)],
        env=_env(COPY, **env),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the child


def _child(what: str, seed_file: str) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pause.settings")
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    tick = os.sysconf("SC_CLK_TCK")

    def pg_cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    def timed(fn, items) -> dict:
        cpu, pg, wall = time.process_time(), pg_cpu(), time.perf_counter()
        for item in items:
            fn(item)
        n = len(items)
        return {
            "n": n,
            "web_cpu_ms": (time.process_time() - cpu) / n * 1000,
            "pg_cpu_ms": (pg_cpu() - pg) / n * 1000,
            "wall_ms": (time.perf_counter() - wall) / n * 1000,
        }

    seed = json.loads(Path(seed_file).read_text())
    if what in ("connect", "connect_batch"):
        from rooms import selectors
        from rooms.hub import encode

        jobs = [
            {
                "meeting_id": room["meetings"][0]["meeting_id"],
                "session_key": member["cookie"].split("=", 1)[1],
            }
            for room in seed["rooms"]
            for member in room["members"][1:]  # the host joined when the meeting started
        ]

        def connect(job) -> None:
            _p, _v, frames, _seq = selectors.connection_open(**job, into=[])
            for frame in frames:
                encode(frame)

        if what == "connect":
            warm, rest = jobs[:30], jobs[30:]
            timed(connect, warm)
            return {"first_join": timed(connect, rest), "returning": timed(connect, rest)}

        def batch(jobs) -> None:
            for answer in selectors.connection_open_many(jobs, into=[]):
                for frame in answer[2]:
                    encode(frame)

        # The nine members of a meeting connecting together (``rooms.opener``'s batches
        # under load), one meeting after the other.
        groups = [jobs[k : k + 9] for k in range(0, len(jobs), 9)]
        warm, rest = groups[:3], groups[3:]
        timed(batch, warm)
        n = sum(len(g) for g in rest)
        per = {}
        for name in ("first_join_batch_9", "returning_batch_9"):
            figures = timed(batch, rest)
            per[name] = {"n": n, **{k: v * len(rest) / n for k, v in figures.items() if k != "n"}}
        return per
    import uuid

    from rooms.models import Participant
    from rooms.services import meetings as svc

    meetings = [m for room in seed["rooms"] for m in room["meetings"]]
    people = {
        m["meeting_id"]: list(Participant.objects.filter(meeting_id=m["meeting_id"]))
        for m in meetings
    }
    k = iter(range(10**9))

    def batch(_size) -> None:
        calls = []
        for _ in range(12):
            n = next(k)
            m = meetings[n % len(meetings)]
            calls.append(
                svc.idea_post.call(
                    actor=people[m["meeting_id"]][n % 5],
                    ref=uuid.uuid4().hex,
                    challenge_id=m["challenge_id"],
                    text="Une idée de plus, assez ordinaire",
                    lang="fr",
                )
            )
        svc.run_calls(calls, [])

    timed(batch, range(20))
    per_batch = timed(batch, range(100))
    per_post = {k: v / 12 for k, v in per_batch.items() if k != "n"}
    return {"posts_batch_12": {"n": per_batch["n"] * 12, **per_post}}


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        print(json.dumps(_child(argv[1], argv[2])))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.inproc", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    seeds = _templates()
    rows = []
    try:
        for run in range(opts.runs):
            for prepared in ("true", "false"):
                found = _run("connect", seeds["connect"], PAUSE_PG_PREPARED=prepared)
                for name, figures in found.items():
                    rows.append({"run": run, "measure": name, "prepared": prepared, **figures})
                    print(json.dumps(rows[-1]), flush=True)
            found = _run("connect_batch", seeds["connect"])
            for name, figures in found.items():
                rows.append({"run": run, "measure": name, "prepared": "true", **figures})
                print(json.dumps(rows[-1]), flush=True)
            found = _run("posts", seeds["posts"])
            for name, figures in found.items():
                rows.append({"run": run, "measure": name, "prepared": "-", **figures})
                print(json.dumps(rows[-1]), flush=True)
    finally:
        names = [COPY, *TEMPLATES.values()]
        _sql(*(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names))
    print("\n| measure | PAUSE_PG_PREPARED | web process CPU ms | PostgreSQL CPU ms | wall ms |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['measure']} | {r['prepared']} | {r['web_cpu_ms']:.2f} | {r['pg_cpu_ms']:.2f}"
            f" | {r['wall_ms']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
