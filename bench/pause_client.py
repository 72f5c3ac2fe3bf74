"""A command-line client of Pause's live protocol, written from docs/protocol.md alone.

    python -m bench.pause_client http://127.0.0.1:8000/rooms/1/meetings/2/ \\
        --email ada@example.org --password secret [--after N] [--post "text" --challenge ID]

It logs in through the account login form (or takes a ``--cookie`` header, e.g. a
guest's), opens the meeting's WebSocket with the server's ``Origin``, prints every frame
it receives as one JSON line on stdout, and sends each JSON line read from stdin as a
command (adding a ``ref`` when the line has none). After a dropped connection it
reconnects with ``?after=<last seq applied>`` and sends the still unanswered commands
again with the same ``ref``: the server answers a repeated ref without doing it twice.
Notes (reconnects, gaps, duplicates) go to stderr.

The load generator reuses ``login``, ``connect`` and ``Client``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import http.cookiejar
import json
import os
import random
import re
import sys
import threading
import uuid
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit
from urllib.request import HTTPCookieProcessor, ProxyHandler, Request, build_opener

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

LOGIN_PATH = "/accounts/login/"
# The server closes for good with one of these ``closing`` reasons: reconnecting would
# only be refused again.
FINAL_REASONS = frozenset({"logged_out", "removed", "forbidden", "meeting_deleted"})
MAX_FRAME = 16 * 1024 * 1024  # a snapshot of a big meeting is larger than websockets' 1 MiB


class LoginFailed(Exception):
    """The login form did not log us in (wrong password, unverified address, no CSRF)."""


class Refused(Exception):
    """The server refused the WebSocket handshake (not a participant, no such meeting,
    not logged in, or a foreign ``Origin``): HTTP 403."""


def site_root(url: str) -> str:
    """``http(s)://host:port`` of any page, ws or wss URL of the site."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def meeting_id_from(url: str) -> int:
    """The meeting id of a meeting page URL (``/rooms/1/meetings/2/``) or socket URL."""
    match = re.search(r"/meetings/(\d+)/?", urlsplit(url).path)
    if match is None:
        raise ValueError(f"no /meetings/<id>/ in {url!r}")
    return int(match.group(1))


def ws_url_for(url: str) -> str:
    """The meeting's socket URL, ``ws(s)://host/ws/meetings/<id>/``."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, f"/ws/meetings/{meeting_id_from(url)}/", "", ""))


def login(base_url: str, email: str, password: str, *, timeout: float = 10.0) -> str:
    """Log in through the account login form and return the ``Cookie`` header to send
    with the WebSocket handshake (session and CSRF cookies)."""
    root = site_root(base_url)
    login_url = root + LOGIN_PATH
    jar = http.cookiejar.CookieJar()
    opener = build_opener(ProxyHandler({}), HTTPCookieProcessor(jar))
    with opener.open(Request(login_url), timeout=timeout) as response:
        response.read()
    csrf = next((c.value for c in jar if c.name == "csrftoken"), None)
    if not csrf:
        raise LoginFailed(f"{login_url} set no csrftoken cookie (is it served over https?)")
    body = urlencode({"csrfmiddlewaretoken": csrf, "login": email, "password": password})
    request = Request(
        login_url,
        data=body.encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": login_url,
            "Origin": root,
        },
    )
    with opener.open(request, timeout=timeout) as response:
        response.read()
        landed = urlsplit(response.geturl()).path
    # Success redirects away from the account pages; a wrong password renders the form
    # again, an unverified address lands on the confirmation page.
    if landed.startswith("/accounts/"):
        raise LoginFailed(f"login as {email} failed (landed on {landed})")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


async def connect(
    ws_url: str, cookie: str | None, after: int | None = None, **kwargs
) -> ClientConnection:
    """Open a meeting socket: ``Origin`` set to the site, the cookie header, and
    ``?after=N`` to resume after seq N. Raises ``Refused`` on HTTP 403."""
    url = ws_url if after is None else f"{ws_url.split('?')[0]}?after={int(after)}"
    options = {
        "origin": site_root(ws_url),
        "additional_headers": {"Cookie": cookie} if cookie else {},
        "proxy": None,
        "max_size": MAX_FRAME,
        "compression": None,
        "open_timeout": 10,
    }
    options.update(kwargs)
    try:
        return await ws_connect(url, **options)
    except InvalidStatus as e:
        if e.response.status_code == 403:
            raise Refused(f"{url}: handshake refused (HTTP 403)") from e
        raise


def new_ref() -> str:
    return "cli-" + uuid.uuid4().hex[:16]


class Cursor:
    """The client's half of resume: the last seq applied and the verdict on each frame."""

    def __init__(self, seq: int | None = None) -> None:
        self.seq = seq

    def take(self, frame: dict) -> str:
        """``reset`` (new state), ``resumed``, ``apply``, ``duplicate``, ``gap`` or ``other``."""
        kind = frame.get("type")
        if kind in ("welcome", "resync"):
            self.seq = frame["seq"]
            return "resumed" if kind == "welcome" and frame.get("resumed") else "reset"
        if kind != "event":
            return "other"
        if self.seq is None or frame["seq"] > self.seq + 1:
            return "gap"
        if frame["seq"] <= self.seq:
            return "duplicate"
        self.seq = frame["seq"]
        return "apply"


