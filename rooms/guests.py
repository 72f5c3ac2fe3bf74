"""A guest's identity in a meeting: a random key kept in a signed cookie, so a reload in
the same browser is the same guest (no account, one meeting)."""

from __future__ import annotations

import uuid

from django.core import signing

COOKIE = "pause_guest"
SALT = "pause.guest"
MAX_AGE = 60 * 60 * 24 * 30


def guest_keys(cookies: dict) -> dict[str, str]:
    raw = cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        value = signing.loads(raw, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return {}
    return value if isinstance(value, dict) else {}


def guest_key_for(cookies: dict, meeting_id: int) -> uuid.UUID | None:
    key = guest_keys(cookies).get(str(meeting_id))
    try:
        return uuid.UUID(key) if key else None
    except ValueError:
        return None


def remember_guest(response, cookies: dict, meeting_id: int, key: uuid.UUID, *, secure: bool):
    keys = guest_keys(cookies)
    keys[str(meeting_id)] = str(key)
    response.set_cookie(
        COOKIE,
        signing.dumps(keys, salt=SALT),
        max_age=MAX_AGE,
        httponly=True,
        secure=secure,
        samesite="Lax",
    )
