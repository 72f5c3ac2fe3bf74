"""The database threads' connections (``rooms.hub.database_call`` on PostgreSQL): each
of the few fixed threads keeps its connection between calls whatever ``CONN_MAX_AGE``
says (with the default 0 every command opened a new one), and skips Django's per-call
health check while it was checked a moment ago (with ``CONN_HEALTH_CHECKS`` every call
began with a ``SELECT 1`` on a connection that had answered a millisecond before). A
connection that had an error is still checked at once."""

import pytest
from django.conf import settings
from django.db import connection

from rooms import hub

pytestmark = pytest.mark.django_db(transaction=True)

CALLS = 40


@pytest.fixture(autouse=True)
def _postgres_only(live):  # ``live`` ends the threads, closing their connections
    if hub._vendor() != "postgresql":
        pytest.skip("the database threads are PostgreSQL's (the CI run includes it)")


@pytest.fixture
def max_age():
    """Set ``CONN_MAX_AGE`` (read by each new connection) for the test, then restore it."""
    before = connection.settings_dict["CONN_MAX_AGE"]

    def set_to(seconds):
        connection.settings_dict["CONN_MAX_AGE"] = seconds

    yield set_to
    connection.settings_dict["CONN_MAX_AGE"] = before


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _count_checks(checks: list) -> int:
    """Count the health checks of this thread's connection from now on; one query."""
    if getattr(connection, "pause_counted", None) is not connection.connection:
        real = connection.is_usable

        def counted():
            checks.append(1)
            return real()

        connection.is_usable = counted
        connection.pause_counted = connection.connection
    return _backend_pid()


def _break_connection(checks: list) -> int:
    """As if this connection's last query had failed (Django sets the flag then)."""
    _count_checks(checks)
    connection.errors_occurred = True
    return len(checks)


async def test_each_thread_keeps_its_connection_with_conn_max_age_0(max_age):
    max_age(0)
    pids = {await hub.database_call(_backend_pid)() for _ in range(CALLS)}
    assert len(pids) <= settings.PAUSE_DB_THREADS, f"{len(pids)} connections for {CALLS} calls"


async def test_connections_are_health_checked_once_in_a_while_not_on_every_call(max_age):
    max_age(60)
    checks: list = []
    call = hub.database_call(_count_checks)
    for _ in range(CALLS):
        await call(checks)
    # Every call checked before; now each thread's connection is checked at most twice
    # within the second this takes (once new, once when its first check is recorded).
    assert len(checks) <= 2 * settings.PAUSE_DB_THREADS, f"{len(checks)} checks for {CALLS} calls"

    before = await hub.database_call(_break_connection)(checks)  # checked as its call ends
    assert len(checks) == before + 1, "a connection that had an error was not checked"
