"""Where a server's memory per idle socket goes: tracemalloc and live objects, diffed
around the connects of scenario B.

    python -m bench.memtrace --server uvicorn [--rooms 100] [--members 10] [--top 30]

It seeds a scratch PostgreSQL database as ``bench.run`` does, starts the server on this
module's ``application`` (``pause.asgi``'s, with ``tracemalloc`` started first and a
``SIGUSR1`` handler that writes a snapshot), takes a snapshot, connects every member
(``bench.load``), waits for the heartbeat and presence traffic to settle, takes another
and prints, per socket: the RSS growth, the traced allocations that grew most (by line
and by traceback) and the object types whose count grew. Tracing slows the server and
adds its own memory to RSS: read the RSS figure from ``bench.run``, the split from here.
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import pickle
import signal
import sys
import time
from pathlib import Path


def _dump(signum, frame) -> None:
    """Write a snapshot and the live objects' counts by type to ``$PAUSE_MEMTRACE.<n>``."""
    import tracemalloc

    gc.collect()
    counts: collections.Counter = collections.Counter()
    sizes: collections.Counter = collections.Counter()
    for o in gc.get_objects():
        t = type(o)
        name = f"{t.__module__}.{t.__qualname__}"
        counts[name] += 1
        sizes[name] += sys.getsizeof(o)
        if t.__name__ == "coroutine":  # which coroutines: the tasks and what they await
            counts[f"coroutine {o.__qualname__}"] += 1
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    base = os.environ["PAUSE_MEMTRACE"]
    n = 0
    while Path(f"{base}.{n}").exists():
        n += 1
    tmp = Path(f"{base}.{n}.tmp")
    with tmp.open("wb") as f:
        pickle.dump({"snapshot": snapshot, "counts": counts, "sizes": sizes}, f)
    tmp.rename(f"{base}.{n}")


if os.environ.get("PAUSE_MEMTRACE"):  # the server side
    import tracemalloc

    from pause.asgi import application  # noqa: F401

    # Started after the imports: tracing them takes a minute, and only what the sockets
    # allocate matters.
    tracemalloc.start(int(os.environ.get("PAUSE_MEMTRACE_FRAMES", "12")))
    signal.signal(signal.SIGUSR1, _dump)


def _snapshot(server, base: str, n: int) -> dict:
    server.proc.send_signal(signal.SIGUSR1)
    path = Path(f"{base}.{n}")
    deadline = time.monotonic() + 120
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no snapshot {path}")
        time.sleep(0.2)
    with path.open("rb") as f:
        return pickle.load(f)


