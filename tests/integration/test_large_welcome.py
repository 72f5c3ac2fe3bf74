"""A real daphne, started with the Makefile's flags, delivers a welcome far over the
64 KiB limit on client frames: daphne's message limit caps what it sends too, so a
meeting with a few hundred ideas could not be joined while it was set to 64 KiB."""

from __future__ import annotations

import json

from tests.integration.conftest import open_socket


async def test_a_meeting_with_300_ideas_is_joined_and_big_client_frames_are_refused(
    sqlite_db, servers
):
    seeded = sqlite_db.seed(members=1, ideas=300)
    (server,) = servers(sqlite_db.env)
    cookie = seeded["members"][0]["cookie"]
    ws, welcome = await open_socket(server.ws_url(seeded["meeting_id"]), cookie)
    try:
        assert len(json.dumps(welcome)) > 64 * 1024
        assert len(welcome["snapshot"]["ideas"]) == 300
        # The protocol's own limit on client frames still holds: an error, socket open.
        big = {"type": "idea.post", "ref": "big", "challenge_id": seeded["challenge_id"]}
        await ws.send(json.dumps({**big, "text": "x" * (70 * 1024)}))
        while (frame := json.loads(await ws.recv()))["type"] != "error":
            pass
        assert frame["code"] == "too_large"
        await ws.send(json.dumps({**big, "ref": "small", "text": "Une idée"}))
        while (frame := json.loads(await ws.recv())).get("ref") != "small":
            pass
        assert frame["type"] == "ack"
    finally:
        await ws.close()
