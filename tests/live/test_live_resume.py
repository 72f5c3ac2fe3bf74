"""Resume by cursor, resync when the cursor cannot be served, and the shared timer."""

import datetime as dt

import pytest
from asgiref.sync import sync_to_async

from rooms.models import Meeting
from tests.live.fixtures_extra import ClientState, drain, events

pytestmark = pytest.mark.django_db(transaction=True)


async def _last_seq(meeting) -> int:
    return await sync_to_async(lambda: Meeting.objects.get(pk=meeting.pk).last_seq)()


async def test_resume_after_n_gets_exactly_the_missed_events(ws, live_meeting, settings):
    """A client that comes back with ``after=N`` gets ``welcome`` (resumed, no snapshot)
    then exactly the events after N, in order, and its state equals a fresh snapshot; an
    up-to-date cursor gets no event; a cursor past the log (or not a number) and one
    older than the retention get ``welcome`` then ``resync`` with a snapshot."""
    meeting, people = await sync_to_async(live_meeting)()
    fac = await ws(people["fac"], meeting)
    a = await ws(people["a"], meeting)
    b = await ws(people["b"], meeting)
    state = ClientState(a.welcome)
    challenge = (await a.do("challenge.post", title="Un"))["result"]["id"]
    assert (await fac.do("phase.next"))["type"] == "ack"
    await a.event("phase.changed")
    await drain(a)
    state.feed(a.frames)
    n = state.seq
    assert n == await _last_seq(meeting)
    await a.close()

    for text in ("un", "deux", "trois"):
        assert (await b.do("idea.post", challenge_id=challenge, text=text))["type"] == "ack"
    last = await _last_seq(meeting)
    assert last == n + 3

    back = await ws(people["a"], meeting, after=n)
    assert back.welcome["resumed"] is True and back.welcome["snapshot"] is None
    assert back.welcome["seq"] == n
    got = events(await drain(back, 0.3))
    assert [f["seq"] for f in got] == list(range(n + 1, last + 1))
    assert [f["data"]["text"] for f in got] == ["un", "deux", "trois"]
    state.feed(got)
    await back.c.send_to(text_data='{"type": "sync"}')
    fresh = await back.until(lambda f: f["type"] == "resync")
    assert fresh["reason"] == "requested" and fresh["seq"] == last
    assert state.snapshot == fresh["snapshot"]

    current = await ws(people["a"], meeting, after=last)
    assert current.welcome["resumed"] is True
    assert events(await drain(current)) == []

    for after, reason in ((last + 5, "cursor_unknown"), ("abc", "cursor_unknown")):
        s = await ws(people["a"], meeting, after=after)
        assert s.welcome["resumed"] is False and s.welcome["seq"] == last
        resync = await s.until(lambda f: f["type"] == "resync")
        assert resync["reason"] == reason and resync["seq"] == last
        assert len(resync["snapshot"]["ideas"]) == 3

    settings.PAUSE_EVENT_RETENTION = 2
    old = await ws(people["a"], meeting, after=n)
    resync = await old.until(lambda f: f["type"] == "resync")
    assert resync["reason"] == "cursor_too_old"
    assert resync["snapshot"] == fresh["snapshot"]
    assert events(await drain(old)) == []


