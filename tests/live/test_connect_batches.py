"""Connects opened in batches (``rooms/opener.py``, ``selectors.connection_open_many``):
the sockets of a busy moment share their statements (on PostgreSQL: their sessions,
members, first joins and snapshots' reads) and each still gets what it would get alone."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from rooms import selectors, services
from rooms.errors import Forbidden, NotFound
from rooms.models import Meeting, MeetingEvent, Participant
from rooms.opener import opener
from tests.live.conftest import ORIGIN, Socket, session_cookie
from tests.live.fixtures_extra import drain

live_db = pytest.mark.django_db(transaction=True)
pg_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="the shared statements are PostgreSQL's (the CI run includes it)",
)


def _key(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def _job(meeting, user=None, *, key=None, after=None) -> dict:
    return {
        "meeting_id": meeting.pk,
        "session_key": key or _key(user),
        "after": after,
        "user": None,
        "guest_key": None,
    }


def _welcome(answer) -> dict:
    """The welcome of an answer, without what changes from one call to the next."""
    welcome = dict(answer[2][0])
    welcome.pop("server_time")
    return welcome


@live_db
def test_a_batch_answers_each_connect_as_it_would_alone(live_meeting, member_factory):
    meeting, people = live_meeting()
    other = live_meeting()[0]
    newcomer = member_factory(other.room)
    removed = member_factory(meeting.room)
    services.participant_join(meeting=meeting, user=removed)
    Participant.objects.filter(meeting=meeting, user=removed).update(removed=True)
    stranger = member_factory(other.room)  # a member of another room only
    cursor = Meeting.objects.get(pk=meeting.pk).last_seq
    fac = _job(meeting, people["fac"])
    jobs = [
        _job(meeting, people["a"]),  # 0: first join
        _job(meeting, people["b"]),  # 1: first join
        _job(meeting, people["a"]),  # 2: the same member's second tab
        fac,  # 3: returning
        _job(meeting, stranger),  # 4: not a member of this meeting's room
        _job(meeting, key="x" * 32),  # 5: no such session
        _job(meeting, removed),  # 6: removed from the meeting
        {**fac, "after": cursor - 1},  # 7: resuming
        _job(other, newcomer),  # 8: first join, another meeting
    ]
    into: list = []
    answers = selectors.connection_open_many(jobs, into=into)

    assert isinstance(answers[4], NotFound)
    assert isinstance(answers[5], NotFound)
    assert isinstance(answers[6], Forbidden)
    a, b, a_again, fac_answer, _, _, _, resumed, far = answers
    assert a[0].pk == a_again[0].pk and a[0] is not a_again[0]  # each socket its own
    assert Participant.objects.filter(meeting=meeting, user=people["a"]).count() == 1
    # One participant.joined each, in a row after the cursor, and the meetings' seqs.
    m = Meeting.objects.get(pk=meeting.pk)
    joins = list(
        MeetingEvent.objects.filter(meeting=meeting, seq__gt=cursor).order_by("seq").values()
    )
    assert [e["name"] for e in joins] == ["participant.joined"] * 2
    assert [e["seq"] for e in joins] == [cursor + 1, cursor + 2] == [cursor + 1, m.last_seq]
    assert {e["data"]["id"] for e in joins} == {a[0].pk, b[0].pk}
    published: dict = {}
    for mid, events in into:
        published.setdefault(mid, []).extend(e["seq"] for e in events)
    assert published == {meeting.pk: [cursor + 1, cursor + 2], other.pk: [other.last_seq + 1]}
    # Each welcome covers its own join; on the shared path (PostgreSQL), every join of
    # the batch (their snapshots are read after the joins' commit).
    shared = connection.vendor == "postgresql"
    for answer in (a, b, a_again, fac_answer):
        welcome = answer[2][0]
        assert welcome["seq"] == answer[3]
        ids = {p["id"] for p in welcome["snapshot"]["participants"]}
        assert answer[0].pk in ids
        if shared:
            assert welcome["seq"] == m.last_seq and {a[0].pk, b[0].pk} <= ids
    assert resumed[2][0]["resumed"] is True
    assert [f["seq"] for f in resumed[2][1:]] == list(range(cursor, m.last_seq + 1))
    assert far[2][0]["snapshot"]["meeting"]["id"] == other.pk
    # The same answers as each would get alone now (everyone has joined since).
    for job, answer in zip(jobs, answers, strict=True):
        if job["after"] is not None or isinstance(answer, Exception):
            continue
        if answer[3] != Meeting.objects.get(pk=job["meeting_id"]).last_seq:
            continue  # opened alone before the batch's later joins (SQLite)
        alone = selectors.connection_open(**job, into=[])
        assert (alone[0].pk, alone[1], alone[3]) == (answer[0].pk, answer[1], answer[3])
        assert _welcome(alone) == _welcome(answer)


@live_db
def test_joins_together_write_each_member_once(live_meeting, member_factory):
    """``services.participants_join``: one participant and one ``participant.joined``
    each, however often a member is asked for, the seqs in a row; a meeting gone meanwhile
    has none."""
    meeting, people = live_meeting()
    gone = live_meeting()[0]
    newcomer = member_factory(gone.room)
    Meeting.objects.filter(pk=gone.pk).delete()
    cursor = meeting.last_seq
    a, b = people["a"], people["b"]
    into: list = []
    entries = [(meeting, a, "member"), (meeting, b, "member"), (meeting, a, "member")]
    entries.append((gone, newcomer, "member"))
    joined = services.participants_join(entries, into=into)
    assert set(joined) == {(meeting.pk, a.pk), (meeting.pk, b.pk)}
    assert all(p.first_join for p in joined.values())
    assert Participant.objects.filter(meeting=meeting, user__in=[a, b]).count() == 2
    events = MeetingEvent.objects.filter(meeting=meeting, seq__gt=cursor).order_by("seq")
    assert [(e.seq, e.data["id"]) for e in events] == [
        (cursor + 1, joined[(meeting.pk, a.pk)].pk),
        (cursor + 2, joined[(meeting.pk, b.pk)].pk),
    ]
    assert Meeting.objects.get(pk=meeting.pk).last_seq == cursor + 2
    assert [e["seq"] for _m, events in into for e in events] == [cursor + 1, cursor + 2]


@live_db
@pg_only
def test_a_batch_of_first_joins_costs_the_same_round_trips_whatever_its_size(
    live_meeting, member_factory
):
    """Sessions, members, the joins' two round trips, the snapshots' reads, the board's
    (the meeting's first snapshot) and their COMMIT: seven round trips for three sockets
    or for twelve (about five each alone)."""
    counts = []
    for size in (3, 12):
        meeting = live_meeting()[0]
        jobs = [_job(meeting, member_factory(meeting.room)) for _ in range(size)]
        with CaptureQueriesContext(connection) as ctx:
            answers = selectors.connection_open_many(jobs, into=[])
        assert all(not isinstance(a, Exception) for a in answers)
        # Django logs its block's BEGIN and COMMIT, which psycopg does not send.
        sent = [q["sql"] for q in ctx.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
        counts.append(len(sent) + 1)  # + the snapshots' COMMIT, sent alone
    assert counts == [7, 7]


@live_db
@pg_only
def test_a_failed_batch_opens_each_connect_alone(live_meeting, monkeypatch):
    """Any error on the shared path: every socket of the batch is opened alone instead."""
    meeting, people = live_meeting()
    jobs = [_job(meeting, people["a"]), _job(meeting, people["b"])]

    def broken(*args, **kwargs):
        raise RuntimeError("the shared snapshot failed")

    monkeypatch.setattr(selectors.wire, "snapshots_for", broken)
    answers = selectors.connection_open_many(jobs, into=[])
    assert [a[2][0]["type"] for a in answers] == ["welcome", "welcome"]
    assert Participant.objects.filter(meeting=meeting).count() == 3  # fac, a, b


MEMBERS = 12


@live_db
async def test_sockets_connecting_together_are_opened_in_batches(
    live, live_meeting, member_factory
):
    """Twelve sockets connecting at once: they share batches, and each one's frames still
    run from its welcome's seq to the meeting's last, one seq after the other (the joins
    a batch commits are published before any of its sockets is welcomed)."""
    from pause.asgi import application

    meeting, _ = await sync_to_async(live_meeting)()

    def members():
        return [session_cookie(member_factory(meeting.room)) for _ in range(MEMBERS)]

    cookies = await sync_to_async(members)()
    comms = [
        WebsocketCommunicator(
            application, f"/ws/meetings/{meeting.pk}/", headers=[ORIGIN, (b"cookie", c)]
        )
        for c in cookies
    ]
    batches = opener.batches
    opened = await asyncio.gather(*(c.connect(timeout=10) for c in comms))
    assert all(ok for ok, _code in opened)
    assert opener.batches - batches < MEMBERS and opener.largest > 1
    last = (await sync_to_async(Meeting.objects.get)(pk=meeting.pk)).last_seq
    ids = set()
    await asyncio.sleep(0.5)  # the last joins' events reach every socket
    for comm in comms:
        frames = await drain(Socket(comm), 0.1)
        welcome = frames[0]
        assert welcome["type"] == "welcome"
        ids.add(welcome["you"]["participant_id"])
        seqs = [f["seq"] for f in frames[1:] if f["type"] == "event"]
        assert seqs == list(range(welcome["seq"] + 1, last + 1)), (welcome["seq"], seqs)
    assert len(ids) == MEMBERS
    for comm in comms:
        await comm.disconnect()
