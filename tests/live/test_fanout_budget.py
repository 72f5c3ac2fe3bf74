"""The fan-out budget (issue 7), counted rather than timed: one event to a meeting with
many sockets in this process costs one channel-layer message, and one render + encode per
distinct view, not one per socket."""

import pytest
from asgiref.sync import sync_to_async

from rooms import wire
from rooms.broadcast import meeting_group
from rooms.hub import hub

pytestmark = pytest.mark.django_db(transaction=True)

SOCKETS = 12


async def test_one_event_is_one_layer_message_per_process_and_one_render_per_view(
    connect, live_meeting, member_factory, monkeypatch
):
    """An idea posted to a meeting with 12 local sockets is published once, received once
    by this process, rendered twice (its author's view and everyone else's), and reaches
    all 12 sockets; the meeting's group holds one channel: the process's hub."""
    meeting, people = await sync_to_async(live_meeting)()
    room = await sync_to_async(lambda: meeting.room)()
    extra = [await sync_to_async(member_factory)(room) for _ in range(SOCKETS - 3)]
    users = [people["fac"], people["a"], people["b"], *extra]
    sockets = [await connect(u, meeting) for u in users]
    fac, author = sockets[0], sockets[1]
    assert (await fac.do("phase.set", phase="ideas"))["type"] == "ack"
    challenge = await fac.do("challenge.post", title="Trouver des clientes")
    for s in sockets:
        await s.event("challenge.posted")

    layer = hub.layer
    assert list(layer.groups[meeting_group(meeting.pk)]) == [hub.channel]

    published: list[str] = []
    real_send = layer.group_send

    async def counting_send(group, message):
        published.append(message["type"])
        return await real_send(group, message)

    received: list[str] = []
    real_dispatch = hub.dispatch

    async def counting_dispatch(message):
        received.append(message["type"])
        return await real_dispatch(message)

    renders: list[int] = []
    real_frame = wire.event_frame

    def counting_frame(event, viewer):
        renders.append(viewer.participant_id)
        return real_frame(event, viewer)

    monkeypatch.setattr(layer, "group_send", counting_send)
    monkeypatch.setattr(hub, "dispatch", counting_dispatch)
    monkeypatch.setattr(wire, "event_frame", counting_frame)

    ack = await author.do(
        "idea.post", challenge_id=challenge["result"]["id"], text="Un atelier découverte"
    )
    assert ack["type"] == "ack", ack
    frames = [await s.event("idea.posted") for s in sockets]

    assert {f["seq"] for f in frames} == {ack["seq"]}
    assert [f["data"]["mine"] for f in frames] == [s is author for s in sockets]
    assert published.count("meeting.events") == 1
    assert received.count("meeting.events") == 1
    assert len(renders) == 2, renders


async def test_events_that_arrive_out_of_order_reach_sockets_in_order_without_a_db_read(
    connect, live_meeting, monkeypatch
):
    """Two processes (or database threads) may publish seq N+2 before N+1: the hub holds
    N+2 for its predecessor, so every socket gets N+1 then N+2 and none reads the log."""
    from rooms import broadcast, selectors

    meeting, people = await sync_to_async(live_meeting)()
    sockets = [await connect(people[k], meeting) for k in ("fac", "a", "b")]
    fac, author = sockets[0], sockets[1]
    await fac.do("phase.set", phase="ideas")
    challenge = await fac.do("challenge.post", title="Recruter")
    for s in sockets:
        await s.event("challenge.posted")

    held: list[tuple[int, list]] = []
    monkeypatch.setattr(broadcast, "publish_events", lambda mid, events: held.append((mid, events)))

    async def hold(mid, events):  # the sockets' commands publish from the event loop
        held.append((mid, events))

    monkeypatch.setattr(broadcast, "publish_events_async", hold)
    reads: list[int] = []
    real_after = selectors.events_after

    def counting_after(**kwargs):
        reads.append(kwargs["after"])
        return real_after(**kwargs)

    monkeypatch.setattr(selectors, "events_after", counting_after)
    first = await author.do("idea.post", challenge_id=challenge["result"]["id"], text="Un")
    second = await author.do("idea.post", challenge_id=challenge["result"]["id"], text="Deux")
    assert second["seq"] == first["seq"] + 1 and len(held) == 2

    for mid, events in reversed(held):
        await hub.layer.group_send(
            meeting_group(mid), {"type": "meeting.events", "meeting_id": mid, "events": events}
        )
    for s in sockets:
        got = [(await s.event("idea.posted"))["seq"] for _ in range(2)]
        assert got == [first["seq"], second["seq"]]
    assert reads == []


async def test_a_gap_every_live_socket_already_has_is_not_waited_for(connect, live_meeting):
    """In a connect storm across processes, a process can subscribe to a meeting after
    another published some of its events: it never hears them, though its sockets'
    snapshots hold them. The hub used to hold every later event for REORDER_WINDOW
    (250 ms) waiting for them; it now hands them out at once when no live local socket
    lacks the missing seqs."""
    meeting, people = await sync_to_async(live_meeting)()
    fac, a = await connect(people["fac"], meeting), await connect(people["a"], meeting)
    assert (await fac.do("phase.set", phase="ideas"))["type"] == "ack"
    challenge = (await fac.do("challenge.post", title="Trouver des clientes"))["result"]["id"]
    await a.event("challenge.posted")
    # As if this process had heard seq N-2 and never the two after it (published by
    # another process before this one's subscription was in effect).
    hub._next_seq[meeting.pk] -= 2
    releases = hub.window_releases

    assert (await a.do("idea.post", challenge_id=challenge, text="Un atelier"))["type"] == "ack"
    posted = await fac.event("idea.posted")
    assert posted["data"]["text"] == "Un atelier"
    assert hub.window_releases == releases, "held for the reorder window"
    assert meeting.pk not in hub._late_timers
