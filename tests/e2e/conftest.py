"""Browser tests: a real daphne process serving the app, headless Chromium driven by
Playwright's sync API.

The server is one session-scoped ``DaphneProcess`` (forked from this process, so it
shares the settings overridden here) on the file-based SQLite test database; tests use
``django_db(transaction=True)`` so what they write is committed and seen by the server.
``LiveServer.restart()`` kills the process and starts a new one on the same port, which is
how the reconnect test simulates a crash.

Run them in their own pytest invocation (``pytest tests/e2e``): Playwright's sync API and
the asyncio tests of tests/live clash over the event loop in one process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the
# tests are still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from django.conf import settings
from django.test import Client
from django.test.utils import override_settings

from tests.conftest import IN_CI, need_service

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PAUSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


# --------------------------------------------------------------------------- the board build


def _board_manifest() -> Path:
    return Path(settings.FRONTEND_DIST) / ".vite" / "manifest.json"


def _build_is_stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    frontend = ROOT / "frontend"
    sources = [frontend / "package-lock.json", frontend / "vite.config.ts"]
    sources += [p for p in (frontend / "src").rglob("*") if p.is_file()]
    return any(p.exists() and p.stat().st_mtime > built for p in sources)


@pytest.fixture(scope="session")
def board_build():
    """The board's production build (frontend/dist), (re)built here when it is missing or
    older than its sources."""
    manifest = _board_manifest()
    if not _build_is_stale(manifest):
        return manifest
    npm = shutil.which("npm")
    if npm is None:
        if manifest.exists():
            return manifest
        need_service("npm", "install Node 20+ and run `make frontend` to build the board")
    frontend = ROOT / "frontend"
    if not (frontend / "node_modules").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=frontend, check=True)
    subprocess.run([npm, "run", "-s", "build"], cwd=frontend, check=True)
    return manifest


# --------------------------------------------------------------------------- the server


def _server_setup() -> None:
    """Runs in the forked daphne process before it serves."""
    from channels.testing.live import set_database_connection
    from django.db import connections

    set_database_connection()
    # The fork copied this process's open database connections: drop them, so the server
    # opens its own (a shared SQLite handle would serve it stale snapshots).
    connections.close_all()
    # Only this process needs the async-unsafe escape hatch (Playwright's loop); the server
    # must run as in production, where ORM calls from async code raise.
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


class LiveServer:
    """A daphne process on 127.0.0.1 that can be killed and started again on its port."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.process = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        from channels.testing.live import make_application
        from daphne.testing import DaphneProcess
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
        from django.db import connections

        connections.close_all()
        self.process = DaphneProcess(
            host=self.host,
            get_application=partial(make_application, static_wrapper=ASGIStaticFilesHandler),
            setup=_server_setup,
            port=self.port,
        )
        self.process.start()
        deadline = time.monotonic() + 20
        while not self.process.ready.wait(timeout=0.5):
            if not self.process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("daphne did not start") from None
        self.port = self.process.port.value

    def kill(self) -> None:
        """SIGKILL: no close frames, the browser sees the connection drop."""
        if self.process is not None:
            self.process.kill()
            self.process.join(5)
            self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        self.kill()
        time.sleep(down_for)
        self.start()


@pytest.fixture(scope="session")
def board_server(django_db_setup, django_db_blocker, board_build):
    """The app served by daphne over http on 127.0.0.1 (cookies without Secure)."""
    dirs = list(settings.STATICFILES_DIRS)
    if ("board", settings.FRONTEND_DIST) not in dirs:
        dirs.append(("board", settings.FRONTEND_DIST))
    overrides = override_settings(
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        SECURE_SSL_REDIRECT=False,
        SECURE_HSTS_SECONDS=0,
        STATICFILES_DIRS=dirs,
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    )
    overrides.enable()
    server = LiveServer()
    try:
        with django_db_blocker.unblock():
            server.start()
            yield server
    finally:
        server.kill()
        overrides.disable()


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        need_service(
            "Chromium",
            f"{CHROMIUM} is missing: `apt-get install -y chromium` (or set PAUSE_CHROMIUM)",
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        need_service("playwright", "pip install playwright (see requirements.txt)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def session_cookie(user, server: LiveServer) -> dict:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return {"name": name, "value": client.cookies[name].value, "url": server.url}


@pytest.fixture
def open_page(browser, board_server):
    """open_page(user, path, width=1280) → a Playwright page logged in as ``user``."""
    contexts = []

    def open_(user, path: str, *, width: int = 1280, height: int = 900, scheme="light"):
        context = browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme=scheme,
            locale="en-US",
            reduced_motion="reduce",
        )
        contexts.append(context)
        if user is not None:
            context.add_cookies([session_cookie(user, board_server)])
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.goto(board_server.url + path)
        return page

    yield open_
    for context in contexts:
        context.close()


def off_loop(fn, *args, **kwargs):
    """Run ``fn`` in a worker thread: services publish to the channel layer with
    async_to_sync, which refuses to run in this thread while Playwright's loop runs in it.
    (Nobody listens in this process; the daphne process reads the events from the log.)"""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


@pytest.fixture
def live_meeting(db, room_factory, member_factory, meeting_factory, user_factory):
    """A live open-format meeting with a facilitator (A, room owner), a member (B) and one
    challenge, in the ideas phase."""
    from rooms import services
    from rooms.models import Role

    a = user_factory(display_name="Ada Facilitator", language="en")
    room = room_factory(owner=a, name="Makers")
    b = member_factory(room, Role.MEMBER, display_name="Bea Member", language="en")
    meeting = meeting_factory(room=room, title="Monday Pause", format="open")

    def setup():
        pa = services.participant_join(meeting=meeting, user=a)
        services.participant_join(meeting=meeting, user=b)
        challenge = services.challenge_post(
            actor=pa, title="Find my first customers", ask="Where do I start prospecting?"
        ).result["id"]
        services.meeting_start(actor=pa)
        services.phase_set(actor=pa, phase="ideas")
        return challenge

    challenge = off_loop(setup)
    meeting.refresh_from_db()
    return {"a": a, "b": b, "room": room, "meeting": meeting, "challenge_id": challenge}


def meeting_path(meeting) -> str:
    from django.urls import reverse

    return reverse("rooms:meeting", args=[meeting.room_id, meeting.pk])


def wait_live(page, timeout: float = 10_000) -> None:
    live = page.locator('.board-status[data-status="live"] >> visible=true')
    live.first.wait_for(timeout=timeout)


def screenshot_board(page, name: str) -> Path:
    """Save the board (scrolled to its top) as docs/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate(
        "() => { const b = document.getElementById('board');"
        " const h = document.querySelector('.site-header');"
        " const top = b.getBoundingClientRect().top + window.scrollY;"
        " window.scrollTo(0, top - (h ? h.offsetHeight : 0) - 12); }"
    )
    page.wait_for_timeout(150)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


__all__ = ["IN_CI", "meeting_path", "screenshot_board", "wait_live"]
