"""Real servers for integration tests: daphne subprocesses on a database of their own.

The servers never share the pytest database: each test module gets a fresh SQLite file
(``PAUSE_DATA_DIR``) or a fresh PostgreSQL database, migrated and seeded by
``manage.py`` subprocesses with the servers' own environment. Every process started
here is killed by a finalizer; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import need_service

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("PAUSE_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379

# Production-like settings over plain HTTP on 127.0.0.1.
BASE_ENV = {
    "DJANGO_SETTINGS_MODULE": "pause.settings",
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "integration-test-secret-key-not-for-production-31d7",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_SECURE_COOKIES": "false",
    "DJANGO_HSTS_SECONDS": "0",
    "PAUSE_MANIFEST_STATIC": "false",
    "DJANGO_LOG_LEVEL": "WARNING",
    "DEFAULT_LANGUAGE": "en",
    "PYTHONUNBUFFERED": "1",
    # These tests script many commands per socket as fast as they can; the rate limit
    # has its own tests (tests/live/test_live_limits.py).
    "PAUSE_RATE_LIMIT_PER_SECOND": "1000",
    "PAUSE_RATE_LIMIT_BURST": "1000",
}
# Variables of the pytest process that must not leak into a server's environment.
DROP_ENV = ("DATABASE_URL", "REDIS_URL", "PAUSE_DATA_DIR", "DJANGO_ALLOWED_HOSTS", "CI")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tcp_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
    env.update(BASE_ENV)
    env.update(extra)
    return env


# --------------------------------------------------------------------------- databases


@dataclass
class ServerDB:
    """A database the servers use, and read-only checks on it from the test."""

    env: dict[str, str]
    sqlite_path: Path | None = None
    pg_url: str | None = None

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.sqlite_path is not None:
            with contextlib.closing(sqlite3.connect(self.sqlite_path, timeout=20)) as conn:
                return conn.execute(sql.replace("%s", "?"), params).fetchall()
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def manage(self, *args: str, env: dict | None = None, timeout: float = 120) -> str:
        result = subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def prepare(self) -> None:
        self.manage(
            "shell",
            "-c",
            "from django.core.management import call_command as c; "
            "c('migrate', verbosity=0); c('createcachetable')",
        )

    def seed(self, **spec) -> dict:
        """A started open-format meeting in the ideas phase (see tests/integration/seed.py)."""
        out = self.manage(
            "shell",
            "-c",
            "from tests.integration.seed import run; run()",
            env={"PAUSE_SEED": json.dumps(spec)},
        )
        return json.loads(out.strip().splitlines()[-1])


def _pg_admin():
    try:
        import psycopg

        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as e:
        need_service("PostgreSQL", f"cannot connect to {PG_ADMIN_URL} ({e.__class__.__name__})")


@contextlib.contextmanager
def postgres_db():
    """A fresh PostgreSQL database, dropped afterwards."""
    admin = _pg_admin()
    name = f"pause_it_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    try:
        db = ServerDB(env=server_env(DATABASE_URL=url, DJANGO_CONN_MAX_AGE="60"), pg_url=url)
        db.prepare()
        yield db
    finally:
        with contextlib.suppress(Exception):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite database file, made once per run and copied by ``sqlite_db``."""
    directory = tmp_path_factory.mktemp("sqlite-template")
    ServerDB(env=server_env(PAUSE_DATA_DIR=str(directory))).prepare()
    path = directory / "pause.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def sqlite_db(tmp_path, sqlite_template) -> ServerDB:
    """A fresh SQLite file for the servers of one test (WAL, IMMEDIATE transactions:
    the settings' defaults)."""
    directory = tmp_path / "data"
    directory.mkdir()
    shutil.copyfile(sqlite_template, directory / "pause.sqlite3")
    return ServerDB(
        env=server_env(PAUSE_DATA_DIR=str(directory)), sqlite_path=directory / "pause.sqlite3"
    )


@contextlib.contextmanager
def redis_db():
    """A Redis database number in 5..15, flushed before and after; yields its URL."""
    import redis

    probe = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=2)
    try:
        probe.ping()
    except Exception as e:
        need_service("Redis", f"nothing answers on {REDIS_HOST}:{REDIS_PORT} ({e})")
    numbers = list(range(5, 16))
    random.shuffle(numbers)
    # Prefer a database nobody uses right now (other engineers run tests too).
    chosen = next(
        (n for n in numbers if redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=n).dbsize() == 0),
        numbers[0],
    )
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=chosen)
    client.flushdb()
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{chosen}"
    finally:
        with contextlib.suppress(Exception):
            client.flushdb()
        client.close()
        probe.close()


# --------------------------------------------------------------------------- daphne


@dataclass
class Server:
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, meeting_id: int) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/meetings/{meeting_id}/"

    def start(self) -> Server:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                str(BIN / "daphne"),
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--websocket-max-message-size",
                "16777216",  # as the Makefile: daphne's limit also caps what it sends
                "pause.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited ({self.proc.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            time.sleep(0.2)
        raise RuntimeError(f"daphne on {self.port} not ready in {timeout}s:\n{self.log_tail()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.log.close()

    def log_tail(self, n: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")
        return ""


class ServerPool:
    """Daphne processes started for a test or a module; ``stop_all`` kills them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[Server] = []

    def start(self, env: dict[str, str], n: int = 1, *, wait: bool = True) -> list[Server]:
        """Start ``n`` daphne processes on ``env``; with ``wait``, return once each
        answers /healthz."""
        new = [
            Server(env=env, log_path=self.directory / f"daphne-{len(self.started) + i}.log")
            for i in range(n)
        ]
        self.started.extend(new)
        for s in new:
            s.start()
        if wait:
            for s in new:
                s.wait_ready()
        return new

    def stop_all(self) -> None:
        for s in self.started:
            s.stop()


@pytest.fixture
def servers(tmp_path):
    """``servers(env, n)``: daphne processes killed at the end of the test."""
    pool = ServerPool(tmp_path)
    yield pool.start
    pool.stop_all()


# --------------------------------------------------------------------------- sockets


async def open_socket(url: str, cookie: str, after: int | None = None):
    """A raw socket and its welcome frame."""
    import asyncio

    from bench.pause_client import connect

    ws = await connect(url, cookie, after=after)
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 15))
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


async def answers(ws, refs, timeout: float = 60) -> dict[str, dict]:
    """Read ``ws`` until every ref in ``refs`` has its ack or error."""
    import asyncio

    want, got = set(refs), {}
    async with asyncio.timeout(timeout):
        while want - got.keys():
            frame = json.loads(await ws.recv())
            if frame["type"] in ("ack", "error") and frame.get("ref") in want:
                got[frame["ref"]] = frame
    return got
