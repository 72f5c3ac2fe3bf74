"""The write path's plain-SQL reads and inserts (``rooms.services.rows``) give the same
instances the ORM gives, on SQLite and on PostgreSQL (the suite runs on both): every
field converted the same way (dates, booleans, JSON), the challenge's owner attached as
``select_related`` would, and a created row read back equal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rooms import services
from rooms.errors import NotFound
from rooms.models import Challenge, CommandReceipt, Idea, Meeting, MeetingEvent, Participant
from rooms.services import rows
from tests.unit.meeting_cast import build_cast

pytestmark = pytest.mark.django_db(transaction=True)


def fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.fixture
def cast(meeting_factory, member_factory):
    cast = build_cast(meeting_factory=meeting_factory, member_factory=member_factory)
    services.meeting_start(actor=cast["facilitator"])
    services.phase_set(actor=cast["facilitator"], phase="ideas")
    cast.challenge_id = services.challenge_post(actor=cast["member"], title="Recruter").result["id"]
    return cast


def test_locked_meetings_equal_the_orm_ones(cast):
    (meeting,) = rows.lock_meetings([cast.meeting.pk]).values()
    assert fields(meeting) == fields(Meeting.objects.get(pk=cast.meeting.pk))
    assert meeting.started_at is not None and meeting.started_at.tzinfo is not None
    assert meeting._state.adding is False


def test_participants_carry_their_room_role(cast):
    found = {p.pk: p for p in rows.participants_with_roles(p.pk for p in cast.people.values())}
    for name, person in cast.people.items():
        p = found[person.pk]
        assert fields(p) == fields(Participant.objects.get(pk=person.pk))
        assert isinstance(p.muted, bool)
    assert found[cast["facilitator"].pk].member_role == "facilitator"
    assert found[cast["member"].pk].member_role == "member"
    assert found[cast["guest"].pk].member_role is None
    assert found[cast["non_member"].pk].member_role is None


def test_challenges_come_with_their_owner_and_only_from_the_meetings_named(cast, meeting_factory):
    found = rows.challenges([cast.challenge_id, 999_999], [cast.meeting.pk])
    assert list(found) == [cast.challenge_id]
    challenge = found[cast.challenge_id]
    assert fields(challenge) == fields(Challenge.objects.get(pk=cast.challenge_id))
    with CaptureQueriesContext(connection) as queries:
        owner = challenge.owner
    assert len(queries) == 0  # attached, as select_related("owner") would
    assert fields(owner) == fields(cast["member"])
    other = meeting_factory()
    assert rows.challenges([cast.challenge_id], [other.pk]) == {}


def test_create_inserts_one_row_and_sets_its_id(cast):
    idea = Idea(
        meeting=cast.meeting,
        challenge_id=cast.challenge_id,
        author=cast["other"],
        text="Un café mensuel entre dirigeantes",
        anonymous=True,
    )
    with CaptureQueriesContext(connection) as queries:
        rows.create(idea)
    assert len(queries) == 1
    assert idea.pk is not None and idea._state.adding is False
    stored = Idea.objects.get(pk=idea.pk)
    assert fields(stored) == fields(idea)
    assert stored.anonymous is True and stored.removed is False


def test_a_lone_idea_post_is_two_round_trips_on_postgresql(cast):
    """Lock, actor, receipt, challenge and the idea's id in one; the idea, last_seq, event
    and receipt in one (plus BEGIN and COMMIT). SQLite runs the statements one by one,
    and inserts the idea on its own (``INSERT … RETURNING``: no sequence to draw from)."""
    from rooms.services import meetings as svc

    call = svc.idea_post.call(
        actor=cast["other"],
        ref="r-1",
        challenge_id=cast.challenge_id,
        text="Un atelier à 100 % ; %s, l'été",
    )
    before = cast.refresh().last_seq
    with CaptureQueriesContext(connection) as queries:
        (outcome,) = svc.run_calls([call], [])
    sent = [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT")]
    if connection.vendor == "postgresql":
        assert len(sent) == 2, sent
    else:
        assert len(sent) == 8, sent
    assert outcome.seq == before + 1 == cast.refresh().last_seq
    assert Idea.objects.get(pk=outcome.result["id"]).text == "Un atelier à 100 % ; %s, l'été"
    (replayed,) = svc.run_calls([call], [])  # the receipt was written
    assert replayed.replayed and replayed.seq == outcome.seq


def test_the_batch_scripts_are_parsed_once_per_shape_on_postgresql(cast, monkeypatch):
    """psycopg caches the parsing of a query's placeholders only up to 4,096 characters
    and 50 parameters by default; the batch's scripts are longer (``rooms.apps`` raises
    the bounds): a second batch of the same size is served from the cache."""
    if connection.vendor != "postgresql":
        pytest.skip("the parsing cache is psycopg's (the CI run includes PostgreSQL)")
    from psycopg import _queries

    from rooms.services import meetings as svc

    def batch(tag: str) -> list:
        return [
            svc.idea_post.call(
                actor=cast[role], ref=f"{tag}-{i}", challenge_id=cast.challenge_id, text="x"
            )
            for i, role in enumerate(["member", "other", "guest"] * 6)
        ]

    svc.run_calls(batch("a"), [])
    before = _queries._query2pg_client.cache_info()
    uncached = []
    parse = _queries._query2pg_client_nocache  # what psycopg calls past its bounds

    def counted(query, encoding):
        uncached.append(len(query))
        return parse(query, encoding)

    monkeypatch.setattr(_queries, "_query2pg_client_nocache", counted)
    svc.run_calls(batch("b"), [])
    after = _queries._query2pg_client.cache_info()
    assert uncached == [], f"queries of {uncached} characters parsed outside the cache"
    assert after.misses == before.misses, "a batch of the same size was parsed again"


def test_a_batch_opens_and_commits_its_transaction_in_its_two_round_trips(cast, monkeypatch):
    """On PostgreSQL the opening script starts with BEGIN and the closing one ends with
    COMMIT, when they start and end the outermost transaction: psycopg sends neither in a
    round trip of its own (it would before the first statement, and at Django's commit),
    the on_commit callbacks run, and the connection is left as Django expects it."""
    if connection.vendor != "postgresql":
        pytest.skip("psycopg's commands (the CI run includes PostgreSQL)")
    from rooms.services import meetings as svc

    commands: list[bytes] = []
    cls = type(connection.connection)
    original = cls._exec_command

    def recording(self, command, *args, **kwargs):
        commands.append(bytes(command) if isinstance(command, bytes | bytearray) else command)
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(cls, "_exec_command", recording)
    published: list = []
    before = cast.refresh().last_seq
    with CaptureQueriesContext(connection) as queries:
        (outcome,) = svc.run_calls(
            [svc.idea_post.call(actor=cast["other"], challenge_id=cast.challenge_id, text="x")],
            published,
        )
    scripts = [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "COMMIT")]
    assert commands == [], commands
    assert len(scripts) == 2 and scripts[0].startswith("BEGIN;")
    assert scripts[1].rstrip().endswith("COMMIT")
    assert outcome.seq == before + 1 == cast.refresh().last_seq  # committed
    assert [e["seq"] for _m, evs in published for e in evs] == [outcome.seq]  # on_commit ran
    assert Idea.objects.filter(pk=outcome.result["id"]).exists()
    assert connection.get_autocommit() and connection.connection.autocommit
    assert connection.connection.info.transaction_status == 0  # idle


def test_a_failed_batch_leaves_nothing_and_the_connection_usable(cast):
    """A batch that fails after its opening script (which began the transaction itself)
    rolls back entirely, and the next one runs normally."""
    from rooms.services import meetings as svc

    before = cast.refresh().last_seq
    call = svc.idea_post.call(actor=cast["other"], challenge_id=999_999, text="x")
    with pytest.raises(NotFound):
        svc.run_calls([call], [])
    assert cast.refresh().last_seq == before
    assert connection.get_autocommit()
    if connection.vendor == "postgresql":
        assert connection.connection.autocommit
        assert connection.connection.info.transaction_status == 0
    ok = svc.idea_post.call(actor=cast["other"], challenge_id=cast.challenge_id, text="y")
    (outcome,) = svc.run_calls([ok], [])
    assert outcome.seq == before + 1 == cast.refresh().last_seq


def test_a_batch_across_meetings_saves_every_last_seq_in_one_statement(
    cast, meeting_factory, member_factory
):
    """A busy process's batch holds commands of many meetings: their ``last_seq`` go in
    one UPDATE on PostgreSQL (not one statement each), and each meeting gets its own."""
    from rooms.services import meetings as svc

    casts = [cast]
    for _ in range(2):
        more = build_cast(meeting_factory=meeting_factory, member_factory=member_factory)
        services.meeting_start(actor=more["facilitator"])
        services.phase_set(actor=more["facilitator"], phase="ideas")
        more.challenge_id = services.challenge_post(actor=more["member"], title="Vendre").result[
            "id"
        ]
        casts.append(more)
    before = [c.refresh().last_seq for c in casts]
    calls = [
        svc.idea_post.call(actor=c["other"], ref=f"m{k}-{i}", challenge_id=c.challenge_id, text="x")
        for i in range(2)
        for k, c in enumerate(casts)
    ]
    with CaptureQueriesContext(connection) as queries:
        outcomes = svc.run_calls(calls, [])
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert [c.refresh().last_seq for c in casts] == [b + 2 for b in before]
    updates = [
        line
        for q in queries
        for line in q["sql"].split(";\n")
        if line.lstrip().startswith(f"UPDATE {connection.ops.quote_name('rooms_meeting')}")
    ]
    assert len(updates) == (1 if connection.vendor == "postgresql" else 3), updates


@pytest.mark.parametrize("model", [Idea, MeetingEvent, CommandReceipt])
def test_the_write_paths_tables_have_no_index_another_covers(model):
    """Every idea, event and receipt writes each index of its table: none of those
    indexes may be a leading part of another (the composite one serves its lookups)."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    indexes = {
        name: tuple(c["columns"])
        for name, c in found.items()
        if c["index"] and not c["primary_key"] and not c["unique"] and c["columns"]
    }
    keys = {name: tuple(c["columns"]) for name, c in found.items() if c["index"] or c["unique"]}
    covered = [
        (name, columns, other)
        for name, columns in indexes.items()
        for other, longer in keys.items()
        if other != name and len(longer) > len(columns) and longer[: len(columns)] == columns
    ]
    assert covered == [], covered


