"""The socket's connect path: who the session cookie is (one database call with the
participant, still every check of ``django.contrib.auth.get_user``), and presence pushes
coalesced per meeting when many sockets connect at once."""

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from rooms import hub as hub_module
from rooms import selectors, services, wire
from rooms.errors import Forbidden, NotFound
from rooms.hub import hub
from rooms.models import Meeting, MeetingEvent, Membership, Participant, Role, Room
from tests.live.fixtures_extra import drain

# --------------------------------------------------------------------------- the session


def _session_key(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def joined(db, meeting_factory, member_factory):
    """A member with a session who already joined the meeting (a returning socket)."""
    meeting = meeting_factory()
    user = member_factory(meeting.room)
    services.participant_join(meeting=meeting, user=user)
    return meeting, user, _session_key(user)


def _authorize(meeting, key, guest_key=None):
    return selectors.connection_authorize(
        meeting_id=meeting.pk, session_key=key, guest_key=guest_key
    )


def test_a_returning_member_costs_the_session_and_one_query(joined, django_assert_num_queries):
    meeting, user, key = joined
    with django_assert_num_queries(2):  # the session; participant + user + meeting + role
        participant, viewer = _authorize(meeting, key)
    assert participant.user_id == user.pk and viewer.role == Role.MEMBER
    assert participant.meeting.room_id == meeting.room_id  # for close_user, no query
    assert participant.user.pk == user.pk  # for the language, no query
    assert not hasattr(participant, "user_password")  # the row's extras are not kept


def test_a_first_join_through_the_session_writes_the_participant(
    db, meeting_factory, member_factory
):
    meeting = meeting_factory()
    user = member_factory(meeting.room, Role.FACILITATOR)
    participant, viewer = _authorize(meeting, _session_key(user))
    assert Participant.objects.filter(pk=participant.pk, user=user).exists()
    assert viewer.role == Role.FACILITATOR and viewer.facilitator


def _statements(queries) -> list[str]:
    """The statements run, without the savepoints of the test's own transaction."""
    return [
        q["sql"].split()[0].upper()
        for q in queries
        if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))
    ]


def test_a_returning_member_writes_nothing(joined):
    meeting, _user, key = joined
    with CaptureQueriesContext(connection) as ctx:
        _authorize(meeting, key)
    assert _statements(ctx.captured_queries) == ["SELECT", "SELECT"]


def test_a_first_join_is_the_session_one_read_and_the_write(db, meeting_factory, member_factory):
    """A first join through the session: the session, one read (user, meeting, role, no
    participant), then under the meeting's lock the participant's insert (unless another
    socket of the user joined meanwhile), its event and the meeting's seq; no ORM lookup
    of the user, the participant or the role of its own."""
    meeting = meeting_factory()
    user = member_factory(meeting.room, display_name="Ada Arrives")
    key = _session_key(user)
    published: list = []
    with CaptureQueriesContext(connection) as ctx:
        participant, viewer = selectors.connection_authorize(
            meeting_id=meeting.pk, session_key=key, into=published
        )
    if connection.vendor == "postgresql":  # each pair in one round trip
        assert _statements(ctx.captured_queries) == [
            "SELECT",  # the session
            "SELECT",  # user, meeting, role, participant
            "SELECT",  # the meeting, locked; the participant unless one of the user since
            "INSERT",  # participant.joined; the meeting's last_seq
        ]
    else:
        assert _statements(ctx.captured_queries) == [
            "SELECT",  # the session
            "SELECT",  # user, meeting, role, participant
            "SELECT",  # the meeting, locked
            "INSERT",  # the participant, unless the user has one since
            "INSERT",  # participant.joined
            "UPDATE",  # the meeting's last_seq
        ]
    assert participant.display_name == "Ada Arrives" and viewer.role == Role.MEMBER
    assert participant.meeting.room_id == meeting.room_id and participant.user.pk == user.pk
    (event,) = MeetingEvent.objects.filter(meeting=meeting, name="participant.joined")
    assert event.data["id"] == participant.pk and event.data["role"] == Role.MEMBER
    meeting.refresh_from_db()
    assert meeting.last_seq == event.seq