async def test_the_timer_is_the_same_for_every_client_and_survives_a_reconnect(ws, live_meeting):
    """The facilitator's timer gives both clients the same end time; pausing and adding
    time are reflected for both; a client that reconnects mid-phase sees the timer."""
    meeting, people = await sync_to_async(live_meeting)()
    fac = await ws(people["fac"], meeting)
    a = await ws(people["a"], meeting)
    b = await ws(people["b"], meeting)

    async def timer(type_, **fields):
        """Run a timer command; both members' copies of its event, which must agree."""
        ack = await fac.do(type_, **fields)
        assert ack["type"] == "ack", ack
        seen = [
            (await s.until(lambda f: f["type"] == "event" and f["seq"] == ack["seq"]))
            for s in (a, b)
        ]
        assert seen[0] == seen[1]
        return ack, seen[0]["data"]["timer"]

    ack, started = await timer("timer.start", seconds=300)
    assert started["ends_at"] == ack["result"]["ends_at"] and started["remaining_ms"] is None
    server_time = dt.datetime.fromisoformat(a.welcome["server_time"])
    left = dt.datetime.fromisoformat(started["ends_at"]) - server_time
    assert 295 <= left.total_seconds() <= 305

    _, paused = await timer("timer.pause")
    assert paused["ends_at"] is None
    assert 290_000 <= paused["remaining_ms"] <= 300_000

    _, added = await timer("timer.add", seconds=60)
    assert added["remaining_ms"] == paused["remaining_ms"] + 60_000
    _, running = await timer("timer.resume")
    assert running["remaining_ms"] is None and running["ends_at"] > started["ends_at"]

    await a.close()
    again = await ws(people["a"], meeting)
    assert again.welcome["snapshot"]["meeting"]["timer"] == running
    await fac.do("phase.next")
    assert (await again.event("phase.changed"))["data"]["timer"] == {
        "ends_at": None,
        "remaining_ms": None,
    }


def _write_unbroadcast_event(meeting, author_user):
    """A change whose channel-layer message was lost (the layer drops when full, or a
    process died between commit and send): in the log, never delivered live."""
    from django.db import transaction
    from django.utils import timezone

    from rooms import wire
    from rooms.models import Challenge, MeetingEvent, Participant

    with transaction.atomic():
        m = Meeting.objects.select_for_update().get(pk=meeting.pk)
        owner = Participant.objects.get(meeting=m, user=author_user)
        c = Challenge.objects.create(meeting=m, owner=owner, title="Perdu en route", position=9)
        m.last_seq += 1
        m.save(update_fields=["last_seq"])
        MeetingEvent.objects.create(
            meeting=m,
            seq=m.last_seq,
            name="challenge.posted",
            actor=owner,
            data=wire.challenge_data(c),
            at=timezone.now(),
        )
    return m.last_seq


async def test_a_lost_live_event_is_read_from_the_log_before_the_next_one(ws, live_meeting):
    """When the live stream skips a seq, the server reads the missing events from the log
    and sends them in order before the next one: the client sees no gap."""
    meeting, people = await sync_to_async(live_meeting)()
    a = await ws(people["a"], meeting)
    fac = await ws(people["fac"], meeting)
    lost = await sync_to_async(_write_unbroadcast_event)(meeting, people["a"])
    ack = await fac.do("board.lock", locked=True)
    assert ack["seq"] == lost + 1
    got = [f for f in events(await drain(a, 0.4)) if f["seq"] >= lost]
    assert [(f["seq"], f["name"]) for f in got] == [
        (lost, "challenge.posted"),
        (lost + 1, "board.locked"),
    ]
    state = ClientState(a.welcome)
    state.feed(a.frames)
    assert [c["title"] for c in state.snapshot["challenges"]] == ["Perdu en route"]


async def test_a_lost_last_event_reaches_the_sockets_at_the_next_heartbeat(
    ws, live_meeting, settings
):
    """When the lost event is the meeting's last one, no later event reveals the gap: the
    hub compares its sockets with the log at each heartbeat and they read it."""
    from rooms import presence

    settings.PAUSE_PRESENCE_TTL = 0.6  # heartbeat every 0.2 s
    presence.reset_backend()
    meeting, people = await sync_to_async(live_meeting)()
    a = await ws(people["a"], meeting)
    lost = await sync_to_async(_write_unbroadcast_event)(meeting, people["a"])
    got = [f for f in events(await drain(a, 1.0)) if f["seq"] >= lost]
    assert [(f["seq"], f["name"]) for f in got] == [(lost, "challenge.posted")]
