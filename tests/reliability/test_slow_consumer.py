"""A client that stops reading is cut off instead of filling the server's memory, and
the others do not wait for it (issue 8).

One daphne process (PostgreSQL, Redis of its own) with small per-socket limits: a queue
of ``QUEUE_FRAMES`` frames and ``PAUSE_WS_WRITE_HIGH_WATER`` bytes of write buffer. In a
meeting, a poster, three readers and a sixth client.

Memory first: the meeting gets ``PRELOAD`` ideas of 8 KB (a snapshot of ~0.8 MB); a
stalled socket asks for ``SYNCS`` snapshots (~78 MB) and reads none of them. Daphne's RSS
is sampled (psutil) meanwhile, until the server is idle again: it must grow by less than
``RSS_BOUND``, and the socket must be closed as slow.

Then, in a second meeting (the same six people of their own), ``PAIRS`` pairs of rounds,
alternating (base, slow, slow, base, ...) so that a drift
of the machine's load falls on both kinds. In each round the sixth client connects (with
``?after=<seq>``: a small welcome), asks for ``PRIMING`` snapshots, and either reads
everything (base) or nothing (slow); then the poster sends ``BURST`` ideas at ``RATE``
per second. The readers' send→receive latencies of the burst give each round a p50 and a
p95; the stalled rounds' medians must be within 20% of the baseline rounds' medians.

So that the test's own clients are never the bottleneck, each is light:
- the readers are raw ``websockets`` connections that find a marker in each frame and
  note the time (the send time is written in the idea's text): no JSON parsing;
- the stalled client is a plain socket that does the handshake (websockets' sans-I/O
  protocol), reads its welcome and then never calls ``recv``. It asks for a 1 KB receive
  buffer and a 536-byte MSS (an old link's), so that the kernel holds ~40 KB for it
  instead of ~3 MB (loopback's autotuned buffer): its two unread snapshots back the
  server's transport up before the burst, and the burst fills its queue within ~0.5 s;
- ideas of the bursts are ~200 characters: the server's work per idea stays small, so
  the latencies measure the server, not a saturated machine.

When the server logs the close, the stalled client reads what was waiting for it (its
snapshots, any events, ``closing{slow_consumer}``, a close frame), answers the close
frame, then reconnects with ``?after=<last seq it got>`` and must get every idea of the
round in order, or a resync.

Why the rounds have a meeting of their own: what the stalled client reads when it comes
back is the server's work too, during the burst. Through a 536-byte MSS, the memory
part's two snapshots (~1.7 MB, growing with every round) were ~3,200 segments, which the
kernel processes inside the server's ``send`` calls: about 50 ms of the server's CPU per
round, in writes of ~1 ms each that the readers' frames waited behind. The rounds'
meeting starts with ``ROUNDS_PRELOAD`` ideas of 2,000 characters (snapshots of ~80 KB):
enough to back the transport up well over its high water, for a tenth of the segments.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import statistics
import time
from pathlib import Path

import psutil
import pytest
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.typing import Origin
from websockets.uri import parse_uri

from tests.reliability.cluster import timeout_s

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.timeout(timeout_s(180)),
]

BURST = int(os.environ.get("PAUSE_SLOW_BURST", "30"))  # ideas per round
RATE = float(os.environ.get("PAUSE_SLOW_RATE", "25"))  # ideas per second
# A baseline and a stalled round each. The slowdown is a median over pairs of a p95 of
# ~90 latencies: with 8 pairs it came out over the 20% bound about one full run in six on
# a quiet machine (24.5% once) while its median stayed well under; 12 pairs narrow it.
PAIRS = int(os.environ.get("PAUSE_SLOW_PAIRS", "12"))
SYNCS = int(os.environ.get("PAUSE_SLOW_SYNCS", "100"))  # snapshots the last stalled socket asks
READERS = 3
RSS_BOUND = 32 * 2**20
SLOWDOWN_LIMIT = 0.20  # the 20%
QUEUE_FRAMES = 10
PRIMING = 2  # snapshots (~80 KB each, and growing) the sixth client asks for before a burst
PRELOAD = 100  # ideas of 8 KB in the first meeting: a snapshot of ~0.8 MB
ROUNDS_PRELOAD = 40  # ideas of 2,000 characters in the rounds' meeting: a snapshot of ~80 KB
ENV = {
    "DJANGO_SETTINGS_MODULE": "tests.reliability.settings",
    "PAUSE_WS_SEND_QUEUE": str(QUEUE_FRAMES),
    "PAUSE_WS_WRITE_HIGH_WATER": str(16 * 1024),
    "PAUSE_RATE_LIMIT_PER_SECOND": "1000",
    "PAUSE_RATE_LIMIT_BURST": "1000",
    "DJANGO_LOG_LEVEL": "INFO",
    "PAUSE_TEST_FAST_PASSWORD_HASHER": "true",
}
MARK = "~k"  # in each idea's text: ~k<round>.<i>.<monotonic ns at send>
FILL = "\U0001f4a1" * 1960  # 💡: 4 bytes in UTF-8, ~8 KB per idea (the preload)
TEXT = "An idea of the burst, of an ordinary length. " * 4
CLOSE_LINE = b"closing a slow socket"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def seq_of(raw: str) -> int | None:
    """The seq of an event frame, without parsing it (``encode`` keeps the key order)."""
    head = '{"type":"event","seq":'
    if not raw.startswith(head):
        return None
    return int(raw[len(head) : raw.index(",", len(head))])


def key_of(raw: str) -> str | None:
    i = raw.find(MARK)
    if i < 0:
        return None
    return raw[i + len(MARK) : raw.index(" ", i)]


async def open_ws(port: int, meeting_id: int, cookie: str, after: int | None):
    query = "" if after is None else f"?after={after}"
    return await connect(
        f"ws://127.0.0.1:{port}/ws/meetings/{meeting_id}/{query}",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": cookie},
        ping_interval=None,
        compression=None,
        max_size=None,
        max_queue=None,
        proxy=None,
        close_timeout=1,
    )


class Reader:
    """Notes when each marked idea arrives and the last seq seen; parses nothing."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.arrived: dict[str, int] = {}
        self.seq: int | None = None
        self.frames = 0
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.seq = json.loads(await self.ws.recv())["seq"]  # the (small) welcome
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        async for raw in self.ws:
            now = time.monotonic_ns()
            self.frames += 1
            seq = seq_of(raw)
            if seq is None:
                continue
            self.seq = seq
            key = key_of(raw)
            if key is not None:
                self.arrived[key] = now

    async def stop(self) -> None:
        await self.ws.close()
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except BaseException:
                pass


