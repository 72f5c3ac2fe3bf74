"""``rooms.sql.script(..., prepared=True)``: on PostgreSQL the connect path's statements
are prepared once per connection (planning was ~90% of the database's CPU for them),
sent in one pipeline, and fail as Django's errors; elsewhere, or with
``PAUSE_PG_PREPARED`` off, the same results come the usual way."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.db import DataError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from rooms import selectors, sql
from rooms.models import Meeting

pytestmark = pytest.mark.django_db(transaction=True)

ROOM_OF = 'SELECT "room_id" FROM "rooms_meeting" WHERE "id" = %s'


def _session_key(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def _prepared() -> list[str]:
    """The statements prepared on this connection (PostgreSQL's view of them)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def _postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's (the CI run includes PostgreSQL)")


def test_a_shape_is_prepared_once_and_serves_every_parameter(meeting_factory):
    _postgresql()
    a, b = meeting_factory(), meeting_factory()
    for m in (a, b, a):
        (rows,) = sql.script([(ROOM_OF, [m.pk])], prepared=True)
        assert rows == [(m.room_id,)]
    assert sum("rooms_meeting" in s and '"room_id"' in s for s in _prepared()) == 1


def test_several_statements_go_in_one_round_trip_with_their_own_results(meeting_factory):
    m = meeting_factory()
    with CaptureQueriesContext(connection) as queries:
        begun, room, nothing, title, done = sql.script(
            [
                ("BEGIN", []) if connection.vendor == "postgresql" else None,
                (ROOM_OF, [m.pk]),
                (ROOM_OF, [-1]),
                ('SELECT "title" FROM "rooms_meeting" WHERE "id" = %s', [m.pk]),
                ("COMMIT", []) if connection.vendor == "postgresql" else None,
            ],
            prepared=True,
        )
    assert (room, nothing, title) == ([(m.room_id,)], [], [(m.title,)])
    if connection.vendor == "postgresql":
        assert begun is None and done is None
        assert len(queries) == 1, [q["sql"] for q in queries]


def test_the_connect_path_prepares_its_reads(meeting_factory, member_factory):
    """A returning member's connect: the session's and the member's reads, and the
    snapshot's, are prepared statements; a second connect prepares nothing new."""
    _postgresql()
    from rooms import services

    meeting = meeting_factory()
    user = member_factory(meeting.room)
    services.participant_join(meeting=meeting, user=user)
    key = _session_key(user)
    selectors.connection_open(meeting_id=meeting.pk, session_key=key, into=[])
    first = _prepared()
    assert any("django_session" in s for s in first), first
    assert any('"rooms_membership"' in s for s in first), first
    selectors.connection_open(meeting_id=meeting.pk, session_key=key, into=[])
    assert sorted(_prepared()) == sorted(first)


def test_a_failing_statement_raises_djangos_error_and_rolls_back_cleanly(meeting_factory):
    _postgresql()  # (SQLite divides by zero into NULL)
    m = meeting_factory()
    with pytest.raises(DataError), transaction.atomic():
        sql.script([(ROOM_OF, [m.pk]), ("SELECT 1 / (%s - 1)", [1])], prepared=True)
    (rows,) = sql.script([(ROOM_OF, [m.pk])], prepared=True)  # the connection still works
    assert rows == [(m.room_id,)]
    assert Meeting.objects.filter(pk=m.pk).exists()


def test_off_the_statements_are_bound_by_the_client(meeting_factory, settings):
    _postgresql()
    settings.PAUSE_PG_PREPARED = False
    m = meeting_factory()
    (rows,) = sql.script([(ROOM_OF, [m.pk])], prepared=True)
    assert rows == [(m.room_id,)]
    assert not any('"room_id"' in s for s in _prepared())
