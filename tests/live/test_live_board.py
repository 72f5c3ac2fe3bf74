"""Several sockets in one meeting: every change reaches everyone with the same seq, and
each viewer receives only what it may see."""

import json

import pytest
from asgiref.sync import sync_to_async

from rooms.models import Idea
from tests.live.fixtures_extra import ClientState, events, join_as_guest

pytestmark = pytest.mark.django_db(transaction=True)


def _seqs_are_consecutive(sock) -> None:
    seqs = [f["seq"] for f in events(sock.frames)]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


async def test_every_change_reaches_every_socket_with_one_seq_and_only_what_each_may_see(
    ws, live_meeting
):
    """A facilitator, two members and a guest: each command's events arrive on all four
    sockets with the ack's seq; anonymous authors, hidden texts and removal reasons reach
    only those allowed; every socket's state (welcome + events) equals a fresh snapshot."""
    meeting, people = await sync_to_async(live_meeting)(anonymity="optional")
    guest, guest_headers = await join_as_guest(meeting)
    fac = await ws(people["fac"], meeting)
    a = await ws(people["a"], meeting)
    b = await ws(people["b"], meeting)
    g = await ws(None, meeting, headers=guest_headers)
    everyone = {"fac": fac, "a": a, "b": b, "guest": g}
    assert g.welcome["you"] == {
        "participant_id": guest.pk,
        "name": "Gaby Guest",
        "role": "guest",
        "facilitator": False,
        "muted": False,
    }
    assert fac.welcome["you"]["facilitator"] is True
    states = {name: ClientState(s.welcome) for name, s in everyone.items()}

    async def command(sock, type_, **fields):
        """Send, check the ack, and return each socket's copy of the events it wrote."""
        ack = await sock.do(type_, **fields)
        assert ack["type"] == "ack", ack
        got = {}
        for name, s in everyone.items():
            frame = await s.until(lambda f: f["type"] == "event" and f["seq"] == ack["seq"])
            got[name] = frame
        return ack, got

    ack, _ = await command(a, "challenge.post", title="Fixer mes prix")
    challenge = ack["result"]["id"]
    await command(fac, "phase.set", phase="ideas")

    # An anonymous idea: its author only for its author, and no actor for the others.
    ack, got = await command(a, "idea.post", challenge_id=challenge, text="Anonyme", anonymous=True)
    anonymous_idea = ack["result"]["id"]
    assert got["a"]["data"]["author"]["id"] == got["a"]["actor"]
    assert got["a"]["data"]["mine"] is True
    for name in ("fac", "b", "guest"):
        assert got[name]["data"]["author"] is None, name
        assert got[name]["actor"] is None, name
        assert got[name]["data"]["text"] == "Anonyme"

    # A guest's question, named.
    ack, got = await command(g, "idea.post", challenge_id=challenge, text="Et?", kind="question")
    assert got["b"]["data"]["author"] == {"id": guest.pk, "name": "Gaby Guest"}

    # Hidden until reveal: the text only for its author, then for everyone.
    await command(fac, "meeting.settings", hide_until_reveal=True)
    ack, got = await command(b, "idea.post", challenge_id=challenge, text="CACHÉ")
    hidden_idea = ack["result"]["id"]
    assert got["b"]["data"]["text"] == "CACHÉ"
    for name in ("fac", "a", "guest"):
        assert got[name]["data"]["text"] == "" and got[name]["data"]["hidden"], name
        assert "CACHÉ" not in json.dumps(got[name], ensure_ascii=False)
    _, got = await command(fac, "ideas.reveal", challenge_id=challenge)
    for name in everyone:
        assert [i["text"] for i in got[name]["data"]["ideas"]] == ["CACHÉ"], name

    # A reply, a vote and a reaction: counts for all, "mine" only for who did it.
    await command(fac, "meeting.settings", hide_until_reveal=False)
    await command(b, "reply.post", idea_id=anonymous_idea, text="Oui, et…", anonymous=True)
    _, got = await command(g, "reaction.toggle", idea_id=anonymous_idea, emoji="💡")
    assert got["guest"]["data"]["mine"] is True and got["a"]["data"]["mine"] is None
    assert {f["data"]["count"] for f in got.values()} == {1}
    await command(fac, "phase.set", phase="vote")
    _, got = await command(a, "vote.cast", idea_id=hidden_idea)
    assert got["a"]["data"] == {"idea_id": hidden_idea, "votes": 1, "mine": True}
    assert got["b"]["data"] == {"idea_id": hidden_idea, "votes": 1, "mine": None}
    assert got["b"]["actor"] is None

    # Removal: the reason for the author and facilitators only.
    _, got = await command(fac, "idea.remove", idea_id=hidden_idea, reason="hors sujet")
    assert got["b"]["data"]["reason"] == got["fac"]["data"]["reason"] == "hors sujet"
    assert got["a"]["data"]["reason"] is None and got["guest"]["data"]["reason"] is None

    # Nobody received a frame naming the anonymous author, except the author.
    author_id = a.welcome["you"]["participant_id"]
    for name in ("fac", "b", "guest"):
        for f in events(everyone[name].frames):
            data = f["data"]
            if f["name"] in ("idea.posted", "idea.edited") and data["id"] == anonymous_idea:
                assert data["author"] is None
            assert not (f["name"].startswith("idea") and f["actor"] == author_id), f

    # Each socket applied its events in order and holds the server's state for it.
    for name, sock in everyone.items():
        _seqs_are_consecutive(sock)
        states[name].feed(sock.frames)
        await sock.c.send_to(text_data=json.dumps({"type": "sync"}))
        fresh = await sock.until(lambda f: f["type"] == "resync")
        assert fresh["reason"] == "requested"
        assert fresh["seq"] == states[name].seq
        assert states[name].snapshot == fresh["snapshot"], name
    assert await sync_to_async(Idea.objects.filter(meeting=meeting).count)() == 3


