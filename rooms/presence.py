"""Who is connected to a meeting now: ephemeral, never in the event log.

One entry per socket with an expiry; the hub of each process refreshes its own entries
every ``interval`` seconds, so several tabs of one person count once and the entries of a
killed process disappear within ``PAUSE_PRESENCE_TTL`` seconds. Redis holds the entries
when ``REDIS_URL`` is set (shared by every process); otherwise a dict in this process.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True, slots=True)
class Entry:
    conn: str
    id: int
    name: str
    role: str

    def public(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role}


def _unique(entries) -> list[dict]:
    seen: dict[int, dict] = {}
    for e in entries:
        seen.setdefault(e.id, e.public())
    return sorted(seen.values(), key=lambda d: (d["name"].casefold(), d["id"]))


class LocalPresence:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.interval = max(0.2, ttl / 3)
        self.entries: dict[int, dict[str, tuple[Entry, float]]] = {}

    async def add(self, meeting_id: int, entry: Entry) -> None:
        self.entries.setdefault(meeting_id, {})[entry.conn] = (entry, time.monotonic() + self.ttl)

    async def remove(self, meeting_id: int, entry: Entry) -> None:
        self.entries.get(meeting_id, {}).pop(entry.conn, None)

    async def refresh(self, meeting_id: int, entries: list[Entry | None]) -> None:
        """Renew ``entries``; None stands for a socket not welcomed yet (no entry)."""
        for e in entries:
            if e is not None:
                await self.add(meeting_id, e)

    async def list(self, meeting_id: int) -> list[dict]:
        now = time.monotonic()
        live = {c: v for c, v in self.entries.get(meeting_id, {}).items() if v[1] > now}
        self.entries[meeting_id] = live
        return _unique(e for e, _ in live.values())


class RedisPresence:
    def __init__(self, url: str, ttl: float, prefix: str = "pause") -> None:
        import redis.asyncio as redis

        self.prefix = prefix
        self.url = url
        self.ttl = ttl
        self.interval = max(0.2, ttl / 3)
        self._redis = redis
        self._clients: dict = {}

    @property
    def client(self):
        import asyncio

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._redis.from_url(self.url, socket_timeout=5, health_check_interval=30)
            self._clients[loop] = client
        return client

    def key(self, meeting_id: int) -> str:
        return f"{self.prefix}:presence:{int(meeting_id)}"

    @staticmethod
    def member(e: Entry) -> str:
        return json.dumps([e.conn, e.id, e.name, e.role], ensure_ascii=False)

    async def add(self, meeting_id: int, entry: Entry) -> None:
        await self.refresh(meeting_id, [entry])

    async def remove(self, meeting_id: int, entry: Entry) -> None:
        await self.client.zrem(self.key(meeting_id), self.member(entry))

    async def refresh(self, meeting_id: int, entries: list[Entry | None]) -> None:
        """Renew ``entries``; None stands for a socket not welcomed yet (no entry)."""
        entries = [e for e in entries if e is not None]
        if not entries:
            return
        expires = time.time() + self.ttl
        key = self.key(meeting_id)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {self.member(e): expires for e in entries})
            pipe.expire(key, int(self.ttl * 4) + 1)
            await pipe.execute()

    async def list(self, meeting_id: int) -> list[dict]:
        key = self.key(meeting_id)
        now = time.time()
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zrange(key, 0, -1)
            _, members = await pipe.execute()
        entries = []
        for raw in members:
            conn, pid, name, role = json.loads(raw)
            entries.append(Entry(conn, pid, name, role))
        return _unique(entries)


_backend = None


def presence_backend():
    global _backend
    if _backend is None:
        ttl = float(getattr(settings, "PAUSE_PRESENCE_TTL", 30))
        url = getattr(settings, "REDIS_URL", "")
        prefix = getattr(settings, "PAUSE_REDIS_PREFIX", "pause")
        _backend = RedisPresence(url, ttl, prefix) if url else LocalPresence(ttl)
    return _backend


def reset_backend() -> None:
    """Forget the backend (tests that change settings)."""
    global _backend
    _backend = None
