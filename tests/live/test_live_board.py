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
