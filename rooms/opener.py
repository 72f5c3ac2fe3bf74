"""Sockets' connects, opened in batches: the connects that arrive while earlier ones are
being opened share their database work (``selectors.connection_open_many``).

A connect that finds a free slot runs at once, alone, as ``selectors.connection_open``;
connects that arrive while ``PAUSE_CONNECT_BATCHES`` batches are running wait for one to
end, then run together, up to ``MAX_BATCH`` at a time. At rest nothing waits; when many
sockets connect at once (a meeting starting, every tab back after a network cut) each
batch reads their sessions, members and snapshots with a few statements for all of them
and writes their first joins in one transaction. Each socket still gets its own answer:
a refused one gets its error, and one the shared statements cannot settle is opened
alone.

The join events a batch commits are published from the event loop before any of its
sockets is answered, as a socket opened alone publishes its own: each socket's welcome
then covers its own join, and the hub (joined before the connect) delivers the others.
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from rooms import hub as hub_module
from rooms import selectors
from rooms.broadcast import publish_events_async
from rooms.hub import database_call

log = logging.getLogger(__name__)

# Connects in one batch at most.
MAX_BATCH = 32


class Opener:
    def __init__(self) -> None:
        self.pending: list[tuple[dict, asyncio.Future]] = []
        self.running = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Task] = set()
        self.batches = 0  # batches run (tests read them)
        self.largest = 0  # the most connects one batch opened

    def _limit(self) -> int:
        # SQLite: Channels' one database thread; PostgreSQL: a few of the pool's threads,
        # leaving the others to the writer, resumes and snapshots.
        if hub_module._vendor() == "sqlite":
            return 1
        return max(1, int(getattr(settings, "PAUSE_CONNECT_BATCHES", 1)))

    async def open(self, **job) -> tuple:
        """``selectors.connection_open(**job)``'s answer (it raises as that does), with
        the join's events published."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # a new event loop (tests): start afresh
            self.loop, self.pending, self.running, self.tasks = loop, [], 0, set()
        future = loop.create_future()
        self.pending.append((job, future))
        self._start()
        return await future

    def _start(self) -> None:
        while self.pending and self.running < self._limit():
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            self.running += 1
            task = self.loop.create_task(self._batch(batch))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _batch(self, batch: list[tuple[dict, asyncio.Future]]) -> None:
        joined: list = []
        jobs = [job for job, _future in batch]
        try:
            if len(jobs) == 1:
                answers = [await _one(jobs[0], joined)]
            else:
                answers = await _many(jobs, into=joined)
        except BaseException as e:  # the thread pool is gone (shutdown), or cancelled
            answers = [e] * len(batch)
        finally:
            self.running -= 1
            self.batches += 1
            self.largest = max(self.largest, len(batch))
        try:
            for meeting_id, events in joined:
                await publish_events_async(meeting_id, events)
        except Exception:
            log.exception("publishing the joins of %d connects failed", len(batch))
        for (_job, future), answer in zip(batch, answers, strict=True):
            if future.done():  # the socket went away meanwhile
                continue
            if isinstance(answer, asyncio.CancelledError):
                future.cancel()
            elif isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
        self._start()


async def _one(job: dict, joined: list):
    try:
        return await _call(selectors.connection_open)(**job, into=joined)
    except Exception as e:
        return e


async def _many(jobs: list[dict], *, into: list) -> list:
    return await _call(selectors.connection_open_many)(jobs, into=into)


_calls: dict = {}


def _call(fn):
    """``database_call(fn)``, made once per database pool (``hub.stop`` ends the pool):
    building the awaitable (asgiref's ``SyncToAsync``, with its ``inspect`` checks) was a
    tenth of a connect's work on the event loop."""
    key = (fn, database_call, hub_module._pool)
    call = _calls.get(key)
    if call is None:
        call = database_call(fn)  # may start the pool
        if len(_calls) > 8:
            _calls.clear()
        _calls[(fn, database_call, hub_module._pool)] = call
    return call


opener = Opener()