def test_a_second_socket_joining_meanwhile_finds_the_first_ones_participant(
    db, meeting_factory, member_factory
):
    """Two sockets of one user, both reading "no participant yet": the second finds the
    first one's row under the meeting's lock and writes nothing."""
    meeting = meeting_factory()
    user = member_factory(meeting.room)
    first = services.participant_join(meeting=meeting, user=user, role=Role.MEMBER)
    seq = Meeting.objects.get(pk=meeting.pk).last_seq
    second = services.participant_join(meeting=meeting, user=user, role=Role.MEMBER)
    assert second.pk == first.pk
    assert Meeting.objects.get(pk=meeting.pk).last_seq == seq
    assert Participant.objects.filter(meeting=meeting, user=user).count() == 1


@pytest.mark.parametrize(
    "change",
    ["logged_out", "expired", "password_changed", "inactive", "left_room", "no_cookie", "forged"],
)
def test_a_session_get_user_refuses_is_refused(joined, change):
    """Whatever ``django.contrib.auth.get_user`` would answer AnonymousUser for, the
    socket refuses as it refuses a stranger: ``NotFound`` (nothing is revealed)."""
    meeting, user, key = joined
    if change == "logged_out":
        Session.objects.filter(session_key=key).delete()
    elif change == "expired":
        Session.objects.filter(session_key=key).update(expire_date="2000-01-01T00:00Z")
    elif change == "password_changed":
        user.set_password("another-long-password")
        user.save()
    elif change == "inactive":
        user.is_active = False
        user.save()
    elif change == "left_room":
        Membership.objects.filter(user=user, room=meeting.room).delete()
    elif change == "no_cookie":
        key = None
    elif change == "forged":
        key = key[:-4] + "abcd"
    with pytest.raises(NotFound):
        _authorize(meeting, key)


def test_a_removed_participant_is_refused_with_forbidden(joined):
    meeting, user, key = joined
    Participant.objects.filter(meeting=meeting, user=user).update(removed=True)
    with pytest.raises(Forbidden):
        _authorize(meeting, key)


def test_a_member_of_another_room_is_not_told_the_meeting_exists(
    joined, meeting_factory, member_factory
):
    meeting, _, _ = joined
    other = meeting_factory()
    stranger = member_factory(other.room)
    with pytest.raises(NotFound):
        _authorize(meeting, _session_key(stranger))


# --------------------------------------------------------------------------- presence

live_db = pytest.mark.django_db(transaction=True)
MEMBERS = 12


@live_db
async def test_a_burst_of_connects_costs_each_socket_a_few_presence_lists(
    ws, live_meeting, member_factory
):
    """Twelve sockets connecting at once: before coalescing, the n-th socket to be
    welcomed received one presence list per later join (O(n²) frames in all); now a
    meeting gets at most one push per window, and every socket still ends with the full
    list."""
    meeting, _ = await sync_to_async(live_meeting)()

    def members():
        return [
            member_factory(meeting.room, display_name=f"Membre {i:02d}") for i in range(MEMBERS)
        ]

    users = await sync_to_async(members)()
    pushes = hub.presence_pushes
    loop = asyncio.get_running_loop()
    started = loop.time()
    socks = await asyncio.gather(*(ws(u, meeting) for u in users))
    # At most one push per window while sockets arrive (plus the first and the last),
    # however many arrive in each (without coalescing: up to 12 lists per socket here).
    bound = int((loop.time() - started) / hub_module.PRESENCE_WINDOW) + 3
    ids = sorted(s.welcome["you"]["participant_id"] for s in socks)
    await asyncio.sleep(0.6)  # past the coalescing windows
    for sock in socks:
        frames = [f for f in await drain(sock, 0.2) if f["type"] == "presence"]
        assert frames, "every socket gets the presence list"
        assert len(frames) <= bound, f"{len(frames)} lists for one socket, {bound} at most"
        assert sorted(p["id"] for p in frames[-1]["participants"]) == ids
    assert hub.presence_pushes - pushes <= bound + 1


@live_db
async def test_a_departure_reaches_the_others_after_a_burst(ws, live_meeting):
    """The trailing push of a window carries the last change: a socket that leaves right
    after a burst of presence changes is gone from the others' lists."""
    meeting, people = await sync_to_async(live_meeting)()
    a = await ws(people["a"], meeting)
    b = await ws(people["b"], meeting)
    await ws(people["fac"], meeting)
    b_id = b.welcome["you"]["participant_id"]
    await b.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2
    last = None
    while loop.time() < deadline:
        for f in await drain(a, 0.1):
            if f["type"] == "presence":
                last = f
        if last and b_id not in {p["id"] for p in last["participants"]}:
            break
    assert last is not None and b_id not in {p["id"] for p in last["participants"]}


