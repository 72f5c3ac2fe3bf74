"""One load-generator process: asyncio ``websockets`` clients driven through stdin.

    python -m bench.load <spec.json>

``bench.run`` starts one or more of these, each with its share of the clients, and talks
to them with one JSON line per command on stdin; each answer is one JSON line on stdout.

- ``{"cmd": "connect"}`` opens every socket (at most ``concurrency`` handshakes at once)
  and waits for each ``welcome``.
- ``{"cmd": "step", "step": 3, "rate": 400, "dur": 3}`` posts ``rate`` ideas per second
  for ``dur`` seconds through the real protocol (``idea.post``), spread round-robin over
  the sockets, then waits ``drain`` seconds. Each idea's text carries the step, the send
  time (``time.monotonic_ns``, one clock for every process of the machine) and the
  sender, so every receiver measures send → receive latency without parsing JSON.
- ``{"cmd": "settle"}`` waits until no frame has arrived for half a second (at most 15 s):
  ``bench.run`` sends it before each step, so a step never inherits the backlog of the
  one before (an overloaded step's deliveries still arriving).
- ``{"cmd": "storm", ...}`` (scenario D) drops every socket at once, keeps posting from
  separate poster sockets, resumes each socket with ``?after=<last seq>`` and checks that
  every socket reaches the meeting's last seq with no gap.
- ``{"cmd": "close"}`` closes everything and exits.

Bounded: every wait has a timeout, every socket is on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import sys
import time

import psutil
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

MARK = "BENCH|"
FILLER = " — an idea long enough to look like one, with a few words of context"
EVENT_PREFIX = '{"type":"event","seq":'
BUCKETS_PER_E = 40  # histogram resolution: about 2.5 % per bucket


def bucket(us: float) -> int:
    return int(math.log(max(us, 1.0)) * BUCKETS_PER_E)


def percentile(hist: dict, q: float) -> float | None:
    """The ``q`` quantile (0–1) of a histogram ``{bucket: count}``, in milliseconds."""
    total = sum(hist.values())
    if not total:
        return None
    rank = q * total
    seen = 0
    for b in sorted(hist, key=int):
        seen += hist[b]
        if seen >= rank:
            return math.exp((int(b) + 0.5) / BUCKETS_PER_E) / 1000.0
    return None


class Conn:
    __slots__ = (
        "connect_s",
        "cookie",
        "dups",
        "gaps",
        "idx",
        "meeting",
        "pid",
        "poster",
        "seq",
        "task",
        "url",
        "welcomed",
        "ws",
    )

    def __init__(self, idx, meeting, url, cookie, poster=False):
        self.idx, self.meeting, self.url, self.cookie = idx, meeting, url, cookie
        self.ws = None
        self.pid = None
        self.seq = None
        self.gaps = 0
        self.dups = 0
        self.task = None
        self.welcomed = None
        self.connect_s = None
        self.poster = poster


class Load:
    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.kind = spec["kind"]
        self.origin = spec["origin"]
        self.conns: list[Conn] = []
        self.posters: dict[int, Conn] = {}  # meeting index → poster socket (scenario D)
        self.challenge: dict[int, int] = {}
        self.meeting_ids: dict[int, int] = {}
        for mi, meeting in enumerate(spec["meetings"]):
            self.challenge[mi] = meeting["challenge_id"]
            self.meeting_ids[mi] = meeting["meeting_id"]
            urls = meeting["urls"]
            for n, member in enumerate(meeting["members"]):
                url = urls[n % len(urls)] + f"/ws/meetings/{meeting['meeting_id']}/"
                self.conns.append(Conn(len(self.conns), mi, url, member.get("cookie")))
            if spec.get("posters"):
                member = meeting["members"][0]
                url = urls[0] + f"/ws/meetings/{meeting['meeting_id']}/"
                self.posters[mi] = Conn(-1 - mi, mi, url, member.get("cookie"), poster=True)
        self.step = -1
        self.recv = 0
        self.recv_by_step: dict[int, int] = {}
        self.hist: dict[int, int] = {}
        self.late = 0
        self.t0, self.worst = 0, {}
        self.acks: dict[str, int] = {}
        self.ack_hist: dict[int, int] = {}
        self.ack_seq: dict[int, int] = {}  # meeting index → highest acked seq
        self.errors: dict[str, int] = {}
        self.n = 0
        self.frames_seen = 0  # every frame received, of any step
        self.me = psutil.Process()

    # ----------------------------------------------------------------- sockets

    async def open(self, c: Conn, after: int | None = None) -> None:
        url = c.url if after is None else f"{c.url}?after={after}"
        headers = {"Cookie": c.cookie} if c.cookie else {}
        started = time.perf_counter()
        c.welcomed = asyncio.get_running_loop().create_future()
        c.ws = await ws_connect(
            url,
            # The site's own origin, scheme://host:port of the server this socket uses.
            origin="http" + url[2 : url.index("/", 5)],
            additional_headers=headers,
            # Offered as browsers offer it: a server that accepts it keeps a compressor per
            # socket (uvicorn's default: ~100 KB each). Pause's servers and the bare one
            # decline it.
            compression="deflate",
            max_size=64 * 1024 * 1024,
            open_timeout=20,
            ping_interval=None,
            proxy=None,
        )
        c.task = asyncio.get_running_loop().create_task(self.reader(c, c.ws))
        await asyncio.wait_for(asyncio.shield(c.welcomed), 30)
        c.connect_s = time.perf_counter() - started

    async def reader(self, c: Conn, ws) -> None:
        try:
            async for msg in ws:
                self.handle(c, msg)
        except ConnectionClosed:
            pass

    def handle(self, c: Conn, msg: str) -> None:
        now = time.monotonic_ns()
        self.frames_seen += 1
        if msg.startswith(EVENT_PREFIX):
            comma = msg.find(",", 22)
            seq = int(msg[22:comma])
            if c.seq is not None:
                if seq == c.seq + 1:
                    c.seq = seq
                elif seq <= c.seq:
                    c.dups += 1
                else:
                    c.gaps += 1
                    c.seq = seq
            i = msg.find(MARK, comma)
            if i < 0:
                return
            j = msg.index("|", i + 6)
            k = msg.index("|", j + 1)
            m = msg.index("|", k + 1)
            step = int(msg[i + 6 : j])
            self.recv_by_step[step] = self.recv_by_step.get(step, 0) + 1
            if step != self.step:
                self.late += 1
                return
            self.recv += 1
            if int(msg[k + 1 : m]) != c.pid:
                us = (now - int(msg[j + 1 : k])) / 1000
                b = bucket(us)
                self.hist[b] = self.hist.get(b, 0) + 1
                # The worst latency of each tenth of a second: spikes, or a steady queue?
                w = (now - self.t0) // 100_000_000
                if us > self.worst.get(w, 0):
                    self.worst[w] = us
            return
        if msg.startswith('{"type":"ack"'):
            frame = json.loads(msg)
            sent = self.acks.pop(frame.get("ref"), None)
            if sent is not None:
                b = bucket((now - sent) / 1000)
                self.ack_hist[b] = self.ack_hist.get(b, 0) + 1
            seq = frame.get("seq")
            if seq is not None and seq > self.ack_seq.get(c.meeting, 0):
                self.ack_seq[c.meeting] = seq
            return
        if msg.startswith('{"type":"welcome"') or msg.startswith('{"type":"resync"'):
            frame = json.loads(msg)
            if frame["type"] == "welcome":
                c.pid = frame["you"]["participant_id"]
            c.seq = frame["seq"]
            if c.welcomed is not None and not c.welcomed.done():
                c.welcomed.set_result(True)
            return
        if msg.startswith('{"type":"error"'):
            frame = json.loads(msg)
            code = frame.get("code", "?")
            self.errors[code] = self.errors.get(code, 0) + 1

    async def connect_all(self, conns: list[Conn], concurrency: int) -> dict:
        gate = asyncio.Semaphore(concurrency)
        failed: list[str] = []

        async def one(c: Conn) -> None:
            async with gate:
                try:
                    await self.open(c)
                except Exception as e:  # reported, not raised: the figure says how many
                    failed.append(f"{e.__class__.__name__}: {e}"[:200])

        started = time.perf_counter()
        await asyncio.gather(*(one(c) for c in conns))
        elapsed = time.perf_counter() - started
        times = sorted(c.connect_s for c in conns if c.connect_s is not None)
        return {
            "connected": len(times),
            "failed": len(failed),
            "failures": failed[:5],
            "seconds": elapsed,
            "p50_ms": times[len(times) // 2] * 1000 if times else None,
            "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] * 1000 if times else None,
        }

    # ----------------------------------------------------------------- posting

    def frame(self, c: Conn, step: int) -> str:
        self.n += 1
        ref = f"b{self.n}"
        self.acks[ref] = time.monotonic_ns()
        text = f"{MARK}{step}|{time.monotonic_ns()}|{c.pid}|{FILLER}"
        anon = "true" if self.n % 4 == 0 else "false"
        return (
            f'{{"type":"idea.post","ref":"{ref}","challenge_id":{self.challenge[c.meeting]},'
            f'"text":"{text}","anonymous":{anon}}}'
        )

    async def post(self, senders: list[Conn], rate: float, dur: float, step: int) -> dict:
        """Send ``rate`` posts per second for ``dur`` seconds; returns posts per meeting."""
        loop = asyncio.get_running_loop()
        sent: dict[int, int] = {}
        live = [c for c in senders if c.ws is not None]
        if not live or rate <= 0:
            return sent
        start = loop.time()
        done = 0
        turn = random.randrange(len(live))
        while True:
            elapsed = loop.time() - start
            if elapsed >= dur:
                break
            due = int(rate * elapsed) + 1 - done
            if due > 0:
                for _ in range(due):
                    c = live[turn % len(live)]
                    turn += 1
                    try:
                        await c.ws.send(self.frame(c, step))
                        mid = self.meeting_ids[c.meeting]
                        sent[mid] = sent.get(mid, 0) + 1
                    except Exception:
                        self.errors["send"] = self.errors.get("send", 0) + 1
                    done += 1
            await asyncio.sleep(0.002)
        return sent

    async def settle(self, msg: dict) -> dict:
        """Wait until no frame has arrived for ``quiet`` seconds (at most ``cap``): a step
        that overloaded the server leaves a backlog of deliveries, which the next step
        must not inherit (it would measure the previous rate's queue, not its own)."""
        loop = asyncio.get_running_loop()
        quiet, cap = msg.get("quiet", 0.5), msg.get("cap", 15.0)
        start = last_change = loop.time()
        seen = self.frames_seen
        while loop.time() - start < cap:
            await asyncio.sleep(0.05)
            if self.frames_seen != seen:
                seen, last_change = self.frames_seen, loop.time()
            elif loop.time() - last_change >= quiet:
                break
        return {"waited": loop.time() - start, "quiet": loop.time() - last_change >= quiet}

    async def run_step(self, msg: dict) -> dict:
        step, rate, dur = msg["step"], msg["rate"], msg["dur"]
        self.step = step
        self.recv = 0
        self.hist = {}
        self.ack_hist = {}
        self.acks = {}
        self.late = 0
        self.t0, self.worst = time.monotonic_ns(), {}
        errors_before = dict(self.errors)
        cpu0 = self.me.cpu_times()
        t0 = time.perf_counter()
        senders = list(self.posters.values()) or self.conns
        sent = await self.post(senders, rate, dur, step)
        posted = time.perf_counter() - t0
        await asyncio.sleep(msg.get("drain", 1.0))
        wall = time.perf_counter() - t0
        cpu1 = self.me.cpu_times()
        self.step = -1
        errors = {k: v - errors_before.get(k, 0) for k, v in self.errors.items()}
        return {
            "step": step,
            "sent": sent,
            "posted_s": posted,
            "recv": self.recv,
            "hist": self.hist,
            "ack_hist": self.ack_hist,
            "unacked": len(self.acks),
            "errors": {k: v for k, v in errors.items() if v},
            "cpu": (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall,
            "worst_ms": {w: round(us / 1000, 1) for w, us in sorted(self.worst.items())},
        }

    # ----------------------------------------------------------------- scenario D

    async def storm(self, msg: dict) -> dict:
        """Drop every socket at once and resume each with ``?after=<its last seq>``."""
        loop = asyncio.get_running_loop()
        rate = msg.get("rate", 100)
        posting = loop.create_task(
            self.post(list(self.posters.values()), rate, msg.get("post_for", 3.0), 0)
        )
        await asyncio.sleep(msg.get("before", 0.5))
        cursors = {}
        for c in self.conns:
            cursors[c.idx] = c.seq
            if c.ws is not None:
                c.ws.transport.abort()  # a network failure, not a clean close
        dropped_at = time.perf_counter()
        for c in self.conns:
            if c.task is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(c.task, 5)
            c.ws = None
        await asyncio.sleep(msg.get("down", 0.5))
        welcome_at: dict[int, float] = {}
        failed: list[str] = []

        give_up = dropped_at + msg.get("give_up", 40)
        retries = {"n": 0}

        async def back(c: Conn) -> None:
            """Reconnect as the board's client does: jittered backoff, 0.25 s to 4 s."""
            await asyncio.sleep(random.uniform(0, msg.get("jitter", 0.5)))
            delay = 0.25
            while True:
                try:
                    await self.open(c, after=cursors[c.idx])
                    welcome_at[c.idx] = time.perf_counter() - dropped_at
                    return
                except Exception as e:
                    if c.task is not None:
                        c.task.cancel()
                    if c.ws is not None:
                        c.ws.transport.abort()
                        c.ws = None
                    if time.perf_counter() > give_up:
                        failed.append(f"{e.__class__.__name__}: {e}"[:200])
                        return
                    retries["n"] += 1
                    await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                    delay = min(delay * 2, 4.0)

        await asyncio.gather(*(back(c) for c in self.conns))
        await posting
        # Wait for every acknowledged post to reach every socket of its meeting.
        deadline = time.perf_counter() + msg.get("timeout", 15)
        while time.perf_counter() < deadline:
            behind = [
                c for c in self.conns if c.seq is None or c.seq < self.ack_seq.get(c.meeting, 0)
            ]
            if not behind:
                break
            await asyncio.sleep(0.05)
        converged_at = time.perf_counter() - dropped_at
        behind = [c for c in self.conns if c.seq is None or c.seq < self.ack_seq.get(c.meeting, 0)]
        gaps = sum(c.gaps for c in self.conns)
        return {
            "clients": len(self.conns),
            "resumed": len(welcome_at),
            "failed": len(failed),
            "failures": failed[:5],
            "all_welcome_s": max(welcome_at.values()) if welcome_at else None,
            "converged_s": converged_at if not behind else None,
            "behind": len(behind),
            "gaps": gaps,
            "dups": sum(c.dups for c in self.conns),
            "retries": retries["n"],
            "posts": sum(self.ack_seq.values()),
            "errors": self.errors,
        }

    async def close(self) -> None:
        for c in [*self.conns, *self.posters.values()]:
            if c.ws is not None:
                with contextlib.suppress(Exception):
                    c.ws.transport.abort()


async def main_async(spec_path: str) -> None:
    with open(spec_path) as f:
        spec = json.load(f)
    load = Load(spec)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    while True:
        line = await reader.readline()
        if not line:
            break
        msg = json.loads(line)
        cmd = msg["cmd"]
        if cmd == "connect":
            result = await load.connect_all(load.conns, msg.get("concurrency", 50))
            if load.posters:
                result["posters"] = await load.connect_all(list(load.posters.values()), 50)
            reply(result)
        elif cmd == "settle":
            reply(await load.settle(msg))
        elif cmd == "step":
            reply(await load.run_step(msg))
        elif cmd == "storm":
            reply(await load.storm(msg))
        elif cmd == "close":
            await load.close()
            reply({"closed": True})
            break


def main() -> None:
    try:
        import uvloop

        uvloop.run(main_async(sys.argv[1]))
    except ImportError:
        asyncio.run(main_async(sys.argv[1]))


if __name__ == "__main__":
    main()
