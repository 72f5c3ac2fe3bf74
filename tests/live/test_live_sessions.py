"""One person, several sockets: idempotent retries, presence, removal and logout."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.test import Client

from rooms import presence
from rooms.hub import hub
from rooms.models import Challenge, CommandReceipt
from tests.live.conftest import ORIGIN
from tests.live.fixtures_extra import drain, events, join_as_guest

pytestmark = pytest.mark.django_db(transaction=True)


async def _count(model, **filters) -> int:
    return await sync_to_async(model.objects.filter(**filters).count)()


async def test_a_retried_ref_is_answered_once_on_one_socket_and_across_two(ws, live_meeting):
    """The same ref sent twice on one socket, or at once on two sockets of the same
    user, writes one row and one event, and every answer is the same ack."""
    meeting, people = await sync_to_async(live_meeting)()
    tab1 = await ws(people["a"], meeting)
    tab2 = await ws(people["a"], meeting)
    watcher = await ws(people["b"], meeting)
    assert tab1.welcome["you"] == tab2.welcome["you"]

    first = await tab1.do("challenge.post", ref="same-1", title="Une fois")
    again = await tab1.do("challenge.post", ref="same-1", title="Une fois")
    assert first["type"] == "ack" and again == first

    await tab1.send("challenge.post", ref="same-2", title="En même temps")
    await tab2.send("challenge.post", ref="same-2", title="En même temps")
    one, two = await tab1.answer("same-2"), await tab2.answer("same-2")
    assert one["type"] == "ack" and one == two

    assert await _count(Challenge, meeting=meeting) == 2
    assert await _count(CommandReceipt, ref__startswith="same-") == 2
    posted = [f for f in events(await drain(watcher, 0.3)) if f["name"] == "challenge.posted"]
    assert [f["seq"] for f in posted] == [first["seq"], one["seq"]]


async def test_presence_counts_people_not_tabs_and_heals(ws, live_meeting, settings):
    """Two tabs of one person show once; closing one tab keeps them present, closing
    both removes them for the others; an entry whose heartbeat stops (a killed web
    process) disappears after the TTL."""
    settings.PAUSE_PRESENCE_TTL = 1
    meeting, people = await sync_to_async(live_meeting)()
    b = await ws(people["b"], meeting)
    a1 = await ws(people["a"], meeting)
    a2 = await ws(people["a"], meeting)
    a_id = a1.welcome["you"]["participant_id"]
    b_id = b.welcome["you"]["participant_id"]

    async def present(sock, pred, timeout=4.0):
        """The latest presence list of ``sock`` once it satisfies ``pred``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await drain(sock, 0.1)
            lists = [f["participants"] for f in sock.frames if f["type"] == "presence"]
            ids = [p["id"] for p in lists[-1]] if lists else []
            if pred(ids) or loop.time() > deadline:
                return ids

    ids = await present(b, lambda ids: a_id in ids)
    assert sorted(ids) == sorted({a_id, b_id}), ids

    await a2.close()
    await drain(b, 0.3)
    assert a_id in await present(b, lambda ids: True)

    ghost = presence.Entry("ghost-conn", 987654, "Ghost of a killed process", "member")
    await presence.presence_backend().add(meeting.pk, ghost)
    await a1.close()
    both = sorted([b_id, 987654])
    assert sorted(await present(b, lambda ids: sorted(ids) == both)) == both
    assert await present(b, lambda ids: ids == [b_id], timeout=4) == [b_id]


async def test_a_heartbeat_that_changes_nothing_sends_no_presence_list(ws, live_meeting, settings):
    """The heartbeat heals lists (the test above); when nobody came or went it sends
    nothing: before, every heartbeat pushed every meeting's list to all its sockets (with
    1,000 sockets, 1,000 frames in one burst every 10 s)."""
    settings.PAUSE_PRESENCE_TTL = 0.6  # a heartbeat every 0.2 s
    meeting, people = await sync_to_async(live_meeting)()
    a = await ws(people["a"], meeting)
    b = await ws(people["b"], meeting)
    await asyncio.sleep(0.5)  # the joins' pushes, and a couple of heartbeats
    await drain(a, 0.1)
    await drain(b, 0.1)
    pushes = hub.presence_pushes
    a.frames.clear()
    await asyncio.sleep(0.9)  # four heartbeats
    await drain(a, 0.1)
    assert [f for f in a.frames if f["type"] == "presence"] == []
    assert hub.presence_pushes == pushes