def _note(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


class Client:
    """One participant's connection that survives drops: resumes from its cursor and
    re-sends unanswered commands with their ``ref``."""

    def __init__(
        self,
        ws_url: str | list[str],
        cookie: str | None,
        *,
        after: int | None = None,
        on_frame: Callable[[str, dict], None] | None = None,
        keep_frames: bool = True,
        give_up: float = 60.0,
        note: Callable[[str], None] = _note,
    ) -> None:
        # Several URLs (web processes behind no balancer): the next one after a failure.
        self.urls = [ws_url] if isinstance(ws_url, str) else list(ws_url)
        self.cookie = cookie
        self._url = 0
        self.cursor = Cursor(after)
        self.on_frame = on_frame
        self.keep_frames = keep_frames
        self.give_up = give_up
        self.note = note
        self.frames: list[dict] = []
        self.applied: list[dict] = []  # events applied, in seq order, each once
        self.pending: dict[str, dict] = {}  # ref → command not yet answered
        self.answers: dict[str, asyncio.Future] = {}
        self.connections = 0
        self.welcomed = asyncio.Event()
        self.final_reason: str | None = None
        self.ws: ClientConnection | None = None
        self._stopped = False
        self._new = asyncio.Event()
        self._sync_asked = False

    # ----------------------------------------------------------------- sending

    async def send(self, command: dict) -> str:
        """Send a command (a ``ref`` is added if missing); it is sent again after a
        reconnect until answered. Returns the ref."""
        command = dict(command)
        ref = command.setdefault("ref", new_ref())
        self.pending[ref] = command
        self.answers.setdefault(ref, asyncio.get_running_loop().create_future())
        await self._write(command)
        return ref

    async def request(self, command: dict, timeout: float = 10.0) -> dict:
        """Send a command and wait for its ``ack`` or ``error``."""
        ref = await self.send(command)
        return await asyncio.wait_for(asyncio.shield(self.answers[ref]), timeout)

    async def _write(self, frame: dict) -> None:
        if self.ws is None:
            return  # sent on the next connection
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(frame, ensure_ascii=False))

    # ----------------------------------------------------------------- receiving

    def _handle(self, text: str) -> None:
        frame = json.loads(text)
        verdict = self.cursor.take(frame)
        kind = frame.get("type")
        if verdict == "duplicate":
            self.note(f"duplicate seq {frame['seq']} dropped")
        elif verdict == "gap":
            self.note(f"gap: seq {frame['seq']} after {self.cursor.seq}; asking for a resync")
            if not self._sync_asked and self.ws is not None:
                self._sync_asked = True
                asyncio.get_running_loop().create_task(self._write({"type": "sync"}))
        elif verdict == "apply":
            self.applied.append(frame)
        elif verdict in ("reset", "resumed"):
            self._sync_asked = False
            if kind == "welcome":
                self.welcomed.set()
        if kind in ("ack", "error") and frame.get("ref") in self.pending:
            del self.pending[frame["ref"]]
            future = self.answers.get(frame["ref"])
            if future is not None and not future.done():
                future.set_result(frame)
        if kind == "closing" and frame.get("reason") in FINAL_REASONS:
            self.final_reason = frame["reason"]
        if self.keep_frames:
            self.frames.append(frame)
        self._new.set()
        if self.on_frame is not None:
            self.on_frame(text, frame)

    async def wait_for(self, pred: Callable[[dict], bool], timeout: float = 10.0, since=0):
        """The first kept frame from index ``since`` on that satisfies ``pred``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        i = since
        while True:
            while i < len(self.frames):
                if pred(self.frames[i]):
                    return self.frames[i]
                i += 1
            self._new.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no matching frame within {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), left)

    # ----------------------------------------------------------------- lifecycle

    async def run(self) -> None:
        """Connect, read until closed, reconnect after a drop; returns after ``stop()``
        or a final ``closing``. Raises ``Refused`` or ``TimeoutError`` (``give_up``)."""
        loop = asyncio.get_running_loop()
        delay = 0.25
        last_ok = loop.time()
        while not self._stopped:
            url = self.urls[self._url % len(self.urls)]
            try:
                ws = await connect(url, self.cookie, after=self.cursor.seq)
            except Refused:
                raise
            except (OSError, TimeoutError, InvalidHandshake) as e:
                self._url += 1
                if loop.time() - last_ok > self.give_up:
                    raise TimeoutError(f"no connection for {self.give_up}s: {e}") from e
                self.note(f"connect failed ({e.__class__.__name__}); retrying in {delay:.1f}s")
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 4.0)
                continue
            self.ws, delay = ws, 0.25
            self.connections += 1
            if self._stopped:
                await ws.close()
                break
            try:
                # A socket handles frames only once its welcome is sent, so these queue.
                for command in list(self.pending.values()):
                    await ws.send(json.dumps(command, ensure_ascii=False))
                async for text in ws:
                    self._handle(text)
            except ConnectionClosed:
                pass
            finally:
                self.ws = None
                last_ok = loop.time()
            if self.final_reason is not None or self._stopped:
                break
            self._url += 1
            self.note(f"connection lost; resuming after seq {self.cursor.seq}")
            await asyncio.sleep(random.uniform(0.05, 0.3))

    async def stop(self) -> None:
        self._stopped = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def drop(self) -> None:
        """Close the current socket as a network failure would; ``run`` reconnects."""
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close(code=4000, reason="client drop")


# --------------------------------------------------------------------------- command line


def _stdin_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
    for line in sys.stdin:
        loop.call_soon_threadsafe(queue.put_nowait, line)
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def _from_stdin(client: Client, queue: asyncio.Queue, linger: float) -> bool:
    """Send each JSON line as a command. Returns True at end of input if lines were sent
    and all got answered (the caller then exits), False if stdin had nothing."""
    refs: list[str] = []
    while (line := await queue.get()) is not None:
        line = line.strip()
        if not line:
            continue
        try:
            command = json.loads(line)
            if not isinstance(command, dict):
                raise ValueError("not an object")
        except ValueError as e:
            _note(f"not a JSON object, not sent: {e}")
            continue
        refs.append(await client.send(command))
    if not refs:
        return False
    await asyncio.gather(*(client.answers[r] for r in refs if r in client.answers))
    await asyncio.sleep(linger)
    return True


async def _main(args) -> int:
    ws_url = ws_url_for(args.url)
    if args.cookie:
        cookie = args.cookie
    else:
        password = args.password or os.environ.get("PAUSE_PASSWORD") or getpass.getpass()
        try:
            cookie = await asyncio.to_thread(login, args.url, args.email, password)
        except (LoginFailed, OSError) as e:
            _note(f"login failed: {e}")
            return 2

    def show(text: str, frame: dict) -> None:
        print(text, flush=True)

    client = Client(ws_url, cookie, after=args.after, on_frame=show, keep_frames=False)
    runner = asyncio.create_task(client.run())
    waiters: list[asyncio.Task] = [runner]
    status = 0
    if args.post is not None:

        async def post() -> int:
            await client.welcomed.wait()
            answer = await client.request(
                {
                    "type": "idea.post",
                    "challenge_id": args.challenge,
                    "kind": args.kind,
                    "text": args.post,
                    "anonymous": args.anonymous,
                },
                timeout=30,
            )
            await asyncio.sleep(args.linger)
            return 0 if answer["type"] == "ack" else 1

        waiters.append(asyncio.create_task(post()))
    if not args.no_stdin:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        threading.Thread(target=_stdin_lines, args=(loop, queue), daemon=True).start()
        waiters.append(asyncio.create_task(_from_stdin(client, queue, args.linger)))
    if args.duration:
        waiters.append(asyncio.create_task(asyncio.sleep(args.duration)))
    try:
        while True:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            task = done.pop()
            waiters.remove(task)
            if task is runner:
                task.result()  # Refused / TimeoutError propagate
                status = 3 if client.final_reason else status
                break
            result = task.result()
            if result is False:  # stdin was empty: keep listening
                continue
            if type(result) is int:  # the --post answer (True: stdin done)
                status = result
            break
    except Refused as e:
        _note(str(e))
        return 2
    except TimeoutError as e:
        _note(str(e))
        return 4
    finally:
        await client.stop()
        for task in waiters:
            task.cancel()
        with contextlib.suppress(BaseException):
            await runner
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pause_client",
        description="Join a Pause meeting and print its live frames as JSON lines.",
    )
    parser.add_argument(
        "url", help="the meeting page, e.g. http://127.0.0.1:8000/rooms/1/meetings/2/"
    )
    parser.add_argument("--email", help="account email (login through the login form)")
    parser.add_argument("--password", help="account password (or PAUSE_PASSWORD, or a prompt)")
    parser.add_argument("--cookie", help="a Cookie header to use instead of logging in")
    parser.add_argument("--after", type=int, help="resume after this seq (no snapshot)")
    parser.add_argument("--post", help="post this idea once connected, then exit")
    parser.add_argument("--challenge", type=int, help="the challenge id for --post")
    parser.add_argument("--kind", choices=("idea", "question"), default="idea")
    parser.add_argument("--anonymous", action="store_true", help="post anonymously")
    parser.add_argument("--duration", type=float, help="exit after this many seconds")
    parser.add_argument(
        "--linger", type=float, default=0.5, help="seconds to keep printing after the last answer"
    )
    parser.add_argument("--no-stdin", action="store_true", help="do not read commands from stdin")
    args = parser.parse_args(argv)
    if not args.cookie and not args.email:
        parser.error("give --email (and --password) or --cookie")
    if args.post is not None and args.challenge is None:
        parser.error("--post needs --challenge")
    try:
        return asyncio.run(_main(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