class Stalled:
    """A socket that completes the WebSocket handshake, reads its welcome, then stops
    reading; ``drain`` reads (later) what the server left for it."""

    def __init__(self, sock: socket.socket, protocol: ClientProtocol) -> None:
        self.sock, self.protocol = sock, protocol
        self.frames: list[str] = []  # text messages, in order
        self.closed_by_server = False
        self.error: str | None = None  # how the drain ended, when not by a clean close
        self.drained = 0
        self._partial: list[bytes] = []

    @classmethod
    async def open(cls, port: int, meeting_id: int, cookie: str, after: int) -> Stalled:
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        uri = parse_uri(f"ws://127.0.0.1:{port}/ws/meetings/{meeting_id}/?after={after}")
        protocol = ClientProtocol(uri, origin=Origin(f"http://127.0.0.1:{port}"), max_size=None)
        request = protocol.connect()
        request.headers["Cookie"] = cookie
        protocol.send_request(request)
        self = cls(sock, protocol)
        await self._flush()
        async with asyncio.timeout(10):
            while not self.frames:  # the handshake's answer, then the welcome
                data = await loop.sock_recv(sock, 65536)
                assert data, "closed during the handshake"
                self._feed(data)
        return self

    async def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                await asyncio.get_running_loop().sock_sendall(self.sock, data)

    def _feed(self, data: bytes) -> None:
        if data:
            self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                assert event.status_code == 101, event.status_code
                continue
            if event.opcode == Opcode.CLOSE:
                self.closed_by_server = True
            elif event.opcode in (Opcode.TEXT, Opcode.CONT):
                self._partial.append(event.data)
                if event.fin:
                    self.frames.append(b"".join(self._partial).decode())
                    self._partial = []

    async def send(self, frame: dict) -> None:
        self.protocol.send_text(json.dumps(frame).encode())
        await self._flush()

    async def drain(self, timeout: float = 10) -> None:
        """Read until the server closes: what it had left for us, ``closing``, close.

        The frames are only split here (``receive_data``); ``parse`` decodes them after
        the burst. The close frame is answered as a client does, so that the server ends
        the connection at once (uvicorn otherwise keeps it for its whole closing
        handshake, and this read for its whole ``timeout``)."""
        loop = asyncio.get_running_loop()
        # A reader again: a normal receive buffer, or the ~1 MB waiting for it would take
        # longer than the server's closing handshake to come through.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2**20)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    data = await loop.sock_recv(self.sock, 2**20)
                    if not data:
                        break
                    self.drained += len(data)
                    answered = self.protocol.close_sent is not None
                    self.protocol.receive_data(data)
                    if not answered and self.protocol.close_rcvd is not None:
                        await self._flush()  # the close frame's answer
        except (TimeoutError, ConnectionError) as e:
            self.error = type(e).__name__

    def parse(self) -> None:
        self._feed(b"")

    def abort(self) -> None:
        self.sock.close()


