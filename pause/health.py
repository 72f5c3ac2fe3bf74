"""Health endpoint for container healthchecks and load balancers.

A web process is healthy when it can reach what every request needs: the database and,
when ``REDIS_URL`` is set, Redis (channel layer and cache). The answer names each check
but never the error itself, so the endpoint can stay public; the error goes to the log.
"""

import logging

from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"
# A probe runs every few seconds: a dead dependency must answer well before the probe's
# own timeout, not hang on a TCP connect.
REDIS_TIMEOUT_SECONDS = 2.0


def _check_database() -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("Health check: the database is not answering")
        return FAILED
    return OK


def _check_redis() -> str:
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return SKIPPED
    import redis

    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except Exception:
        logger.exception("Health check: Redis is not answering")
        return FAILED
    finally:
        client.close()
    return OK


@never_cache
@require_safe
def healthz(request):
    """200 with ``{"status": "ok", ...}`` when every dependency answers, else 503."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    healthy = FAILED not in checks.values()
    return JsonResponse(
        {"status": OK if healthy else FAILED, "checks": checks},
        status=200 if healthy else 503,
    )
