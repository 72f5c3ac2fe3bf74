"""A protocol client for the fault tests, written from docs/protocol.md alone: it keeps
the meeting's state by applying events in ``seq`` order with ``rooms.state.apply_event``
(the same rule as the board's store), reconnects to whichever web process is up with
``?after=<seq>``, asks for a ``sync`` when it sees a gap, and retries each command with
the same ``ref`` until it is answered.

It counts what the figures of docs/reliability.md are made of: gaps and duplicates seen,
resyncs, reconnects, acknowledged refs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from rooms.state import apply_event


class State(dict):
    """A snapshot the client owns alone: ``apply_event``'s defensive deep copy returns it
    as is, so events apply in place (the previous state is never looked at again), and
    a client does not spend O(size of the meeting) per event."""

    def __deepcopy__(self, memo):
        return self


class Unanswered(Exception):
    """The connection went away before the command was answered."""


class LiveClient:
    def __init__(
        self,
        *,
        name: str,
        meeting_id: int,
        cookie: str,
        ports: Callable[[], list[int]],
        timeout: float = 5.0,
    ) -> None:
        self.name = name
        self.meeting_id = meeting_id
        self.cookie = cookie
        self.ports = ports
        self.timeout = timeout
        self.snapshot: dict | None = None
        self.seq: int | None = None
        self.stats: Counter = Counter()
        self.acks: dict[str, dict] = {}
        self.closing: list[str] = []
        self.ws = None
        self.ready = asyncio.Event()
        self.last_change = time.monotonic()
        self._pending: dict[str, asyncio.Future] = {}
        self._task: asyncio.Task | None = None
        self._stop = False
        self._received_seqs: list[int] = []

    # ----------------------------------------------------------------- connection

    def url(self, port: int) -> str:
        after = f"?after={self.seq}" if self.seq is not None else ""
        return f"ws://127.0.0.1:{port}/ws/meetings/{self.meeting_id}/{after}"

    async def _open(self):
        delay = 0.05
        while not self._stop:
            ports = self.ports()
            if ports:
                port = random.choice(ports)
                try:
                    return await connect(
                        self.url(port),
                        origin=f"http://127.0.0.1:{port}",
                        additional_headers={"Cookie": self.cookie},
                        open_timeout=5,
                        ping_interval=None,
                        compression=None,
                        max_size=None,
                        proxy=None,
                        close_timeout=1,
                    )
                except (OSError, TimeoutError, InvalidStatus, InvalidMessage, ConnectionClosed):
                    self.stats["connect_failed"] += 1
            await asyncio.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.5)
        return None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stop = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    def drop(self) -> None:
        """Cut the TCP connection without a closing handshake, as a lost network does."""
        ws = self.ws
        if ws is not None:
            ws.transport.abort()
            self.stats["dropped"] += 1

    async def _run(self) -> None:
        while not self._stop:
            ws = await self._open()
            if ws is None:
                return
            self.ws = ws
            self.stats["connects"] += 1
            try:
                async for raw in ws:
                    self._on_frame(json.loads(raw))
            except ConnectionClosed:
                pass
            finally:
                self.ready.clear()
                self.ws = None
                self.stats["disconnects"] += 1
                for fut in self._pending.values():
                    if not fut.done():
                        fut.set_exception(Unanswered())
                self._pending.clear()

    # ----------------------------------------------------------------- frames

    def _on_frame(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "welcome":
            if frame["snapshot"] is not None:
                self.snapshot, self.seq = State(frame["snapshot"]), frame["seq"]
                self.last_change = time.monotonic()
            elif frame["seq"] != self.seq:
                self.stats["bad_resume"] += 1
            self.ready.set()
        elif kind == "resync":
            self.stats["resyncs"] += 1
            self.stats[f"resync_{frame['reason']}"] += 1
            self.snapshot, self.seq = State(frame["snapshot"]), frame["seq"]
            self.last_change = time.monotonic()
        elif kind == "event":
            seq = frame["seq"]
            if self.seq is None:
                return
            if seq <= self.seq:
                self.stats["duplicates"] += 1
            elif seq == self.seq + 1:
                self.snapshot = apply_event(self.snapshot, frame)
                self.seq = seq
                self.stats["applied"] += 1
                self.last_change = time.monotonic()
            else:
                self.stats["gaps"] += 1
                asyncio.get_running_loop().create_task(self._send({"type": "sync"}))
        elif kind in ("ack", "error"):
            fut = self._pending.pop(frame.get("ref"), None)
            if fut is not None and not fut.done():
                fut.set_result(frame)
        elif kind == "closing":
            self.closing.append(frame["reason"])

    async def _send(self, frame: dict) -> None:
        ws = self.ws
        if ws is None:
            raise Unanswered()
        try:
            await ws.send(json.dumps(frame))
        except ConnectionClosed as e:
            raise Unanswered() from e

    # ----------------------------------------------------------------- commands

    async def command(self, frame: dict) -> dict:
        """Send once and wait for the answer (ack or error)."""
        await asyncio.wait_for(self.ready.wait(), self.timeout * 6)
        fut = asyncio.get_running_loop().create_future()
        self._pending[frame["ref"]] = fut
        await self._send(frame)
        return await asyncio.wait_for(fut, self.timeout)

    async def until_answered(self, frame: dict, deadline: float = 120) -> dict:
        """Retry with the same ref through disconnects and rate limits until answered."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                answer = await self.command(frame)
            except (Unanswered, TimeoutError):
                self.stats["retries"] += 1
                await asyncio.sleep(0.05)
                continue
            if answer["type"] == "error" and answer["code"] == "rate_limited":
                self.stats["rate_limited"] += 1
                await asyncio.sleep(0.1 + random.random() * 0.1)
                continue
            if answer["type"] == "ack":
                self.acks[frame["ref"]] = answer
            return answer
        raise TimeoutError(f"{self.name}: {frame['ref']} never answered")


def snapshot_diff(a: dict | None, b: dict) -> str:
    """A short description of how two snapshots differ ('' when equal)."""
    if a == b:
        return ""
    if a is None:
        return "no snapshot"
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            va, vb = a.get(key), b.get(key)
            if isinstance(va, list) and isinstance(vb, list):
                out.append(f"{key}: {len(va)} vs {len(vb)} items")
            else:
                out.append(f"{key} differs")
    return "; ".join(out)