def _events(cast, first_seq: int, n: int) -> list[MeetingEvent]:
    at = dt.datetime(2026, 11, 26, 20, 59, 58, 123456, tzinfo=dt.UTC)
    data = {
        "text": "« Un café » \\ 'quoted' \"double\" %s %(x)s é 🎉",
        "nested": [1, 2.5, None, True, {"k": []}],
    }
    return [
        MeetingEvent(
            meeting=cast.meeting,
            seq=first_seq + i,
            name="idea.posted",
            actor=cast["other"] if i % 2 else None,
            data={**data, "i": i},
            at=at + dt.timedelta(microseconds=i),
        )
        for i in range(n)
    ]


def test_inserted_rows_read_back_as_they_were_built(cast):
    """Text with quotes, backslashes and placeholders, JSON of every kind, a NULL foreign
    key and microseconds survive ``rows.insert`` on both databases."""
    events = _events(cast, 10_000, 3)
    rows.insert(events, rows.EVENT_FIELDS)
    stored = list(
        MeetingEvent.objects.filter(meeting=cast.meeting, seq__gte=10_000).order_by("seq")
    )
    assert [{**fields(e), "id": None} for e in stored] == [
        {**fields(e), "id": None} for e in events
    ]


def test_an_insert_on_postgresql_is_one_statement_text_and_one_value_for_any_row_count(cast):
    """On PostgreSQL the rows go as one JSON value (``json_to_recordset``): the text is
    the same for 1 and for 40 rows (parsed and cached once), the driver quotes one value,
    and a value too long for its column still fails as the database's error."""
    if connection.vendor != "postgresql":
        pytest.skip("json_to_recordset is PostgreSQL's (the CI run includes PostgreSQL)")
    from django.db import DataError, transaction

    one, many = (
        rows._insert_sql(_events(cast, 1, 1), rows.EVENT_FIELDS),
        rows._insert_sql(_events(cast, 1, 40), rows.EVENT_FIELDS),
    )
    assert one[0] == many[0]
    assert len(one[1]) == len(many[1]) == 1
    idea = Idea(
        meeting=cast.meeting,
        challenge_id=cast.challenge_id,
        author=cast["other"],
        kind="x" * 17,  # max_length=16
        text="t",
    )
    with pytest.raises(DataError), transaction.atomic():
        rows.insert([idea], ["meeting", "challenge", "author", "kind", "text", "created_at"])