@pytest.fixture
def scheduled_meeting(meeting_factory, member_factory):
    def make():
        from rooms.models import Role

        meeting = meeting_factory(anonymity="optional")
        people = {name: member_factory(meeting.room) for name in ("a", "b")}
        people["fac"] = member_factory(meeting.room, Role.FACILITATOR)
        return meeting, people

    return make


async def test_every_command_type_works_over_the_socket_and_reaches_everyone(
    ws, scheduled_meeting, settings
):
    """Each of the protocol's commands, sent as JSON by a real client, is acknowledged and
    its events reach the facilitator, the challenge owner and a guest with the ack's seq;
    at the end each client's applied state equals the server's snapshot for it."""
    from rooms.protocol import COMMAND_TYPES

    settings.PAUSE_RATE_LIMIT_BURST = 1000  # a scripted facilitator is faster than a human
    meeting, people = await sync_to_async(scheduled_meeting)()
    _guest, guest_headers = await join_as_guest(meeting)
    fac = await ws(people["fac"], meeting)
    a = await ws(people["a"], meeting)
    g = await ws(None, meeting, headers=guest_headers)
    b_id = (await ws(people["b"], meeting)).welcome["you"]["participant_id"]
    socks = {"fac": fac, "a": a, "guest": g}
    states = {n: ClientState(s.welcome) for n, s in socks.items()}
    done: set[str] = set()

    async def run(sock, type_, **fields):
        ack = await sock.do(type_, **fields)
        assert ack["type"] == "ack", (type_, ack)
        done.add(type_)
        if ack["seq"] is not None:
            for s in socks.values():
                await s.until(lambda f: f["type"] == "event" and f["seq"] == ack["seq"])
        return ack["result"]

    await run(fac, "meeting.settings", anonymity="optional", vote_budget=3)
    c1 = (await run(a, "challenge.post", title="Prix", context="c", ask="q"))["id"]
    c2 = (await run(a, "challenge.post", title="Autre"))["id"]
    await run(a, "challenge.edit", challenge_id=c1, title="Mes prix")
    await run(fac, "challenge.reorder", challenge_ids=[c2, c1])
    await run(a, "challenge.withdraw", challenge_id=c2)
    await run(fac, "meeting.start")
    await run(fac, "phase.next")
    i1 = (await run(a, "idea.post", challenge_id=c1, text="Une", anonymous=True))["id"]
    i2 = (await run(g, "idea.post", challenge_id=c1, text="Deux", kind="question"))["id"]
    await run(a, "idea.edit", idea_id=i1, text="Une bis")
    await run(g, "reply.post", idea_id=i1, text="Oui et", anonymous=True)
    await run(g, "reaction.toggle", idea_id=i1, emoji="🎉")
    await run(fac, "idea.spotlight", idea_id=i1)
    await run(fac, "idea.spotlight", idea_id=None)
    await run(fac, "meeting.settings", hide_until_reveal=True)
    i3 = (await run(g, "idea.post", challenge_id=c1, text="Cachée"))["id"]
    await run(fac, "ideas.reveal", challenge_id=c1)
    k = (await run(fac, "cluster.create", challenge_id=c1, name="Prix"))["id"]
    await run(fac, "cluster.rename", cluster_id=k, name="Tarifs")
    await run(fac, "idea.move", idea_id=i1, cluster_id=k)
    await run(fac, "cluster.delete", cluster_id=k)
    await run(g, "idea.delete", idea_id=i2)
    await run(fac, "board.lock", locked=True)
    await run(fac, "board.lock", locked=False)
    await run(fac, "participant.mute", participant_id=b_id, muted=True)
    await run(fac, "participant.remove", participant_id=b_id)
    await run(fac, "phase.next")
    await run(g, "vote.cast", idea_id=i3)
    await run(g, "vote.retract", idea_id=i3)
    await run(fac, "phase.prev")
    await run(fac, "phase.set", phase="wrapup")
    await run(fac, "timer.start", seconds=120)
    await run(fac, "timer.pause")
    await run(fac, "timer.add", seconds=30)
    await run(fac, "timer.resume")
    await run(fac, "timer.clear")
    await run(fac, "idea.remove", idea_id=i3, reason="doublon")
    act = await run(
        a, "action.post", challenge_id=c1, text="Go", due_date="2031-01-15", idea_ids=[i1]
    )
    await run(a, "action.status", action_id=act["id"], status="in_progress", note="en cours")
    await run(g, "takeaway.post", text="Merci", anonymous=True)
    await run(fac, "meeting.end")
    assert done == set(COMMAND_TYPES), set(COMMAND_TYPES) - done

    for name, sock in socks.items():
        states[name].feed(sock.frames)
        await sock.c.send_to(text_data=json.dumps({"type": "sync"}))
        fresh = await sock.until(lambda f: f["type"] == "resync")
        assert fresh["seq"] == states[name].seq
        assert states[name].snapshot == fresh["snapshot"], name
    action = states["guest"].snapshot["actions"][0]
    assert action["due_date"] == "2031-01-15" and action["idea_ids"] == [i1]
