import pytest

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_post_is_seen_by_the_other_socket_with_the_same_seq(connect, live_meeting):
    """Two members in one meeting: what one posts, the other sees with the same seq."""
    from asgiref.sync import sync_to_async

    meeting, people = await sync_to_async(live_meeting)()
    a = await connect(people["a"], meeting)
    b = await connect(people["b"], meeting)
    assert a.welcome["snapshot"]["meeting"]["state"] == "live"
    ack = await a.do("challenge.post", title="Fixer mes prix")
    assert ack["type"] == "ack", ack
    ev_a = await a.event("challenge.posted")
    ev_b = await b.event("challenge.posted")
    assert ev_a["seq"] == ev_b["seq"] == ack["seq"]
    await a.do("phase.next")