def test_rows_read_as_instances_still_reach_post_init_listeners(cast):
    """The write path builds the instances it reads without ``Model.__init__`` only while
    nothing listens to the model's ``pre_init``/``post_init``: a listener gets them."""
    from django.db.models.signals import post_init

    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(listener, sender=Meeting)
    try:
        (meeting,) = rows.lock_meetings([cast.meeting.pk]).values()
    finally:
        post_init.disconnect(listener, sender=Meeting)
    assert seen == [meeting]
    assert fields(meeting) == fields(Meeting.objects.get(pk=cast.meeting.pk))
    assert meeting._state.adding is False and meeting._state.db == connection.alias


def test_a_json_field_with_an_encoder_of_its_own_is_inserted_through_it(cast):
    """A JSON column whose field has an encoder (none of Pause's yet) goes through it."""
    import decimal

    from django.core.serializers.json import DjangoJSONEncoder

    field = MeetingEvent._meta.get_field("data")
    event = _events(cast, 20_000, 1)[0]
    event.data = {"price": decimal.Decimal("12.50")}
    rows._json_plan.cache_clear()
    field.encoder = DjangoJSONEncoder
    try:
        rows.insert([event], rows.EVENT_FIELDS)
    finally:
        field.encoder = None
        rows._json_plan.cache_clear()
    assert MeetingEvent.objects.get(meeting=cast.meeting, seq=20_000).data == {"price": "12.50"}
