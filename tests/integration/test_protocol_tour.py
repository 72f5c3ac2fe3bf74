"""Every command of the live protocol over a real daphne, with the command-line client.

One meeting goes through its whole life: three members, a facilitator and a guest on
their own sockets; each command of ``rooms.protocol`` is sent once and acknowledged,
and each event name reaches the other sockets, redacted for each of them. With
``PAUSE_RECORD_EXAMPLES=<file>`` the frames are also written to that file: they are the
examples of docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from urllib.parse import urlencode

import pytest

from bench.pause_client import Client, connect
from rooms.protocol import COMMAND_TYPES, EVENT_DATA, server_frame_adapter

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def tour(sqlite_db, servers):
    (server,) = servers(sqlite_db.env, wait=False)
    seeded = sqlite_db.seed(members=2, started=False, guest=True)
    server.wait_ready()
    return server, seeded


def _logout(server, cookie: str) -> None:
    csrf = dict(p.split("=", 1) for p in cookie.split("; "))["csrftoken"]
    request = urllib.request.Request(
        server.url + "/accounts/logout/",
        data=urlencode({"csrfmiddlewaretoken": csrf}).encode(),
        headers={"Cookie": cookie, "Referer": server.url + "/accounts/logout/"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        response.read()


async def test_every_command_is_acknowledged_and_every_event_reaches_the_others(tour):
    """Each command type gets an ack over a real server, each event name is seen by the
    other participants, redacted per viewer (anonymous and hidden posts have no author
    for the others), and every server frame matches the protocol schema."""
    from bench.pause_client import login

    server, seeded = tour
    mid = seeded["meeting_id"]
    ws = server.ws_url(mid)
    fac_p, (a_p, b_p) = seeded["facilitator"], seeded["members"]
    record: dict[str, list] = {"commands": [], "frames": []}
    sent: set[str] = set()

    def keep(who):
        def on_frame(text, frame):
            record["frames"].append({"who": who, "frame": frame})

        return on_frame

    # A logs in through the form (the cookie then carries csrftoken for the logout).
    a_cookie = await asyncio.to_thread(login, server.url, a_p["email"], a_p["password"])
    people = {
        "fac": Client(ws, fac_p["cookie"], on_frame=keep("fac"), give_up=10),
        "a": Client(ws, a_cookie, on_frame=keep("a"), give_up=10),
        "b": Client(ws, b_p["cookie"], on_frame=keep("b"), give_up=10),
        "guest": Client(ws, seeded["guest"]["cookie"], on_frame=keep("guest"), give_up=10),
    }
    fac, a, b, guest = people.values()
    # The facilitator first, so it sees the others join.
    runners = [asyncio.create_task(fac.run())]
    try:
        await asyncio.wait_for(fac.welcomed.wait(), 10)
        runners += [asyncio.create_task(c.run()) for c in (a, b, guest)]
        for c in people.values():
            await asyncio.wait_for(c.welcomed.wait(), 10)

        async def do(client, command, expect="ack"):
            n = len(record["commands"]) + 1
            command = {"type": command["type"], "ref": f"r{n}", **command}
            record["commands"].append(command)
            sent.add(command["type"])
            answer = await client.request(command, timeout=10)
            assert answer["type"] == expect, (command, answer)
            return answer

        async def seen(client, name, pred=lambda f: True):
            return await client.wait_for(
                lambda f: f["type"] == "event" and f["name"] == name and pred(f), 10
            )

        # Before the start: settings and the agenda.
        await do(fac, {"type": "meeting.settings", "anonymity": "optional", "vote_budget": 3})
        c1 = (
            await do(a, {"type": "challenge.post", "title": "Fixer mes prix", "ask": "Des idées"})
        )["result"]["id"]
        await do(
            a,
            {"type": "challenge.edit", "challenge_id": c1, "context": "Je vends des bougies."},
        )
        c2 = (await do(b, {"type": "challenge.post", "title": "Trouver des clients"}))["result"][
            "id"
        ]
        await do(fac, {"type": "challenge.reorder", "challenge_ids": [c2, c1]})
        await do(b, {"type": "challenge.withdraw", "challenge_id": c2})
        await do(fac, {"type": "meeting.start"})
        await do(fac, {"type": "phase.next"})

        # Ideas, anonymity, replies, reactions.
        i1 = (await do(a, {"type": "idea.post", "challenge_id": c1, "text": "Un prix rond"}))[
            "result"
        ]["id"]
        anon = (
            await do(
                a,
                {
                    "type": "idea.post",
                    "challenge_id": c1,
                    "text": "Augmenter de 10 %",
                    "anonymous": True,
                },
            )
        )["result"]["id"]
        frame = await seen(b, "idea.posted", lambda f: f["data"]["id"] == anon)
        assert frame["data"]["author"] is None and frame["data"]["anonymous"] is True
        mine = await seen(a, "idea.posted", lambda f: f["data"]["id"] == anon)
        assert mine["data"]["author"]["id"] == a.frames[0]["you"]["participant_id"]
        assert all(c.frames[0]["type"] == "welcome" for c in people.values())
        q = (
            await do(
                b,
                {
                    "type": "idea.post",
                    "challenge_id": c1,
                    "kind": "question",
                    "text": "Quel prix ?",
                },
            )
        )["result"]["id"]
        await do(a, {"type": "idea.edit", "idea_id": i1, "text": "Un prix rond, 30 €"})
        await do(b, {"type": "idea.delete", "idea_id": q})
        await do(guest, {"type": "reply.post", "idea_id": i1, "text": "Oui, et un coffret"})
        await do(b, {"type": "reaction.toggle", "idea_id": i1, "emoji": "💡"})

        # Facilitation: timer, lock, spotlight, clusters.
        await do(fac, {"type": "timer.start", "seconds": 300})
        await do(fac, {"type": "timer.pause"})
        await do(fac, {"type": "timer.resume"})
        await do(fac, {"type": "timer.add", "seconds": 60})
        await do(fac, {"type": "timer.clear"})
        await do(fac, {"type": "board.lock", "locked": True})
        locked = await do(b, {"type": "idea.post", "challenge_id": c1, "text": "x"}, "error")
        assert locked["code"] == "wrong_phase"
        await do(fac, {"type": "board.lock", "locked": False})
        await do(fac, {"type": "idea.spotlight", "idea_id": i1})
        k = (await do(fac, {"type": "cluster.create", "challenge_id": c1, "name": "Prix"}))[
            "result"
        ]["id"]
        await do(fac, {"type": "cluster.rename", "cluster_id": k, "name": "Les prix"})
        await do(fac, {"type": "idea.move", "idea_id": i1, "cluster_id": k})
        await do(fac, {"type": "cluster.delete", "cluster_id": k})

        # Hidden until reveal: the others see neither text nor author.
        await do(fac, {"type": "meeting.settings", "hide_until_reveal": True})
        hidden = (
            await do(b, {"type": "idea.post", "challenge_id": c1, "text": "Une offre d'essai"})
        )["result"]["id"]
        frame = await seen(a, "idea.posted", lambda f: f["data"]["id"] == hidden)
        assert (
            frame["data"]["hidden"] and frame["data"]["text"] == "" and not frame["data"]["author"]
        )
        await do(fac, {"type": "ideas.reveal", "challenge_id": c1})
        frame = await seen(a, "ideas.revealed")
        assert frame["data"]["ideas"][0]["text"] == "Une offre d'essai"
        await do(fac, {"type": "meeting.settings", "hide_until_reveal": False})

        # Moderation: the reason of a removal goes to its author only (and facilitators).
        spam = (await do(b, {"type": "idea.post", "challenge_id": c1, "text": "Achetez ici"}))[
            "result"
        ]["id"]
        await do(fac, {"type": "idea.remove", "idea_id": spam, "reason": "Hors sujet"})
        assert (await seen(b, "idea.removed"))["data"]["reason"] == "Hors sujet"
        assert (await seen(a, "idea.removed"))["data"]["reason"] is None
        b_id = b.frames[0]["you"]["participant_id"]
        await do(fac, {"type": "participant.mute", "participant_id": b_id, "muted": True})
        muted = await do(b, {"type": "reply.post", "idea_id": i1, "text": "Chut"}, "error")
        assert muted["code"] == "forbidden"
        await do(fac, {"type": "participant.mute", "participant_id": b_id, "muted": False})

        # Vote within the budget, then the wrap-up.
        await do(fac, {"type": "phase.set", "phase": "vote"})
        await do(a, {"type": "vote.cast", "idea_id": i1})
        twice = await do(a, {"type": "vote.cast", "idea_id": i1}, "error")
        assert twice["code"] == "conflict"
        await do(a, {"type": "vote.retract", "idea_id": i1})
        await do(b, {"type": "vote.cast", "idea_id": i1})
        await do(fac, {"type": "phase.next"})
        act = (
            await do(
                a,
                {
                    "type": "action.post",
                    "challenge_id": c1,
                    "text": "Tester 30 € pendant un mois",
                    "due_date": "2026-12-31",
                    "idea_ids": [i1],
                },
            )
        )["result"]["id"]
        await do(a, {"type": "action.status", "action_id": act, "status": "in_progress"})
        await do(b, {"type": "takeaway.post", "text": "Oser annoncer ses prix", "anonymous": True})
        await do(fac, {"type": "phase.prev"})
        await do(fac, {"type": "phase.next"})

        # Resume and resync.
        cursor = a.cursor.seq
        sock = await connect(ws, a_cookie, after=cursor - 2)
        resumed = [json.loads(await asyncio.wait_for(sock.recv(), 5)) for _ in range(3)]
        assert resumed[0]["resumed"] is True and [f["seq"] for f in resumed[1:]] == [
            cursor - 1,
            cursor,
        ]
        record["frames"].extend({"who": "a-resumed", "frame": f} for f in resumed)
        await sock.close()
        sock = await connect(ws, a_cookie, after=cursor + 1000)
        stale = [json.loads(await asyncio.wait_for(sock.recv(), 5)) for _ in range(2)]
        assert stale[1]["type"] == "resync" and stale[1]["reason"] == "cursor_unknown"
        record["frames"].extend({"who": "a-stale", "frame": f} for f in stale)
        await sock.close()
        await b._write({"type": "sync"})
        await b.wait_for(lambda f: f["type"] == "resync" and f["reason"] == "requested", 10)

        # Removal closes the guest's socket; a logout over HTTP closes A's.
        await do(
            fac,
            {
                "type": "participant.remove",
                "participant_id": seeded["guest"]["participant_id"],
            },
        )
        await guest.wait_for(lambda f: f["type"] == "closing" and f["reason"] == "removed", 10)
        await asyncio.to_thread(_logout, server, a_cookie)
        await a.wait_for(lambda f: f["type"] == "closing" and f["reason"] == "logged_out", 10)
        await do(fac, {"type": "meeting.end"})
        await seen(b, "meeting.ended")
    finally:
        for c in people.values():
            await c.stop()
        await asyncio.gather(*runners, return_exceptions=True)

    assert sent == set(COMMAND_TYPES), set(COMMAND_TYPES) - sent
    me = {who: c.frames[0]["you"]["participant_id"] for who, c in people.items()}
    names_seen_by_others = {
        f["frame"]["name"]
        for f in record["frames"]
        if f["frame"]["type"] == "event" and me.get(f["who"]) != f["frame"]["actor"]
    }
    assert names_seen_by_others == set(EVENT_DATA)
    types = {f["frame"]["type"] for f in record["frames"]}
    assert types >= {"welcome", "event", "ack", "error", "presence", "resync", "closing"}
    for f in record["frames"]:
        server_frame_adapter.validate_python(f["frame"])
    if os.environ.get("PAUSE_RECORD_EXAMPLES"):
        with open(os.environ["PAUSE_RECORD_EXAMPLES"], "w") as out:
            json.dump(record, out, ensure_ascii=False, indent=1)
