"""The embedded default's channel layer keeps the in-memory layer's semantics for what
Pause uses: groups, capacity, expiry, and messages a receiver cannot change for another."""

import asyncio

import pytest
from channels.exceptions import ChannelFull

from rooms import layers
from rooms.layers import LocalChannelLayer


async def test_a_group_message_reaches_every_member_once():
    layer = LocalChannelLayer()
    a, b = await layer.new_channel("hub."), await layer.new_channel("hub.")
    await layer.group_add("meeting-1", a)
    await layer.group_add("meeting-1", b)
    await layer.group_add("meeting-2", b)
    await layer.group_send("meeting-1", {"type": "meeting.events", "events": [{"seq": 1}]})
    got_a = await asyncio.wait_for(layer.receive(a), 1)
    got_b = await asyncio.wait_for(layer.receive(b), 1)
    assert got_a == got_b == {"type": "meeting.events", "events": [{"seq": 1}]}
    assert layer.channels.get(b) is None  # nothing more for b: meeting-2 got nothing
    await layer.group_discard("meeting-1", a)
    await layer.group_send("meeting-1", {"type": "x"})
    assert layer.channels.get(a) is None
    assert await asyncio.wait_for(layer.receive(b), 1) == {"type": "x"}


async def test_receivers_get_their_own_message_dict_and_lists():
    layer = LocalChannelLayer()
    a, b = await layer.new_channel("hub."), await layer.new_channel("hub.")
    for ch in (a, b):
        await layer.group_add("g", ch)
    sent = {"type": "meeting.events", "events": [{"seq": 1}]}
    await layer.group_send("g", sent)
    got_a, got_b = await layer.receive(a), await layer.receive(b)
    got_a["events"].append({"seq": 2})
    got_a["type"] = "changed"
    assert got_b == {"type": "meeting.events", "events": [{"seq": 1}]}
    assert sent == {"type": "meeting.events", "events": [{"seq": 1}]}


async def test_a_full_channel_misses_group_messages_and_refuses_direct_ones():
    layer = LocalChannelLayer(capacity=2)
    ch = await layer.new_channel("hub.")
    await layer.group_add("g", ch)
    for i in range(3):
        await layer.group_send("g", {"type": "m", "i": i})  # the third is dropped
    with pytest.raises(ChannelFull):
        await layer.send(ch, {"type": "m", "i": 3})
    assert [(await layer.receive(ch))["i"] for _ in range(2)] == [0, 1]


async def test_group_membership_does_not_expire_but_messages_do():
    # group_expiry=0: Channels' layer would end every membership at its next sweep.
    layer = LocalChannelLayer(expiry=-1, group_expiry=0)
    hub_channel, gone = await layer.new_channel("hub."), await layer.new_channel("hub.")
    await layer.group_add("pause-control", hub_channel)
    await layer.group_add("g", gone)
    await layer.send(gone, {"type": "old"})  # expiry=-1: already stale
    layer._swept_at = 0.0
    layer._clean_expired()
    assert hub_channel in layer.groups["pause-control"]
    # A message nobody received within ``expiry`` is swept and, as in Channels' layer,
    # its channel leaves the groups: a receiver that stopped reading is gone.
    assert gone not in layer.channels
    assert gone not in layer.groups["g"]


async def test_expired_entries_are_swept_at_most_once_per_interval(monkeypatch):
    layer = LocalChannelLayer()
    sweeps = []
    monkeypatch.setattr(
        layers.InMemoryChannelLayer, "_clean_expired", lambda self: sweeps.append(1)
    )
    ch = await layer.new_channel("hub.")
    await layer.group_add("g", ch)
    for _ in range(50):
        await layer.group_send("g", {"type": "m"})
    assert len(sweeps) == 1
    layer._swept_at -= layers.SWEEP_EVERY
    await layer.group_send("g", {"type": "m"})
    assert len(sweeps) == 2