@live_db
async def test_a_first_join_reaches_the_others_once(ws, live_meeting):
    """The join's event, published from the socket's connect after the join commits,
    reaches the sockets already there; the newcomer's welcome already holds it (its
    snapshot is read after the join) and it gets no copy of it."""
    meeting, people = await sync_to_async(live_meeting)()
    fac = await ws(people["fac"], meeting)
    newcomer = await ws(people["a"], meeting)
    me = newcomer.welcome["you"]["participant_id"]
    assert me in {p["id"] for p in newcomer.welcome["snapshot"]["participants"]}
    event = await fac.event("participant.joined")
    assert event["data"]["id"] == me and event["seq"] == newcomer.welcome["seq"]
    await asyncio.sleep(0.3)
    assert [f for f in await drain(newcomer, 0.2) if f["type"] == "event"] == []


def test_a_resume_reads_its_state_and_the_log_in_two_statements(
    db, meeting_factory, member_factory
):
    """A socket resuming with ``?after=``: its name and muting as they are now and the
    meeting's last seq in one statement, the missed events in another."""
    meeting = meeting_factory()
    user = member_factory(meeting.room)
    participant = services.participant_join(meeting=meeting, user=user)
    second = services.participant_join(meeting=meeting, user=member_factory(meeting.room))
    Participant.objects.filter(pk=participant.pk).update(display_name="Renamed", muted=True)
    viewer = wire.Viewer(participant.pk, Role.MEMBER, user.pk)
    with CaptureQueriesContext(connection) as ctx:
        frames, seq = selectors.stream_open(
            meeting_id=meeting.pk, participant=participant, viewer=viewer, after=1
        )
    # One round trip on PostgreSQL.
    want = ["SELECT"] if connection.vendor == "postgresql" else ["SELECT", "SELECT"]
    assert _statements(ctx.captured_queries) == want
    welcome, event = frames
    assert welcome["resumed"] is True and welcome["seq"] == 1
    assert welcome["you"]["name"] == "Renamed" and welcome["you"]["muted"] is True
    assert event["name"] == "participant.joined" and event["data"]["id"] == second.pk
    assert seq == event["seq"] == 2


@pytest.mark.parametrize(
    "case", ["guest", "removed", "guests_not_allowed", "other_meeting", "stranger"]
)
def test_a_guest_socket_is_one_statement(db, meeting_factory, case):
    """A guest's socket (no session, the guest cookie's key): the meeting, the room's
    permission and the participant in one statement; refused as before when any of them
    is missing (``NotFound``) or the guest was removed (``Forbidden``)."""
    meeting = meeting_factory()
    key = uuid.uuid4()
    guest = services.participant_join(meeting=meeting, guest_key=key, display_name="Gus")
    if case == "removed":
        Participant.objects.filter(pk=guest.pk).update(removed=True)
    elif case == "guests_not_allowed":
        Room.objects.filter(pk=meeting.room_id).update(allow_guests=False)
    elif case == "other_meeting":
        meeting = meeting_factory(room=meeting.room)
    elif case == "stranger":
        key = uuid.uuid4()
    with CaptureQueriesContext(connection) as ctx:
        if case == "guest":
            participant, viewer = _authorize(meeting, None, guest_key=key)
        else:
            with pytest.raises(Forbidden if case == "removed" else NotFound):
                _authorize(meeting, None, guest_key=key)
    assert _statements(ctx.captured_queries) == ["SELECT"]
    if case == "guest":
        assert participant.pk == guest.pk and participant.display_name == "Gus"
        assert participant.meeting.room_id == meeting.room_id and participant.user_id is None
        assert viewer == wire.Viewer(guest.pk, "guest", None)


def test_no_session_and_no_guest_key_is_refused_without_a_query(db, meeting_factory):
    meeting = meeting_factory()
    with CaptureQueriesContext(connection) as ctx, pytest.raises(NotFound):
        _authorize(meeting, None)
    assert ctx.captured_queries == []