async def test_a_removed_participant_is_disconnected_with_a_closing_frame(ws, live_meeting):
    """When a facilitator removes a guest, the guest's socket gets the update, then
    ``closing`` (reason ``removed``), then is closed; the others keep going."""
    meeting, people = await sync_to_async(live_meeting)()
    guest, headers = await join_as_guest(meeting)
    fac = await ws(people["fac"], meeting)
    g = await ws(None, meeting, headers=headers)
    a = await ws(people["a"], meeting)
    ack = await fac.do("participant.remove", participant_id=guest.pk)
    assert ack["type"] == "ack"
    update = await g.event("participant.updated")
    assert update["data"]["removed"] is True and update["data"]["id"] == guest.pk
    closing = await g.until(lambda f: f["type"] == "closing")
    assert closing["reason"] == "removed"
    assert (await g.c.receive_output(2))["type"] == "websocket.close"
    assert (await a.event("participant.updated"))["seq"] == ack["seq"]
    again = await ws(None, meeting, headers=headers, expect_welcome=False)
    assert again.connected is False


async def test_logging_out_over_http_closes_the_users_sockets(ws, live_meeting):
    """``logout`` on the web closes every socket that used that session within seconds,
    with a ``closing`` frame; the other users' sockets stay open; the cookie no longer
    opens a socket."""
    meeting, people = await sync_to_async(live_meeting)()
    client = Client()
    await sync_to_async(client.force_login)(people["a"])
    name = django_settings.SESSION_COOKIE_NAME
    headers = [ORIGIN, (b"cookie", f"{name}={client.cookies[name].value}".encode())]
    tab1 = await ws(None, meeting, headers=headers)
    tab2 = await ws(None, meeting, headers=headers)
    b = await ws(people["b"], meeting)
    assert tab1.welcome["you"]["name"] == tab2.welcome["you"]["name"]

    started = asyncio.get_running_loop().time()
    await sync_to_async(client.logout)()
    for tab in (tab1, tab2):
        closing = await tab.until(lambda f: f["type"] == "closing", timeout=5)
        assert closing["reason"] == "logged_out"
        assert (await tab.c.receive_output(2))["type"] == "websocket.close"
    assert asyncio.get_running_loop().time() - started < 5
    assert (await b.do("challenge.post", title="Toujours là"))["type"] == "ack"
    refused = await ws(None, meeting, headers=headers, expect_welcome=False)
    assert refused.connected is False


async def test_a_member_removed_from_the_room_stops_receiving_its_live_meetings(ws, live_meeting):
    """Once the owner removes someone from the room, that person's open sockets on the
    room's meetings are closed (``closing``), so they stop receiving the board."""
    from rooms.models import Membership, Role
    from rooms.services import rooms as room_services

    meeting, people = await sync_to_async(live_meeting)()
    a = await ws(people["a"], meeting)

    def remove():
        membership = Membership.objects.get(room=meeting.room, user=people["a"])
        room_services.membership_remove(actor=people["owner"], membership=membership)
        assert not Membership.objects.filter(room=meeting.room, user=people["a"]).exists()
        return Role.MEMBER

    await sync_to_async(remove)()
    closing = await a.until(lambda f: f["type"] == "closing", timeout=3)
    assert closing["reason"] == "forbidden"


async def test_a_role_change_closes_the_sockets_so_they_come_back_with_the_new_role(
    ws, live_meeting
):
    """Sockets render what they are sent for the role they were opened with: a member made
    facilitator (or a facilitator made member) is closed with ``role_changed`` and the
    next welcome carries the new role, so a demoted facilitator stops seeing what only
    facilitators see."""
    from rooms.models import Membership, Role
    from rooms.services import rooms as room_services

    meeting, people = await sync_to_async(live_meeting)()
    a = await ws(people["a"], meeting)
    b = await ws(people["b"], meeting)
    assert a.welcome["you"]["role"] == "member"

    def promote():
        membership = Membership.objects.get(room=meeting.room, user=people["a"])
        room_services.membership_set_role(
            actor=people["owner"], membership=membership, role=Role.FACILITATOR
        )

    await sync_to_async(promote)()
    closing = await a.until(lambda f: f["type"] == "closing", timeout=3)
    assert closing["reason"] == "role_changed"
    assert (await a.c.receive_output(2))["type"] == "websocket.close"
    again = await ws(people["a"], meeting)
    assert again.welcome["you"]["role"] == "facilitator"
    await b.quiet()
    assert all(f["type"] != "closing" for f in b.frames)  # only that member's sockets
