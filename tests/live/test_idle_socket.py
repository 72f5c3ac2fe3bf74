"""What an idle meeting socket holds (issue 7: memory per idle socket): no writer task, no
outbox and no rate-limit bucket, and no task of its own beside the application's; the
writer runs only while frames wait, and the socket is idle again after them. Counted,
not timed."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from rooms.hub import hub
from tests.live.fixtures_extra import drain

pytestmark = pytest.mark.django_db(transaction=True)


def _idle(consumer) -> bool:
    return consumer.writer is None and consumer.outbox is None and not consumer.writing


async def test_an_idle_socket_holds_no_writer_outbox_or_task_of_its_own(connect, live_meeting):
    meeting, people = await sync_to_async(live_meeting)()
    first = await connect(people["owner"], meeting)  # starts the hub's own tasks
    await drain(first, 0.3)
    before = len(asyncio.all_tasks())
    others = [await connect(people[k], meeting) for k in ("fac", "a", "b")]
    for sock in [first, *others]:
        await drain(sock, 0.3)  # presence lists, then nothing
    consumers = list(hub.sockets[meeting.pk])
    assert len(consumers) == 4
    for consumer in consumers:
        assert _idle(consumer)
        assert consumer.bucket is None  # and no task or set for replies: the writer sends them
        # Its state is in slots (MeetingConsumer.__slots__), and the router's copy of the
        # scope was let go after connect.
        assert consumer.__dict__ == {}, f"not in __slots__: {sorted(consumer.__dict__)}"
        assert not consumer.scope
    # One task per socket: the one the server runs the application in (here the
    # communicator's). Channels' await_many_dispatch added one waiting on receive, and the
    # always-running writer a third.
    assert len(asyncio.all_tasks()) - before == len(others)
    # And in that task, no frame between the router and the consumer: the origin check,
    # the cookie middleware, the URL router and as_asgi hand back the next coroutine.
    chains = [_frames(t.get_coro()) for t in asyncio.all_tasks()]
    apps = [c for c in chains if c[0] == "ProtocolTypeRouter.__call__"]
    assert len(apps) == 4
    for chain in apps:
        assert chain[1] == "MeetingConsumer.__call__", chain


def _frames(coro) -> list[str]:
    """The coroutines a task is suspended in, outermost first."""
    names = []
    while coro is not None and hasattr(coro, "cr_code"):
        names.append(coro.cr_code.co_qualname)
        coro = coro.cr_await
    return names or ["?"]


async def test_a_socket_is_idle_again_after_it_was_sent_frames(connect, live_meeting):
    meeting, people = await sync_to_async(live_meeting)()
    fac = await connect(people["fac"], meeting)
    a = await connect(people["a"], meeting)
    b = await connect(people["b"], meeting)
    challenge_id = (await fac.do("challenge.post", title="Prices"))["result"]["id"]
    assert (await fac.do("phase.set", phase="ideas"))["type"] == "ack"
    for n in range(5):
        assert (await a.do("idea.post", challenge_id=challenge_id, text=f"idea {n}"))["type"] == (
            "ack"
        )
    seqs = [(await b.event("idea.posted"))["seq"] for _ in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5  # written in order, once each
    for sock in (fac, a, b):
        await drain(sock, 0.3)
    for consumer in hub.sockets[meeting.pk]:
        assert _idle(consumer)
    assert hub.sockets[meeting.pk]  # and still connected
    assert (await b.do("idea.post", challenge_id=challenge_id, text="again"))["type"] == "ack"