# --------------------------------------------------------------------------- one database call


@live_db
async def test_a_first_join_is_one_database_call(ws, live_meeting, monkeypatch):
    """The socket joins the hub, then authorizes, writes the first join and reads its
    welcome in one database call (one thread hop), not one for the participant and
    another for the welcome."""
    from rooms import opener

    meeting, people = await sync_to_async(live_meeting)()
    calls: list[str] = []
    real = opener.database_call

    def counting(fn):
        calls.append(fn.__name__)
        return real(fn)

    monkeypatch.setattr(opener, "database_call", counting)
    sock = await ws(people["a"], meeting)
    assert calls == ["connection_open"]
    me = sock.welcome["you"]["participant_id"]
    assert me in {p["id"] for p in sock.welcome["snapshot"]["participants"]}
    assert meeting.pk in hub.sockets


@live_db
async def test_a_refused_socket_leaves_the_hub(connect, live_meeting, member_factory):
    """The hub is joined before authorizing: a socket refused (4404) is in it no more,
    and got nothing."""
    meeting, _people = await sync_to_async(live_meeting)()
    other, _ = await sync_to_async(live_meeting)()
    stranger = await sync_to_async(lambda: member_factory(other.room))()
    sock = await connect(stranger, meeting, expect_welcome=False)
    assert (sock.connected, sock.code) == (False, 4404)
    assert meeting.pk not in hub.sockets


async def test_presence_refresh_skips_sockets_not_welcomed_yet():
    """A socket in the hub but not welcomed yet has no presence entry (None): the hub's
    heartbeat renews the others' and lists nobody for it."""
    from rooms.presence import Entry, LocalPresence

    backend = LocalPresence(30)
    entry = Entry("c1", 7, "Ada", "member")
    await backend.refresh(1, [None, entry, None])
    assert await backend.list(1) == [entry.public()]


@pytest.mark.django_db(transaction=True)
def test_a_first_join_outside_any_transaction(meeting_factory, member_factory):
    """Outside any transaction (a socket's database thread), a first join on PostgreSQL
    is two round trips, its BEGIN and COMMIT included; a second join of the same user
    writes nothing and finds the first one's participant; a meeting gone is NotFound.
    Each leaves the connection idle (SQLite: the same outcomes through ``atomic``)."""
    meeting = meeting_factory()
    user = member_factory(meeting.room)
    published: list = []
    pg = connection.vendor == "postgresql"
    commands: list = []  # what psycopg sends on its own (a BEGIN or COMMIT round trip)
    if pg:
        connection.ensure_connection()
        cls = type(connection.connection)
        original = cls._exec_command

        def recording(self, command, *args, **kwargs):
            commands.append(command)
            return original(self, command, *args, **kwargs)

        cls._exec_command = recording
    try:
        with CaptureQueriesContext(connection) as ctx:
            first = services.participant_join(
                meeting=meeting, user=user, role=Role.MEMBER, into=published
            )
    finally:
        if pg:
            cls._exec_command = original
    if pg:
        # Django logs its block's BEGIN and COMMIT, which psycopg does not send.
        sent = [q["sql"][:6] for q in ctx.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
        assert sent == ["BEGIN;", "INSERT"]
        assert commands == []
        assert connection.connection.info.transaction_status == 0  # idle
    assert first.first_join is True
    ((meeting_id, (event,)),) = published
    assert meeting_id == meeting.pk and event["data"]["id"] == first.pk
    seq = Meeting.objects.get(pk=meeting.pk).last_seq
    assert seq == event["seq"]
    second = services.participant_join(meeting=meeting, user=user, role=Role.MEMBER)
    assert second.pk == first.pk and not hasattr(second, "first_join")
    assert Meeting.objects.get(pk=meeting.pk).last_seq == seq
    assert Participant.objects.filter(meeting=meeting, user=user).count() == 1
    if pg:
        assert connection.connection.info.transaction_status == 0
    gone = meeting_factory(room=meeting.room)
    Meeting.objects.filter(pk=gone.pk).delete()
    with pytest.raises(NotFound):
        services.participant_join(meeting=gone, user=user, role=Role.MEMBER)
    if pg:
        assert connection.connection.info.transaction_status == 0
    assert Participant.objects.filter(user=user).count() == 1
