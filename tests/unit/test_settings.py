"""Settings chosen by the environment, checked in fresh processes.

Settings are read once per process, so each case starts ``python`` with a controlled
environment (nothing inherited from pytest's own DJANGO_* variables) and reads back what
Django actually configured.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
SECRET = secrets.token_urlsafe(50)
PRODUCTION = {
    "DJANGO_SECRET_KEY": SECRET,
    "DJANGO_ALLOWED_HOSTS": "pause.example.org",
    "DATABASE_URL": "postgres://pause:secret@db.internal:5432/pause",
    "REDIS_URL": "redis://redis.internal:6379/0",
}

# Prints, as JSON, what Django configured; no connection is opened except SQLite's.
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.db import connection
from channels.layers import get_channel_layer

db = settings.DATABASES["default"]
facts = {
    "engine": db["ENGINE"],
    "db_name": str(db["NAME"]),
    "db_options": {k: v for k, v in db.get("OPTIONS", {}).items() if isinstance(v, str)},
    "layer": type(get_channel_layer()).__module__ + "." + type(get_channel_layer()).__name__,
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_location": str(settings.CACHES["default"].get("LOCATION", "")),
    "email_backend": settings.EMAIL_BACKEND,
    "email_host": getattr(settings, "EMAIL_HOST", ""),
    "email_port": getattr(settings, "EMAIL_PORT", None),
    "email_user": getattr(settings, "EMAIL_HOST_USER", ""),
    "email_tls": getattr(settings, "EMAIL_USE_TLS", False),
    "language": settings.LANGUAGE_CODE,
    "debug": settings.DEBUG,
}
if db["ENGINE"].endswith("sqlite3"):
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        facts["journal_mode"] = cursor.fetchone()[0]
print(json.dumps(facts))
"""


def run_python(args: list[str], env: dict[str, str], timeout: int = 60):
    """Run the project's Python with exactly ``env`` (plus PATH and HOME)."""
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "pause.settings",
        **env,
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def probe(env: dict[str, str]) -> dict:
    result = run_python(["-c", PROBE], env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> dict:
    """The laptop default: no DATABASE_URL, no REDIS_URL, no EMAIL_URL."""
    data_dir = tmp_path_factory.mktemp("pause-data")
    return probe({"DJANGO_DEBUG": "true", "PAUSE_DATA_DIR": str(data_dir)})


@pytest.fixture(scope="module")
def production() -> dict:
    """Production services, SMTP email and English as the default language."""
    return probe(
        {
            **PRODUCTION,
            "EMAIL_URL": "smtp+tls://mailer:p4ss@smtp.example.org:587",
            "DEFAULT_LANGUAGE": "en",
        }
    )


def test_sqlite_in_wal_mode_with_immediate_transactions_without_database_url(embedded):
    """Without DATABASE_URL the database is a SQLite file in WAL mode whose transactions
    take the write lock at BEGIN."""
    assert embedded["engine"] == "django.db.backends.sqlite3"
    assert embedded["journal_mode"] == "wal"
    assert embedded["db_options"]["transaction_mode"] == "IMMEDIATE"
    assert embedded["db_name"].endswith(".sqlite3")


def test_postgresql_when_database_url_is_set(production):
    """DATABASE_URL selects PostgreSQL with the database it names."""
    assert production["engine"] == "django.db.backends.postgresql"
    assert production["db_name"] == "pause"


def test_in_memory_channel_layer_and_database_cache_without_redis_url(embedded):
    """Without REDIS_URL the channel layer lives in memory and the cache in the database."""
    assert embedded["layer"] == "rooms.layers.LocalChannelLayer"
    assert embedded["cache"] == "django.core.cache.backends.db.DatabaseCache"


def test_redis_channel_layer_and_cache_when_redis_url_is_set(production):
    """REDIS_URL moves both the channel layer and the cache to that Redis."""
    assert production["layer"].startswith("channels_redis.")
    assert production["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert production["cache_location"] == PRODUCTION["REDIS_URL"]


def test_console_email_by_default_and_smtp_when_email_url_is_set(embedded, production):
    """Emails go to the console unless EMAIL_URL names an SMTP server."""
    assert embedded["email_backend"] == "django.core.mail.backends.console.EmailBackend"
    assert production["email_backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert production["email_host"] == "smtp.example.org"
    assert production["email_port"] == 587
    assert production["email_user"] == "mailer"
    assert production["email_tls"] is True


def test_default_language_is_french_unless_default_language_says_otherwise(embedded, production):
    """DEFAULT_LANGUAGE sets the fallback language; French when unset."""
    assert embedded["language"] == "fr"
    assert production["language"] == "en"


def test_debug_is_off_unless_asked_for(embedded, production):
    """Debug is on only when DJANGO_DEBUG says so."""
    assert embedded["debug"] is True
    assert production["debug"] is False


@pytest.mark.parametrize("secret", [None, ""], ids=["unset", "empty"])
def test_missing_secret_key_with_debug_off_stops_the_start(secret):
    """Without DJANGO_SECRET_KEY and with debug off, the process stops with a message that
    names the variable and the way out."""
    env = {k: v for k, v in PRODUCTION.items() if k != "DJANGO_SECRET_KEY"}
    if secret is not None:
        env["DJANGO_SECRET_KEY"] = secret
    result = run_python(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert "DJANGO_DEBUG=true" in result.stderr


def test_deploy_check_passes_with_production_variables():
    """`manage.py check --deploy --fail-level WARNING` finds nothing to fix in production
    (HTTPS redirect, secure cookies, HSTS, a strong secret, explicit hosts)."""
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], dict(PRODUCTION)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_fails_with_a_weak_secret_key():
    """The deploy check is not a rubber stamp: a short secret is reported."""
    env = {**PRODUCTION, "DJANGO_SECRET_KEY": "short"}
    result = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode != 0
    assert "security.W009" in result.stderr + result.stdout


GC_PROBE = """
import gc, json
import pause.asgi
print(json.dumps({"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""


@pytest.mark.parametrize(
    ("value", "threshold"),
    [(None, [10000, 50, 100]), ("", [700, 10, 10]), ("2000,20,20", [2000, 20, 20])],
)
def test_the_web_process_freezes_the_loaded_app_and_collects_less_often(tmp_path, value, threshold):
    """A full collection walked every object of the process: 70-380 ms with 1,000 sockets
    (docs/benchmarks.md, B). Loading the ASGI application freezes what is loaded (Django,
    the apps) and sets PAUSE_GC_THRESHOLD."""
    env = {"DJANGO_DEBUG": "true", "PAUSE_DATA_DIR": str(tmp_path)}
    if value is not None:
        env["PAUSE_GC_THRESHOLD"] = value
    result = run_python(["-c", GC_PROBE], env)
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["threshold"] == threshold
    assert facts["frozen"] > 50_000  # Django and the apps, out of every collection


def test_a_malformed_gc_threshold_is_refused(tmp_path):
    result = run_python(
        ["-c", GC_PROBE],
        {"DJANGO_DEBUG": "true", "PAUSE_DATA_DIR": str(tmp_path), "PAUSE_GC_THRESHOLD": "1,2"},
    )
    assert result.returncode != 0
    assert "PAUSE_GC_THRESHOLD is three integers" in result.stderr
