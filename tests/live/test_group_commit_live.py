"""Group commit over the socket (issue 7): commands sent together by several sockets are
written in fewer transactions than commands, each still acknowledged once, with
consecutive seqs, and every socket sees every event once, in order."""

import pytest
from asgiref.sync import sync_to_async

from rooms.models import Idea
from rooms.writer import writer

pytestmark = pytest.mark.django_db(transaction=True)

PER_SOCKET = 10


async def test_commands_sent_together_share_transactions_and_keep_their_order(
    connect, live_meeting
):
    meeting, people = await sync_to_async(live_meeting)()
    sockets = [await connect(people[k], meeting) for k in ("fac", "a", "b")]
    fac = sockets[0]
    assert (await fac.do("phase.set", phase="ideas"))["type"] == "ack"
    challenge = (await fac.do("challenge.post", title="Trouver des clientes"))["result"]["id"]
    for s in sockets:
        await s.event("challenge.posted")

    batches_before = writer.batches
    sent = []
    for n in range(PER_SOCKET):  # sent without waiting: they queue while a batch is written
        for i, s in enumerate(sockets):
            sent.append((s, await s.send("idea.post", challenge_id=challenge, text=f"{i}.{n}")))
        if n == PER_SOCKET // 2:  # a refused command in the middle: its error, no effect
            bad = (sockets[1], await sockets[1].send("idea.post", challenge_id=999_999, text="x"))
    acks = [await s.answer(ref, timeout=10) for s, ref in sent]
    refused = await bad[0].answer(bad[1], timeout=10)
    assert (refused["type"], refused["code"], refused["field"]) == (
        "error",
        "not_found",
        "challenge_id",
    )

    assert {a["type"] for a in acks} == {"ack"}, acks
    seqs = sorted(a["seq"] for a in acks)
    assert seqs == list(range(seqs[0], seqs[0] + len(acks)))
    batches = writer.batches - batches_before
    assert batches < len(acks), f"{len(acks)} commands took {batches} transactions"
    for s in sockets:
        got = [(await s.event("idea.posted", timeout=10))["seq"] for _ in acks]
        assert got == seqs
    count = await sync_to_async(Idea.objects.filter(meeting_id=meeting.pk).count)()
    assert count == len(acks)
