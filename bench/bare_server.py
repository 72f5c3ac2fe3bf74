"""The ceiling: a bare ``websockets`` broadcast server with Pause's fan-out and no Django.

    python -m bench.bare_server --port 8765 [--redis redis://127.0.0.1:6379/0]

It speaks just enough of the live protocol for the load generator: a socket on
``/ws/meetings/<id>/`` gets a small ``welcome``; an ``idea.post`` frame is parsed, turned
into an ``idea.posted`` event of the same shape and size as Pause's, encoded once and
written to every socket of that meeting (``websockets.broadcast``), and acknowledged.
No authentication, no database, no per-viewer rendering. With ``--redis`` each event
goes through one Redis pub/sub message per process, as Pause's hub does across
processes, so scenario C has a ceiling of the same architecture.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import re
from collections import defaultdict

from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed

PATH = re.compile(r"^/ws/meetings/(\d+)/")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def encode(frame: dict) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


class Bare:
    def __init__(self, redis_url: str | None) -> None:
        self.rooms: dict[int, set] = defaultdict(set)
        self.seq: dict[int, int] = defaultdict(int)
        self.ids = itertools.count(1)
        self.redis_url = redis_url
        self.redis = None

    async def start(self) -> None:
        if self.redis_url:
            import redis.asyncio as redis

            self.redis = redis.from_url(self.redis_url)
            pubsub = self.redis.pubsub()
            await pubsub.psubscribe("bare:*")
            asyncio.get_running_loop().create_task(self._relay(pubsub))

    async def _relay(self, pubsub) -> None:
        async for message in pubsub.listen():
            if message["type"] != "pmessage":
                continue
            room = int(message["channel"].split(b":")[1])
            broadcast(self.rooms.get(room, ()), message["data"].decode())

    async def handler(self, ws) -> None:
        match = PATH.match(ws.request.path)
        if match is None:
            await ws.close(4404)
            return
        room = int(match.group(1))
        pid = next(self.ids)
        self.rooms[room].add(ws)
        try:
            await ws.send(
                encode(
                    {
                        "type": "welcome",
                        "you": {"participant_id": pid, "name": f"p{pid}", "role": "member"},
                        "seq": self.seq[room],
                        "server_time": _now(),
                        "resumed": False,
                        "snapshot": None,
                    }
                )
            )
            async for text in ws:
                await self.receive(ws, room, pid, text)
        except ConnectionClosed:
            pass
        finally:
            self.rooms[room].discard(ws)
            if not self.rooms[room]:
                del self.rooms[room]

    async def receive(self, ws, room: int, pid: int, text) -> None:
        frame = json.loads(text)
        if frame.get("type") != "idea.post":
            await ws.send(encode({"type": "error", "ref": frame.get("ref"), "code": "invalid"}))
            return
        self.seq[room] += 1
        seq = self.seq[room]
        idea_id = next(self.ids)
        at = _now()
        event = encode(
            {
                "type": "event",
                "seq": seq,
                "name": "idea.posted",
                "at": at,
                "actor": pid,
                "data": {
                    "id": idea_id,
                    "challenge_id": frame.get("challenge_id"),
                    "kind": frame.get("kind", "idea"),
                    "text": frame.get("text", ""),
                    "author": None if frame.get("anonymous") else {"id": pid, "name": f"p{pid}"},
                    "hidden": False,
                    "removed": False,
                    "removed_reason": None,
                    "cluster_id": None,
                    "votes": 0,
                    "reactions": {},
                    "replies": [],
                    "at": at,
                    "edited": False,
                    "mine": False,
                    "my_vote": False,
                    "my_reactions": [],
                },
            }
        )
        if self.redis is not None:
            await self.redis.publish(f"bare:{room}", event)
        else:
            broadcast(self.rooms[room], event)
        await ws.send(
            encode({"type": "ack", "ref": frame.get("ref"), "seq": seq, "result": {"id": idea_id}})
        )


async def main_async(port: int, redis_url: str | None) -> None:
    bare = Bare(redis_url)
    await bare.start()
    async with serve(
        bare.handler, "127.0.0.1", port, compression=None, max_size=65536, ping_interval=None
    ):
        await asyncio.Future()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default=None)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main_async(args.port, args.redis))


if __name__ == "__main__":
    main()
