"""The sockets' commands, run in batches: one transaction for the commands that arrive
while the previous batch is being written (group commit).

A command that finds its meeting idle runs at once; commands that arrive while a batch
of their meeting is being written wait for it and then run together, in one transaction
(``rooms.services.meetings.run_calls``), in the order they arrived, with those of every
other idle meeting. A meeting has one batch at a time, so its commands run in arrival
order (a socket's too: sockets hand commands over without waiting for the reply); at
most ``PAUSE_WRITE_BATCHES`` batches run at once. Under load the transaction's fixed
costs (locks, the commit's disk flush, the round trips) are shared; at rest nothing
waits. Each command still gets its own result: a refused command is answered with its
error and does not undo the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from rooms import broadcast
from rooms.errors import DomainError
from rooms.hub import database_call
from rooms.services.meetings import Outcome, command_call, run_calls

log = logging.getLogger(__name__)

# Commands in one transaction at most.
MAX_BATCH = 64


def _error(ref, code: str, message: str, field=None) -> dict:
    return {"type": "error", "ref": ref, "code": code, "message": message, "field": field}


def _conflict(ref) -> dict:
    return _error(ref, "conflict", "The server could not complete this command; try again.")


def reply_for(ref, result) -> dict:
    """The frame that answers a command: its ``ack`` or its ``error``."""
    if isinstance(result, Outcome):
        return {"type": "ack", "ref": ref, "seq": result.seq, "result": result.result}
    if isinstance(result, DomainError):
        return _error(ref, result.code, str(result.message), result.field)
    return _conflict(ref)


def _run(calls: list, published: list) -> list:
    """Run ``calls`` together; if the batch's transaction itself fails (not one command:
    those roll back alone), run each on its own so that one cannot sink the others.
    The committed events are appended to ``published``."""
    try:
        return run_calls(calls, published)
    except Exception as e:
        if len(calls) == 1:
            return [_failed(calls[0], e)]
        log.exception("a batch of %d commands failed; running them one by one", len(calls))
    results: list = []
    for call in calls:
        try:
            results.extend(run_calls([call], published))
        except Exception as e:
            results.append(_failed(call, e))
    return results


def _failed(call, error: Exception) -> Exception:
    if not isinstance(error, DomainError):
        log.error("command %s failed", call.name, exc_info=error)
    return error


@dataclass
class _Item:
    participant: object
    frame: object
    lang: str
    future: asyncio.Future | None
    reply: Callable[[dict], Awaitable[None]] | None = None


class Writer:
    def __init__(self) -> None:
        self.pending: list[_Item] = []
        self.running = 0
        self.busy: set[int] = set()  # meetings with a batch being written
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Task] = set()
        self.batches = 0  # batches run (tests read it)

    def _limit(self) -> int:
        # SQLite has one writer and Channels' one database thread; PostgreSQL overlaps the
        # round trips of a few batches (of different meetings, or queued on one's lock).
        if connection.vendor == "sqlite":
            return 1
        return int(getattr(settings, "PAUSE_WRITE_BATCHES", 2))

    def submit(self, participant, frame, lang: str, reply=None) -> asyncio.Future | None:
        """Queue ``frame`` (a validated command) as ``participant``. Commands run in the
        order they were submitted, per meeting. The reply to send is awaited as
        ``reply(frame)`` by the writer once the batch is written (the socket's own
        ``send_text``: no task per command), or, without ``reply``, is the result of the
        future returned."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # a new event loop (tests): start afresh
            self.loop, self.pending, self.running, self.busy = loop, [], 0, set()
        future = None if reply is not None else loop.create_future()
        self.pending.append(_Item(participant, frame, lang, future, reply))
        self._start()
        return future

    def _start(self) -> None:
        while self.pending and self.running < self._limit():
            batch: list[_Item] = []
            rest: list[_Item] = []
            for item in self.pending:
                meeting_id = item.participant.meeting_id
                if meeting_id in self.busy or len(batch) >= MAX_BATCH:
                    rest.append(item)
                else:
                    batch.append(item)
            if not batch:
                return
            self.pending = rest
            meetings = {i.participant.meeting_id for i in batch}
            self.busy |= meetings
            self.running += 1
            task = asyncio.get_running_loop().create_task(self._batch(batch, meetings))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _batch(self, items: list[_Item], meetings: set[int]) -> None:
        calls = [command_call(actor=i.participant, command=i.frame, lang=i.lang) for i in items]
        published: list = []
        try:
            results = await database_call(_run)(calls, published)
        except Exception:
            log.exception("command %s failed", items[0].frame.type)
            results = [None] * len(items)
        finally:
            self.running -= 1
            self.busy -= meetings
            self.batches += 1
        # From the event loop: a database thread never waits for the loop to publish.
        for meeting_id, events in published:
            await broadcast.publish_events_async(meeting_id, events)
        for item, result in zip(items, results, strict=True):
            frame = reply_for(item.frame.ref, result)
            if item.reply is not None:
                try:
                    await item.reply(frame)
                except Exception:
                    log.exception("reply to %s failed", item.frame.type)
            elif not item.future.done():
                item.future.set_result(frame)
        self._start()


writer = Writer()


def submit(participant, frame, lang: str, reply=None) -> asyncio.Future | None:
    return writer.submit(participant, frame, lang, reply)
