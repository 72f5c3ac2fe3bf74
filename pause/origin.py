"""The WebSocket origin check: a handshake is accepted only from the site's own origin.

Browsers send cookies with a WebSocket handshake whatever page opens it, and the
same-origin policy does not apply to WebSockets, so the server must check ``Origin``
itself. Channels' ``AllowedHostsOriginValidator`` only compares the origin's *host name*
with ``ALLOWED_HOSTS``: any scheme and any port pass, so a page served by another program
on the same host (``http://127.0.0.1:9999``, ``http://pause.example.org:8080``) could
open a member's socket with the member's cookies (cookies are not bound to a port).

This validator applies the rule Django's CSRF check applies to a POST's ``Origin``
(``CsrfViewMiddleware._origin_verified``): the origin must be exactly
``<scheme>://<Host header>``, with the scheme the request arrived with (``https`` when
``SECURE_PROXY_SSL_HEADER`` says so), the host in ``ALLOWED_HOSTS``; or one of
``CSRF_TRUSTED_ORIGINS``. A missing, ``null`` or repeated ``Origin`` is refused.

Real servers always see a ``Host`` header (RFC 6455 requires it; daphne's autobahn fails
a handshake without one). Only an in-process ASGI call without ``Host`` (channels'
``WebsocketCommunicator`` in tests) falls back to the host-name check of channels.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _header(scope, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == name]


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def _secure(scope) -> bool:
    """The request came over TLS, as ``HttpRequest.is_secure`` would say."""
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, value = proxy
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        seen = _header(scope, header)
        if seen:
            return seen[0].split(",")[0].strip() == value
    return scope.get("scheme") in ("wss", "https")


def _trusted(origin: str) -> bool:
    """``origin`` is one of CSRF_TRUSTED_ORIGINS (``https://*.example.org`` patterns too)."""
    trusted = getattr(settings, "CSRF_TRUSTED_ORIGINS", [])
    if origin in trusted:
        return True
    parts = urlsplit(origin)
    for pattern in trusted:
        if "://*." not in pattern:
            continue
        p = urlsplit(pattern)
        if p.scheme == parts.scheme and is_same_domain(parts.netloc, p.netloc.lstrip("*")):
            return True
    return False


def origin_allowed(scope) -> bool:
    """Whether this WebSocket handshake comes from a page of the site itself."""
    origins = _header(scope, b"origin")
    if len(origins) != 1:
        return False
    origin = origins[0].strip().lower()
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return False
    # A browser's Origin is scheme://host[:port] and nothing else ("null" has no host).
    if (
        parts.scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.path
        or parts.query
        or parts.fragment
    ):
        return False
    if _trusted(origin):
        return True
    hosts = _header(scope, b"host")
    if len(hosts) > 1:
        return False
    if not hosts:
        # In-process calls only (see the module docstring): channels' host-name check.
        return OriginValidator(None, _allowed_hosts()).validate_origin(parts)
    host = hosts[0].strip().lower()
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return False
    scheme = "https" if _secure(scope) else "http"
    return origin == f"{scheme}://{host}"


class SameOriginValidator:
    """ASGI middleware: refuse (HTTP 403, before accept) a WebSocket handshake whose
    ``Origin`` is not the site's own."""

    def __init__(self, application):
        self.application = application

    def __call__(self, scope, receive, send):
        # Not a coroutine: it hands back the inner application's, so an open socket does
        # not keep a frame of this middleware alive.
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator only guards WebSocket connections")
        if origin_allowed(scope):
            return self.application(scope, receive, send)
        return WebsocketDenier()(scope, receive, send)
