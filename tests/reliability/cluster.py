"""Real processes for the fault tests: a Redis of their own, a PostgreSQL database of
their own, several daphne web processes, and a Django helper process that sets up a
meeting and reads the database's truth.

Everything here is started by a test and stopped by it (``Cluster.stop`` kills every
process it started, by pid). Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("PAUSE_TEST_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/postgres")


def timeout_s(default: int) -> int:
    """A test's time limit; the soak (tests/reliability/soak.sh) raises it."""
    return int(os.environ.get("PAUSE_RELIABILITY_TIMEOUT", default))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except Exception:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


def redis_available() -> bool:
    return subprocess.run(["which", "redis-server"], capture_output=True).returncode == 0


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(_libpq(PG_ADMIN_URL), connect_timeout=3):
            return True
    except Exception:
        return False


def _libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


class RedisServer:
    """A redis-server on its own port, without persistence, that a test can restart.

    Pub/sub is not separated by database number, so two deployments (or two test runs)
    sharing one Redis would hear each other's meetings: a server of its own avoids it."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log = log_dir / f"redis-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
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
                "--logfile",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.ping, 10, what="redis-server up")

    def ping(self) -> bool:
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart(self, down_for: float = 0.0) -> None:
        self.kill()
        time.sleep(down_for)
        self.start()


class PostgresDatabase:
    """A database of its own on the shared PostgreSQL server, dropped and created anew;
    ``settings``: its defaults for every session (``ALTER DATABASE … SET``)."""

    def __init__(self, name: str, settings: dict[str, str] | None = None) -> None:
        self.name = name
        self.settings = dict(settings or {})

    @property
    def url(self) -> str:
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        return f"{base}/{self.name}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
            conn.execute(sql)

    def create(self) -> None:
        self.drop()
        self._admin(f'CREATE DATABASE "{self.name}"')
        for key, value in self.settings.items():
            self._admin(f'ALTER DATABASE "{self.name}" SET {key} = {value}')

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Process:
    """A child process with its own process group, so a kill takes its children too."""

    def __init__(self, args: list[str], env: dict, log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        if self.proc is None:
            return
        self.signal(signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait(10)


class Web(Process):
    """One web process of Pause: daphne (the development server), or uvicorn with the
    WebSocket options docker-compose.yml gives it."""

    def __init__(
        self, env: dict, log_dir: Path, max_message: int = 65536, server: str = "daphne"
    ) -> None:
        self.port = free_port()
        self.server = server
        commands = {
            "daphne": [
                str(VENV_BIN / "daphne"),
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--websocket-max-message-size",
                str(max_message),
                "pause.asgi:application",
            ],
            "uvicorn": [
                str(VENV_BIN / "uvicorn"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ws",
                "websockets-sansio",
                "--ws-per-message-deflate",
                "false",
                "--ws-max-size",
                str(max_message),
                "pause.asgi:application",
            ],
        }
        super().__init__(commands[server], env, log_dir / f"{server}-{self.port}.log")
        self.started_at = 0.0
        self.ready = False

    def start(self) -> None:
        self.ready = False
        super().start()
        self.started_at = time.monotonic()

    def healthy(self) -> bool:
        if not self.alive:
            return False
        url = f"http://127.0.0.1:{self.port}/healthz"
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200

    def wait_ready(self, timeout: float = 60) -> None:
        wait_until(self.healthy, timeout, 0.1, what=f"{self.server} on port {self.port}")
        self.ready = True


class Helper:
    """``tests/reliability/scenario.py`` as a long-lived child: Django set up once,
    answering one JSON request per line (set up a meeting, read snapshots)."""

    def __init__(self, env: dict, log_dir: Path) -> None:
        self.log = log_dir / "helper.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.scenario"],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.log, "ab"),
            text=True,
            bufsize=1,
        )

    def call(self, op: str, **args) -> dict:
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"scenario helper died; see {self.log}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Cluster:
    """PostgreSQL database + Redis + ``n`` web processes (daphne unless ``server``
    says) + the helper."""

    def __init__(
        self,
        tmp: Path,
        *,
        db_name: str,
        webs: int = 2,
        extra_env=None,
        max_message=65536,
        server: str = "daphne",
        db_settings: dict[str, str] | None = None,
    ) -> None:
        self.max_message = max_message
        self.server = server
        self.tmp = tmp
        self.redis = RedisServer(tmp)
        self.db = PostgresDatabase(db_name, db_settings)
        self.extra_env = dict(extra_env or {})
        self.n_webs = webs
        self.webs: list[Web] = []
        self.helper: Helper | None = None

    def env(self) -> dict:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "PYTEST", "PAUSE_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="pause.settings",
            DJANGO_SECRET_KEY="reliability-test-secret-key-not-for-production-4b2e",
            DJANGO_DEBUG="false",
            DJANGO_SECURE_SSL_REDIRECT="false",
            DJANGO_SECURE_COOKIES="false",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_LOG_LEVEL="WARNING",
            DATABASE_URL=self.db.url,
            REDIS_URL=self.redis.url,
            PAUSE_MANIFEST_STATIC="false",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        self.redis.start()
        self.db.create()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"],
            env=self.env(),
            cwd=ROOT,
            check=True,
            timeout=300,
        )
        self.helper = Helper(self.env(), self.tmp)
        self.webs = [
            Web(self.env(), self.tmp, self.max_message, self.server) for _ in range(self.n_webs)
        ]
        for web in self.webs:
            web.start()
        for web in self.webs:
            web.wait_ready()

    def ports(self) -> list[int]:
        return [w.port for w in self.webs if w.alive]

    def stop(self) -> None:
        for web in self.webs:
            web.kill()
        if self.helper is not None:
            self.helper.stop()
        self.redis.kill()
        with contextlib.suppress(Exception):
            self.db.drop()
