"""allauth's login rate limit holds across clients because it lives in the shared cache.

Several web processes serve Pause; a limit kept in one process's memory would give an
attacker N times the attempts. The failed-login limit (5 per account per 5 minutes,
allauth's default) is counted in Django's default cache: the database cache when
REDIS_URL is unset, Redis when it is set. Both are tried: failures spread over two
clients from two addresses lock the account for both, even with the right password, and
the counters are found in the cache store itself (where every process reads them).
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, need_service

pytestmark = pytest.mark.django_db

TOO_MANY = "Too many failed login attempts"
REDIS_DB = 14  # a database of the shared Redis this suite cleans up after itself


def _login(client: Client, email: str, password: str):
    return client.post(
        reverse("account_login"),
        {"login": email, "password": password},
        HTTP_ACCEPT_LANGUAGE="en",
    )


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _attack(user_factory, tally, store: str) -> None:
    """Five failures from two clients, then the right password from each is refused."""
    victim = user_factory()
    bystander = user_factory()
    first = Client(REMOTE_ADDR="198.51.100.7")
    second = Client(REMOTE_ADDR="203.0.113.9")
    for client, times in ((first, 3), (second, 2)):
        for _ in range(times):
            r = _login(client, victim.email, "wrong-password-123")
            assert r.status_code == 200 and not _logged_in(client)
            assert TOO_MANY not in r.content.decode()
    refused = 0
    for client in (second, first):
        r = _login(client, victim.email, PASSWORD)
        blocked = r.status_code == 429 or TOO_MANY in r.content.decode()
        refused += blocked and not _logged_in(client)
    assert refused == 2, "the right password after 5 failures must be refused on both clients"
    # The limit is per account: another account logs in from the same client.
    r = _login(first, bystander.email, PASSWORD)
    assert r.status_code == 302 and _logged_in(first)
    tally.add(f"logins after 5 failures on one account, two clients ({store})", refused, 2)


def test_failed_logins_lock_the_account_across_clients_with_the_database_cache(user_factory, tally):
    """With the default settings (database cache), the failures of two clients add up and
    the sixth attempt is refused even with the right password; the counters are rows of
    the cache table."""
    cache = caches["default"]
    assert cache.__class__.__name__ == "DatabaseCache"
    cache.clear()
    _attack(user_factory, tally, "database cache")
    table = cache._table
    with connection.cursor() as cursor:
        sql = f"SELECT COUNT(*) FROM {table} WHERE cache_key LIKE %s"
        cursor.execute(sql, ["%login_failed%"])
        assert cursor.fetchone()[0] >= 1


@pytest.fixture
def redis_cache(settings):
    """Django's cache on the real Redis (as REDIS_URL sets it), under a prefix of its own."""
    import redis

    url = f"redis://{os.environ.get('PAUSE_REDIS_HOST', '127.0.0.1')}:6379/{REDIS_DB}"
    raw = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        raw.ping()
    except redis.exceptions.RedisError:
        need_service("Redis", f"start redis-server on 127.0.0.1:6379 ({url})")
    prefix = f"pause-security-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        }
    }
    yield raw, prefix
    for key in raw.scan_iter(match=f"{prefix}:*", count=500):
        raw.delete(key)
    raw.close()


def test_failed_logins_lock_the_account_across_clients_with_redis(redis_cache, user_factory, tally):
    """With the Redis cache of production, the same: failures of two clients add up, the
    account is locked for both, and the counters are keys in Redis."""
    raw, prefix = redis_cache
    assert caches["default"].__class__.__name__ == "RedisCache"
    _attack(user_factory, tally, "Redis")
    keys = [k.decode() for k in raw.scan_iter(match=f"{prefix}:*", count=500)]
    assert any("login_failed" in k for k in keys), keys