def _short(name: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in name:
            return name.split(marker, 1)[1]
    return os.path.relpath(name)


OWNERS = {
    "rooms": "Pause (rooms, pause)",
    "pause": "Pause (rooms, pause)",
    "channels": "Channels, asgiref",
    "asgiref": "Channels, asgiref",
    "django": "Django, psycopg",
    "psycopg": "Django, psycopg",
}


def _owner(frames) -> str:
    """Who asked for an allocation: the package of its innermost frame outside the
    standard library (``frames`` innermost first)."""
    for f in frames:
        name = f.filename
        if "site-packages/" in name:
            package = name.split("site-packages/", 1)[1].split("/", 1)[0]
            return OWNERS.get(package, f"server: {package}")
        if "/lib/python3" not in name:
            top = os.path.relpath(name).split("/", 1)[0]
            return OWNERS.get(top, top)
    return "standard library (uvloop, asyncio callbacks)"


def _where(frame) -> str:
    return f"{_short(frame.filename)}:{frame.lineno}"


def main(argv: list[str] | None = None) -> int:
    from bench import run
    from bench.servers import COMMANDS, SECRET_KEY, WORK_DIR, Database, Server, pause_env

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="uvicorn", choices=[k for k in COMMANDS if k != "bare"])
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--frames", type=int, default=12, help="traceback depth")
    opts = parser.parse_args(argv)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    run.WORK.mkdir(parents=True, exist_ok=True)
    kind = f"{opts.server}-memtrace"
    COMMANDS[kind] = [
        "bench.memtrace:application" if a == "pause.asgi:application" else a
        for a in COMMANDS[opts.server]
    ]
    base = str(WORK_DIR / f"memtrace-{os.getpid()}")
    db = server = workers = None
    try:
        run.log("creating the PostgreSQL database and seeding")
        db = Database.create("postgres", WORK_DIR)
        seeded = run.Copies(
            run.seed(db, rooms=opts.rooms, members=opts.members, copies=1, prefix="m")
        )
        meetings = seeded.take()
        env = {
            **pause_env(db, None),
            "PAUSE_MEMTRACE": base,
            "PAUSE_MEMTRACE_FRAMES": str(opts.frames),
            "DJANGO_SECRET_KEY": SECRET_KEY,
        }
        server = Server(kind, env)
        for m in meetings:
            m["urls"] = [server.ws]
        time.sleep(0.5)
        before = _snapshot(server, base, 0)
        rss0 = server.rss()
        workers = run.Workers("pause", server.http, meetings, 1)
        reply = workers.all({"cmd": "connect", "concurrency": 50})
        n = sum(r["connected"] for r in reply) or 1
        time.sleep(1.0)
        rss1 = server.rss()
        after = _snapshot(server, base, 1)
    finally:
        if workers is not None:
            workers.close()
        if server is not None:
            server.close()
        if db is not None:
            db.drop()
        for p in Path(WORK_DIR).glob(f"memtrace-{os.getpid()}.*"):
            p.unlink()
    print(f"{opts.server}: {n} sockets, RSS {(rss1 - rss0) / n / 1024:.1f} KB/socket (traced)")
    s0, s1 = before["snapshot"], after["snapshot"]
    total = sum(s.size_diff for s in s1.compare_to(s0, "filename"))
    print(f"traced growth: {total / n / 1024:.1f} KB/socket\n")
    print(f"top lines (bytes/socket, blocks/socket):\n{'B':>7} {'blocks':>6}  where")
    for s in s1.compare_to(s0, "lineno")[: opts.top]:
        print(f"{s.size_diff / n:7.0f} {s.count_diff / n:6.2f}  {_where(s.traceback[0])}")
    print("\nby allocation and the code that asked for it (its innermost frames outside")
    print("asyncio and this tool; up to 3, innermost first):")
    grouped: dict = collections.defaultdict(lambda: [0, 0])
    for s in s1.compare_to(s0, "traceback"):
        frames = list(s.traceback)[::-1]  # innermost first
        callers = [f for f in frames[1:] if "/asyncio/" not in f.filename][:3]
        key = " < ".join(_where(f) for f in [frames[0], *callers])
        grouped[key][0] += s.size_diff
        grouped[key][1] += s.count_diff
    for key, (size, count) in sorted(grouped.items(), key=lambda kv: -kv[1][0])[: opts.top]:
        print(f"{size / n:7.0f} {count / n:6.2f}  {key}")
    print("\nby owner (the innermost frame outside the standard library, or the allocation):")
    owners: collections.Counter = collections.Counter()
    for s in s1.compare_to(s0, "traceback"):
        owners[_owner(list(s.traceback)[::-1])] += s.size_diff
    for owner, size in owners.most_common():
        print(f"{size / n:7.0f}  {owner}")
    print("\nlive objects by type (count/socket, shallow bytes/socket):")
    c0, c1 = before["counts"], after["counts"]
    z0, z1 = before["sizes"], after["sizes"]
    grown = sorted(c1, key=lambda t: z1[t] - z0.get(t, 0), reverse=True)
    for t in grown[: opts.top]:
        if t.startswith("coroutine "):
            continue
        print(f"{(c1[t] - c0.get(t, 0)) / n:7.2f} {(z1[t] - z0.get(t, 0)) / n:7.0f}  {t}")
    print("\ncoroutines by name (count/socket):")
    coros = [t for t in c1 if t.startswith("coroutine ")]
    for t in sorted(coros, key=lambda t: c0.get(t, 0) - c1[t])[: opts.top]:
        if c1[t] - c0.get(t, 0) > 0:
            print(f"{(c1[t] - c0.get(t, 0)) / n:7.2f}  {t[10:]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
