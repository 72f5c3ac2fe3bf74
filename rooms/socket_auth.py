"""Who opens a meeting socket: its cookies, and the user its session cookie is logged in as.

Channels' ``AuthMiddlewareStack`` loads the session and then the user on Channels' single
database thread (two thread hops and two queries per handshake, every handshake of the
process in one line) and keeps the session and the user object in the scope for the
socket's whole life. A meeting socket needs the user only to authorize its handshake, so
``SocketCookieMiddleware`` only parses the cookies, and ``session_user`` resolves the
session inside ``rooms.selectors.connection_authorize``'s own database call, next to the
participant, its role and the meeting.

``session_user`` decides what ``django.contrib.auth.get_user`` decides for a request
carrying the same cookie: an unexpired session with a user id and a configured backend,
the user that backend returns (an inactive user is refused), and the session's hash of
the password (with the ``SECRET_KEY_FALLBACKS``). It changes nothing: the next page the
browser loads flushes or cycles that session as ``get_user`` does.
"""

from __future__ import annotations

import functools
from importlib import import_module

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.http.cookie import parse_cookie
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from rooms import sql as plain


class SocketCookieMiddleware:
    """Put the handshake's cookies in ``scope["cookies"]`` (as Channels'
    ``CookieMiddleware``) and the session cookie in ``scope["session_key"]``; no query."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, scope, receive, send):
        # Not a coroutine: it hands back the inner application's, so an open socket does
        # not keep a frame of this middleware alive.
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookies.update(parse_cookie(value.decode("latin-1")))
        scope = {**scope, "cookies": cookies}
        scope["session_key"] = cookies.get(settings.SESSION_COOKIE_NAME) or None
        return self.inner(scope, receive, send)


DB_ENGINE = "django.contrib.sessions.backends.db"


@functools.cache
def _session_sql(many: bool = False) -> str:
    """The read of an unexpired session's data by its key; ``many``: of the sessions of
    an array of keys, each row with its key first."""
    model = import_module(DB_ENGINE).SessionStore.get_model_class()
    meta, q = model._meta, connection.ops.quote_name
    data, key, expires = (
        q(meta.get_field(n).column) for n in ("session_data", "session_key", "expire_date")
    )
    columns, match = (f"{key}, {data}", "= ANY(%s)") if many else (data, "= %s")
    return f"SELECT {columns} FROM {q(meta.db_table)} WHERE {key} {match} AND {expires} > %s"  # noqa: S608


def _session_data(session_key: str) -> dict:
    """The session's data, as ``SessionStore.load`` reads it ({} if missing or expired),
    with the database engine in plain SQL: this runs for every handshake."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if settings.SESSION_ENGINE != DB_ENGINE:
        store = store_class(session_key)
        return {k: store.get(k) for k in (SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY)}
    if len(session_key) < 8:  # SessionBase._validate_session_key
        return {}
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    (rows,) = plain.script([(_session_sql(), [session_key, now])], prepared=True)
    return store_class().decode(rows[0][0]) if rows else {}


def batched_sessions() -> bool:
    """Whether ``session_logins`` reads its sessions in one statement (PostgreSQL and the
    database session engine); else it reads them one by one."""
    return connection.vendor == "postgresql" and settings.SESSION_ENGINE == DB_ENGINE


def session_logins(session_keys: list[str]) -> dict[str, tuple[object, int, str] | None]:
    """``session_login`` of each of ``session_keys``, for the connects of a busy moment:
    one statement for them all where ``batched_sessions``."""
    if not batched_sessions():
        return {key: session_login(key) for key in session_keys}
    keys = [key for key in set(session_keys) if key and len(key) >= 8]
    found: dict = {}
    if keys:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        (rows,) = plain.script([(_session_sql(many=True), [keys, now])], prepared=True)
        store = import_module(DB_ENGINE).SessionStore()
        found = {key: store.decode(data) for key, data in rows}
    return {key: _login(found.get(key) or {}) for key in session_keys}


def session_login(session_key: str | None) -> tuple[object, int, str] | None:
    """The ``(backend, user id, password hash)`` an unexpired session is logged in with,
    or None. One query with the database session engine."""
    if not session_key:
        return None
    return _login(_session_data(session_key))


def _login(session: dict) -> tuple[object, int, str] | None:
    raw_id, backend_path = session.get(SESSION_KEY), session.get(BACKEND_SESSION_KEY)
    if raw_id is None or backend_path is None:
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    try:
        user_id = get_user_model()._meta.pk.to_python(raw_id)
    except Exception:
        return None
    return load_backend(backend_path), user_id, session.get(HASH_SESSION_KEY) or ""


def login_holds(login: tuple[object, int, str], user) -> bool:
    """Whether ``user`` (loaded by the caller, e.g. joined to the participant row) is one
    the session's backend accepts and the session's password hash still matches."""
    backend, user_id, session_hash = login
    if user is None or user.pk != user_id:
        return False
    if isinstance(backend, ModelBackend):
        if not backend.user_can_authenticate(user):
            return False
    elif backend.get_user(user_id) is None:
        return False
    if not hasattr(user, "get_session_auth_hash"):
        return True
    if not session_hash:
        return False
    if constant_time_compare(session_hash, user.get_session_auth_hash()):
        return True
    return any(
        constant_time_compare(session_hash, h) for h in user.get_session_auth_fallback_hash()
    )


def session_user(session_key: str | None):
    """The user logged in with ``session_key``, or None (as ``get_user`` decides)."""
    login = session_login(session_key)
    if login is None:
        return None
    backend, user_id, _ = login
    user = backend.get_user(user_id)
    return user if login_holds(login, user) else None
