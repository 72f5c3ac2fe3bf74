"""The processes a benchmark run needs: a scratch PostgreSQL database or SQLite directory,
a private Redis, and the web servers under test (daphne, uvicorn, the bare ceiling).

Everything listens on 127.0.0.1 on a free port, and ``Stack.close()`` stops exactly the
processes it started.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
WORK_DIR = ROOT / "var" / "bench"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# Where the application under test runs from: by default a copy of the last commit
# (``export_head``), so other people's uncommitted work in the shared tree is not measured.
APP = {"dir": ROOT}


def export_head() -> tuple[Path, str]:
    """A copy of the files of ``HEAD`` (``git archive``) and its short commit id."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    tree = WORK_DIR / f"tree-{commit}"
    if not (tree / "manage.py").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree, commit


# One secret for the whole run: the seeded sessions are signed with it, and the session
# hash of each user (``get_session_auth_hash``) is an HMAC keyed by it.
SECRET_KEY = "bench-" + secrets.token_hex(24)

# How each server is started; ``{port}`` is filled in. The Pause servers get the
# message-size limit production uses.
COMMANDS = {
    "daphne": [
        str(VENV_BIN / "daphne"),
        "-b",
        "127.0.0.1",
        "-p",
        "{port}",
        "--websocket-max-message-size",
        "65536",
        "pause.asgi:application",
    ],
    "uvicorn": [
        str(VENV_BIN / "uvicorn"),
        "pause.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--ws",
        "websockets",
        "--ws-max-size",
        "65536",
        "--ws-per-message-deflate",
        "false",
        "--log-level",
        "warning",
        "--no-access-log",
    ],
    "uvicorn-sansio": [
        str(VENV_BIN / "uvicorn"),
        "pause.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--ws",
        "websockets-sansio",
        "--ws-max-size",
        "65536",
        "--ws-per-message-deflate",
        "false",
        "--log-level",
        "warning",
        "--no-access-log",
    ],
    "bare": [sys.executable, "-m", "bench.bare_server", "--port", "{port}"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Database:
    """A scratch database: ``postgres`` (a fresh database) or ``sqlite`` (a fresh file)."""

    kind: str
    env: dict = field(default_factory=dict)
    name: str = ""
    path: Path | None = None

    @classmethod
    def create(cls, kind: str, workdir: Path) -> Database:
        if kind == "postgres":
            import psycopg

            name = f"pause_bench_{os.getpid()}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                conn.execute(f'CREATE DATABASE "{name}"')
            db = cls(kind, {"DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}"}, name)
        else:
            path = workdir / "sqlite"
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            db = cls(kind, {"PAUSE_DATA_DIR": str(path)}, path=path)
        env = {**os.environ, **db.env, "DJANGO_DEBUG": "true", "DJANGO_SETTINGS_MODULE": ""}
        env.pop("DJANGO_SETTINGS_MODULE")
        env.pop("REDIS_URL", None)
        for args in (["migrate", "-v0"], ["createcachetable"]):
            subprocess.run(
                [sys.executable, "manage.py", *args],
                cwd=APP["dir"],
                env=env,
                check=True,
                timeout=300,
            )
        return db

    def drop(self) -> None:
        if self.kind == "postgres" and self.name:
            import psycopg

            with (
                contextlib.suppress(Exception),
                psycopg.connect(PG_ADMIN, autocommit=True) as conn,
            ):
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        elif self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)


class Redis:
    """A private redis-server (no persistence): other engineers' tests use the shared
    one, and channel-layer group names would collide there."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        stop(self.proc)


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# Seconds Django keeps a database connection (``DJANGO_CONN_MAX_AGE``, 0 as in
# production); ``bench.run`` sets it from ``--conn-max-age``.
CONN_MAX_AGE = {"value": "0"}


def pause_env(db: Database, redis_url: str | None) -> dict:
    """The environment of a benchmark web server: production settings (DEBUG off) over
    plain http on loopback, and a per-socket rate limit high enough for the load."""
    env = {
        **os.environ,
        **db.env,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_HSTS_SECONDS": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PAUSE_MANIFEST_STATIC": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "PAUSE_RATE_LIMIT_PER_SECOND": "1000",
        "PAUSE_RATE_LIMIT_BURST": "1000",
        "DJANGO_CONN_MAX_AGE": CONN_MAX_AGE["value"],
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


class Server:
    """One web server process under test."""

    def __init__(self, kind: str, env: dict | None = None, extra: list[str] | None = None):
        self.kind = kind
        self.port = free_port()
        cmd = [a.replace("{port}", str(self.port)) for a in COMMANDS[kind]] + (extra or [])
        self.log = open(WORK_DIR / f"{kind}-{self.port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, cwd=APP["dir"], env=env or dict(os.environ), stdout=self.log, stderr=self.log
        )
        try:
            wait_port(self.port)
            if kind != "bare":
                self._ready()
        except BaseException:
            stop(self.proc)  # a server that never came up is not left running
            self.log.close()
            raise
        self.ps = psutil.Process(self.proc.pid)

    def _ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(Exception),
                urllib.request.urlopen(f"{self.http}/healthz", timeout=5) as r,
            ):
                if r.status == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{self.kind} on {self.port} never answered /healthz")

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _procs(self) -> list[psutil.Process]:
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.Error:
            return []

    def cpu(self) -> float:
        total = 0.0
        for p in self._procs():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def rss(self) -> int:
        total = 0
        for p in self._procs():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def close(self) -> None:
        stop(self.proc)
        self.log.close()
