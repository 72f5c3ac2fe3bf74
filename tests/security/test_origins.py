"""WebSocket handshakes from anywhere but the site's own origin are refused before accept.

A browser sends a member's cookies with a WebSocket handshake whatever page opens it, so
the Origin check is what stops another site (or another program on the same host, on
another port) from opening the member's board. Each handshake below carries a logged-in
member's session cookie, so only the origin can refuse it; a same-origin handshake of the
same member is accepted (the positive control).
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from tests.live.conftest import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

PORT = 8123
SITE = f"http://127.0.0.1:{PORT}"
HOST = (b"host", f"127.0.0.1:{PORT}".encode())

# Refused whatever the Host header: not an origin of this site at all.
FOREIGN = {
    "foreign site": "https://evil.example",
    "null (sandboxed frame, file:, data:)": "null",
    "empty": "",
    "look-alike: 127.0.0.1.evil.example": "http://127.0.0.1.evil.example",
    "look-alike: 127.0.0.1.evil.example with port": f"http://127.0.0.1.evil.example:{PORT}",
    "look-alike: evil-127.0.0.1": "http://evil-127.0.0.1",
    "look-alike: localhost.evil": "http://localhost.evil",
    "look-alike: localhost.evil with port": f"http://localhost.evil:{PORT}",
    "look-alike: evil127.0.0.1": "http://evil127.0.0.1",
    "look-alike: 127.0.0.1 as a subdomain": "http://a.127.0.0.1",
    "look-alike: trailing dot": "http://127.0.0.1.",
    "look-alike: user info": "http://127.0.0.1@evil.example",
    "not http: file": "file://127.0.0.1",
    "not http: chrome-extension": "chrome-extension://abcdefghijklmnop",
    "not an origin: javascript": "javascript:alert(1)",
    "bad port": "http://127.0.0.1:99999",
}
# Refused when the handshake says which host it reached (as every browser does):
# same host name, another origin (RFC 6454: scheme, host and port).
SAME_HOST_OTHER_ORIGIN = {
    "scheme: https": f"https://127.0.0.1:{PORT}",
    "scheme: ws": f"ws://127.0.0.1:{PORT}",
    "port: another program on the host": "http://127.0.0.1:9999",
    "port: default 80": "http://127.0.0.1",
    "port: https default": "https://127.0.0.1",
    "another allowed name": f"http://localhost:{PORT}",
    "user info": f"http://user@127.0.0.1:{PORT}",
    "a path": f"{SITE}/rooms/",
}


@pytest.fixture
async def member_and_meeting(live_meeting):
    meeting, people = await sync_to_async(live_meeting)()
    cookie = (b"cookie", await sync_to_async(session_cookie)(people["a"]))
    return meeting, cookie


async def _handshake(connect, meeting, headers) -> bool:
    """True when the socket was accepted or any frame was sent."""
    sock = await connect(None, meeting, headers=headers, expect_welcome=False)
    if sock.connected:
        return True
    return not sock.c.output_queue.empty() and any(
        m.get("type") == "websocket.send" for m in list(sock.c.output_queue._queue)
    )


def _origin(value: str | None):
    return [] if value is None else [(b"origin", value.encode())]


async def test_foreign_origins_are_refused_before_accept(connect, member_and_meeting, tally):
    """A foreign, missing, ``null`` or look-alike Origin is refused: no accept, no
    welcome; with and without a Host header."""
    meeting, cookie = member_and_meeting
    cases = {"no Origin header": None, **FOREIGN}
    accepted = []
    tried = 0
    for host in ([HOST], []):
        for name, origin in cases.items():
            tried += 1
            if await _handshake(connect, meeting, [*host, *_origin(origin), cookie]):
                accepted.append(f"{name} ({'with' if host else 'without'} Host)")
    tally.add(
        "WebSocket handshakes from foreign or look-alike origins", tried - len(accepted), tried
    )
    assert accepted == []


async def test_same_host_other_origin_is_refused(connect, member_and_meeting, tally):
    """Another scheme, another port, another host name of the same server, user info or
    a path: not the page's own origin, refused before accept."""
    meeting, cookie = member_and_meeting
    accepted = [
        name
        for name, origin in SAME_HOST_OTHER_ORIGIN.items()
        if await _handshake(connect, meeting, [HOST, *_origin(origin), cookie])
    ]
    two = [HOST, *_origin(SITE), *_origin("https://evil.example"), cookie]
    if await _handshake(connect, meeting, two):
        accepted.append("two Origin headers")
    tried = len(SAME_HOST_OTHER_ORIGIN) + 1
    tally.add(
        "WebSocket handshakes from the same host, another origin", tried - len(accepted), tried
    )
    assert accepted == []


async def test_the_sites_own_origin_is_accepted(connect, member_and_meeting):
    """The member's own page (Origin = scheme://Host) gets the socket and its welcome."""
    meeting, cookie = member_and_meeting
    sock = await connect(None, meeting, headers=[HOST, *_origin(SITE), cookie])
    assert sock.connected
    assert sock.welcome["type"] == "welcome"
    await sock.close()


async def test_behind_a_tls_proxy_only_the_https_origin_is_accepted(
    connect, member_and_meeting, settings, tally
):
    """Behind the HTTPS proxy (X-Forwarded-Proto: https), the page's origin is
    ``https://<host>``: the http origin of the same host and a subdomain are refused."""
    settings.ALLOWED_HOSTS = ["pause.example.org"]
    meeting, cookie = member_and_meeting
    proxy = [(b"host", b"pause.example.org"), (b"x-forwarded-proto", b"https")]
    refused_origins = [
        "http://pause.example.org",
        "https://pause.example.org:8443",
        "https://evil.pause.example.org",
        "https://pause.example.org.evil.example",
    ]
    accepted = [
        o
        for o in refused_origins
        if await _handshake(connect, meeting, [*proxy, *_origin(o), cookie])
    ]
    tally.add(
        "WebSocket handshakes behind the TLS proxy",
        len(refused_origins) - len(accepted),
        len(refused_origins),
    )
    assert accepted == []
    sock = await connect(
        None, meeting, headers=[*proxy, *_origin("https://pause.example.org"), cookie]
    )
    assert sock.connected and sock.welcome["type"] == "welcome"
    await sock.close()


async def test_a_trusted_origin_is_accepted(connect, member_and_meeting, settings):
    """An origin listed in DJANGO_CSRF_TRUSTED_ORIGINS may open the socket, as it may post
    forms; nothing else is added by it."""
    settings.CSRF_TRUSTED_ORIGINS = ["https://board.example.org"]
    meeting, cookie = member_and_meeting
    ok = await connect(None, meeting, headers=[HOST, *_origin("https://board.example.org"), cookie])
    assert ok.connected
    await ok.close()
    assert not await _handshake(
        connect, meeting, [HOST, *_origin("https://other.example.org"), cookie]
    )