class LogWatch:
    """Counts ``closing a slow socket`` lines in daphne's log as they are written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size
        self.count = 0

    def poll(self) -> int:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        self.count += data[:cut].count(CLOSE_LINE)
        self.offset += cut
        return self.count


class RssSampler:
    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.start = self.peak = process.memory_info().rss
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.process.memory_info().rss)
            await asyncio.sleep(0.01)

    def stop(self) -> int:
        self.task.cancel()
        self.peak = max(self.peak, self.process.memory_info().rss)
        return self.peak - self.start


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
def test_a_client_that_stops_reading_is_closed_and_does_not_slow_the_others(
    cluster_factory, record_property, server
):
    """A socket that stops reading during a burst is closed with closing{slow_consumer}
    and resumes by seq with no gap; daphne's RSS grows by less than 32 MB while the client
    leaves far more unread; the other clients' p50 and p95 delivery latencies (median of
    rounds) are within 20% of the rounds where the sixth client reads."""
    clock = {"start": time.monotonic()}
    # daphne's default 64 KiB limit also caps what the server sends (a snapshot): raised
    # here, as docs/reliability.md asks for production.
    cluster = cluster_factory(
        db_name=f"pause_reliability_slow_{server}",
        webs=1,
        env=ENV,
        max_message=16 * 2**20,
        server=server,
        # Commits do not wait for the disk's flush: this VM's disk has phases of flushes
        # of 100-200 ms, which landed on base and stalled rounds alike (p95 from 14 to
        # 220 ms in one run) and swamped what the test compares, the server's fan-out.
        # What a commit does otherwise is unchanged.
        db_settings={"synchronous_commit": "off"},
    )
    web = cluster.webs[0]
    clock["cluster"] = time.monotonic()
    info = cluster.helper.call("setup", members=READERS + 2)
    rounds_info = cluster.helper.call("setup", members=READERS + 2, preload=ROUNDS_PRELOAD)
    name = info["session_cookie_name"]
    cookies = [f"{name}={p['cookie']}" for p in info["people"][1:]]
    meeting_id, challenge_id = info["meeting_id"], info["challenge_id"]
    server = psutil.Process(web.proc.pid)
    clock["setup"] = time.monotonic()
    port = web.port

    async def scenario() -> dict:
        nonlocal meeting_id, challenge_id, cookies
        poster = await open_ws(port, meeting_id, cookies[0], None)
        poster_reader = Reader(poster)  # reads (and drops) acks and events
        readers = [Reader(await open_ws(port, meeting_id, c, None)) for c in cookies[1:-1]]
        for r in (poster_reader, *readers):
            await r.start()
        sixth = cookies[-1]
        first_seq = readers[0].seq
        watch = LogWatch(web.log)

        async def burst(tag: str, n: int) -> list[str]:
            keys = []
            start = time.monotonic()
            for i in range(n):
                delay = start + i / RATE - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                key = f"{tag}.{i}.{time.monotonic_ns()}"
                frame = {
                    "type": "idea.post",
                    "ref": f"{tag}-{i}",
                    "challenge_id": challenge_id,
                    "text": f"{MARK}{key} {TEXT}",
                }
                await poster.send(json.dumps(frame, ensure_ascii=False))
                keys.append(key)
            await until(lambda: all(k in r.arrived for r in readers for k in keys), tag)
            return keys

        async def until(check, what: str, timeout: float = 60) -> None:
            end = time.monotonic() + timeout
            while not check():
                closed = [r for r in readers if r.task.done()]
                assert not closed, f"{what}: a reader was closed ({closed[0].ws.close_reason})"
                assert time.monotonic() < end, f"{what}: not delivered within {timeout} s"
                await asyncio.sleep(0.01)

        def latencies(keys: list[str]) -> list[float]:
            return [(r.arrived[k] - int(k.rsplit(".", 1)[1])) / 1e6 for r in readers for k in keys]

        async def settle(limit: float = 20) -> None:
            """Wait until daphne is idle (below 15% of a core over 0.25 s)."""
            end = time.monotonic() + limit
            while time.monotonic() < end:
                before = sum(server.cpu_times()[:2])
                await asyncio.sleep(0.25)
                if sum(server.cpu_times()[:2]) - before < 0.25 * 0.15:
                    return

        async def next_close(closes: int) -> None:
            while watch.poll() == closes:
                await asyncio.sleep(0.01)

        def seq_now() -> int:
            return min(r.seq for r in readers)

        # Memory: a stalled socket asks for SYNCS snapshots and reads none of them. The
        # meeting first gets PRELOAD ideas of 8 KB (a snapshot of ~0.8 MB), in steps
        # smaller than the readers' queue: 8 KB frames arriving faster than a reader takes
        # them would (rightly) get it closed as slow.
        for i in range(PRELOAD):
            frame = {"type": "idea.post", "ref": f"pre-{i}", "challenge_id": challenge_id}
            await poster.send(json.dumps({**frame, "text": f"preloaded {i} {FILL}"}))
            if i % 5 == 4:
                await until(lambda i=i: seq_now() >= first_seq + i + 1, "the preload")
        probe = await open_ws(port, meeting_id, sixth, None)
        snapshot_bytes = len((await probe.recv()).encode())
        await probe.close()
        await asyncio.sleep(0.5)
        stalled = await Stalled.open(port, meeting_id, sixth, seq_now())
        closes = watch.poll()
        rss = RssSampler(server)
        for _ in range(SYNCS):
            await stalled.send({"type": "sync"})
        closed = False
        async with asyncio.timeout(30):
            while not closed:
                closed = watch.poll() > closes
                await asyncio.sleep(0.05)
        await settle()  # the syncs still queued in daphne are served (and dropped)
        memory = {
            "snapshot_bytes": snapshot_bytes,
            "unread_bytes": SYNCS * snapshot_bytes,
            "closed": closed,
            "rss_growth": rss.stop(),
        }
        stalled.abort()
        clock["memory"] = time.monotonic()

        # The rounds' meeting (see the module's docstring), with its own six people.
        for r in (poster_reader, *readers):
            await r.stop()
        meeting_id, challenge_id = rounds_info["meeting_id"], rounds_info["challenge_id"]
        cookies = [f"{name}={p['cookie']}" for p in rounds_info["people"][1:]]
        poster = await open_ws(port, meeting_id, cookies[0], None)
        poster_reader = Reader(poster)
        readers = [Reader(await open_ws(port, meeting_id, c, None)) for c in cookies[1:-1]]
        for r in (poster_reader, *readers):
            await r.start()
        sixth = cookies[-1]
        await burst("warm", 30)  # connections, caches and pools warm before round one
        rounds = []
        kinds = [k for p in range(PAIRS) for k in (("base", "slow"), ("slow", "base"))[p % 2]]
        for n, kind in enumerate(kinds):
            tag = f"r{n}"
            after = seq_now()
            result: dict = {"kind": kind}
            if kind == "base":
                extra = Reader(await open_ws(port, meeting_id, sixth, after))
                await extra.start()
                for _ in range(PRIMING):  # the same server work as for the stalled client
                    await extra.ws.send(json.dumps({"type": "sync"}))
                await settle()
                # The same instruments as in a stalled round: RSS samples, the log watched.
                rss = RssSampler(server)
                closes = watch.poll()
                watcher = asyncio.get_running_loop().create_task(next_close(closes))
                cpu0 = sum(server.cpu_times()[:2])
                keys = await burst(tag, BURST)
                result["server_cpu_s"] = sum(server.cpu_times()[:2]) - cpu0
                watcher.cancel()
                result["rss_growth"] = rss.stop()
                assert watch.poll() == closes, f"round {n}: the reading client was closed"
                await extra.stop()
            else:
                stalled = await Stalled.open(port, meeting_id, sixth, after)
                closes = watch.poll()
                rss = RssSampler(server)
                for _ in range(PRIMING):  # snapshots it will not read: its buffers are full
                    await stalled.send({"type": "sync"})
                await settle()
                cpu0 = sum(server.cpu_times()[:2])
                started = time.monotonic()

                async def on_close() -> float:
                    await next_close(closes)
                    at = time.monotonic() - started
                    await stalled.drain()  # it comes back: reads what was left for it
                    result["drain_s"] = time.monotonic() - started - at
                    return at

                closer = asyncio.get_running_loop().create_task(on_close())
                keys = await burst(tag, BURST)
                result["server_cpu_s"] = sum(server.cpu_times()[:2]) - cpu0
                burst_s = time.monotonic() - started
                try:
                    async with asyncio.timeout(10):
                        closed_at = await closer
                except TimeoutError:
                    pytest.fail(f"round {n}: the stalled socket was not closed as slow")
                stalled.parse()
                result["rss_growth"] = rss.stop()
                result["closed_at_s"] = round(closed_at, 2)
                result["burst_s"] = round(burst_s, 2)
                frames = stalled.frames[1:]  # after the welcome
                result["closing"] = [json.loads(f)["reason"] for f in frames if '"closing"' in f]
                result["close_frame"] = stalled.closed_by_server
                result["drain_error"] = stalled.error
                result["drained_bytes"] = stalled.drained
                prefix = [s for s in map(seq_of, frames) if s is not None]
                result["read_before_close"] = len(prefix)
                result["prefix_contiguous"] = prefix == list(
                    range(after + 1, after + 1 + len(prefix))
                )
                got = {k for k in map(key_of, frames) if k}
                # It comes back with its cursor and must get the rest, or a resync.
                last = prefix[-1] if prefix else after
                back = await open_ws(port, meeting_id, sixth, last)
                resumed: list[int] = []
                resync = False
                welcome = json.loads(await back.recv())
                assert welcome["type"] == "welcome", str(welcome)[:300]
                async with asyncio.timeout(30):
                    while (resumed[-1] if resumed else last) < seq_now() and not resync:
                        raw = await back.recv()
                        if raw.startswith('{"type":"resync"'):
                            resync = True
                            got |= {
                                idea["text"][len(MARK) :].split(" ", 1)[0]
                                for idea in json.loads(raw)["snapshot"]["ideas"]
                                if idea["text"].startswith(MARK)
                            }
                        elif (seq := seq_of(raw)) is not None:
                            resumed.append(seq)
                            key = key_of(raw)
                            if key:
                                got.add(key)
                await back.close()
                result["resync"] = resync
                result["resumed_contiguous"] = resync or resumed == list(
                    range(last + 1, last + 1 + len(resumed))
                )
                result["missing"] = len(set(keys) - got)
            lat = latencies(keys)
            result["p50_ms"] = pct(lat, 0.5)
            result["p95_ms"] = pct(lat, 0.95)
            rounds.append(result)

        clock["rounds"] = time.monotonic()
        for r in (poster_reader, *readers):
            await r.stop()
        return {"rounds": rounds, "memory": memory}

    r = asyncio.run(scenario())
    rounds, memory = r["rounds"], r["memory"]
    base = [x for x in rounds if x["kind"] == "base"]
    slow = [x for x in rounds if x["kind"] == "slow"]
    med = {
        (kind, q): statistics.median(x[q] for x in group)
        for kind, group in (("base", base), ("slow", slow))
        for q in ("p50_ms", "p95_ms")
    }
    # Each pair of rounds (base then slow, or slow then base) ran within ~4 s, under the
    # same load of the machine: the slowdown is the median over pairs of slow / base.
    pairs = [sorted(rounds[i : i + 2], key=lambda x: x["kind"]) for i in range(0, len(rounds), 2)]
    slowdown = {
        q: statistics.median(s[q] / b[q] for b, s in pairs) - 1 for q in ("p50_ms", "p95_ms")
    }
    mb = 2**20
    stamps = list(clock.items())
    figures = {
        "seconds": {b[0]: round(b[1] - a[1], 1) for a, b in itertools.pairwise(stamps)},
        "burst": BURST,
        "rate_per_s": RATE,
        "rounds": [
            {k: (round(v, 1) if isinstance(v, float) else v) for k, v in x.items()} for x in rounds
        ],
        "p50_ms_base_vs_slow": [round(med["base", "p50_ms"], 1), round(med["slow", "p50_ms"], 1)],
        "p95_ms_base_vs_slow": [round(med["base", "p95_ms"], 1), round(med["slow", "p95_ms"], 1)],
        "slowdown_p50": round(slowdown["p50_ms"], 3),
        "slowdown_p95": round(slowdown["p95_ms"], 3),
        "ratio_of_medians_p50": round(med["slow", "p50_ms"] / med["base", "p50_ms"] - 1, 3),
        "ratio_of_medians_p95": round(med["slow", "p95_ms"] / med["base", "p95_ms"] - 1, 3),
        "stall_rss_growth_mb": max(round(x["rss_growth"] / mb, 1) for x in slow),
        "base_rss_growth_mb": max(round(x["rss_growth"] / mb, 1) for x in base),
        "closed_at_s": [x["closed_at_s"] for x in slow],
        "stalled_saw_closing": sum(x["closing"] == ["slow_consumer"] for x in slow),
        "stalled_saw_reset_only": sum(
            not x["closing"] and not x["close_frame"] and x["drain_error"] is not None for x in slow
        ),
        "memory": {
            "syncs": SYNCS,
            "snapshot_mb": round(memory["snapshot_bytes"] / mb, 2),
            "unread_mb": round(memory["unread_bytes"] / mb, 1),
            "rss_growth_mb": round(memory["rss_growth"] / mb, 1),
            "closed": memory["closed"],
        },
    }
    record_property("figures", figures)
    print("slow consumer figures:", json.dumps(figures))
    # Every stalled socket was closed by the server as slow, within the burst (on_close
    # waits for the server's log line). What the client then reads is `closing` and the
    # close frame, or, if the server gave up its closing handshake first, a reset: never
    # anything else, and `closing` was seen.
    assert figures["stalled_saw_closing"] >= 1, figures
    for x in slow:
        assert x["closed_at_s"] < x["burst_s"], figures
        assert x["closing"] in ([], ["slow_consumer"]), figures
        assert x["closing"] or x["close_frame"] or x["drain_error"], figures
        assert x["prefix_contiguous"] and x["resumed_contiguous"], figures
        assert x["missing"] == 0, figures
        assert x["rss_growth"] < RSS_BOUND, figures
    assert memory["closed"], figures
    assert memory["rss_growth"] < RSS_BOUND, figures
    assert memory["unread_bytes"] > 2 * RSS_BOUND, figures  # the contrast is meaningful
    for q in ("p50_ms", "p95_ms"):
        assert slowdown[q] < SLOWDOWN_LIMIT, figures
