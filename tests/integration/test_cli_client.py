"""The command-line client against a real daphne: log in, print frames, post, resume."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.conftest import ROOT

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def site(sqlite_db, servers):
    (server,) = servers(sqlite_db.env, wait=False)
    seeded = sqlite_db.seed(members=1)
    server.wait_ready()
    return server, seeded


def _client(*args: str, stdin: str = "") -> tuple[int, list[dict], str]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.pause_client", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return (
        result.returncode,
        [json.loads(line) for line in result.stdout.splitlines()],
        result.stderr,
    )


def test_the_client_logs_in_prints_a_welcome_and_the_ack_of_its_post(site):
    """``--post`` logs in with email and password, prints the welcome, the idea's event
    and the ack of the post as JSON lines, and exits 0; ``--after`` resumes from a seq;
    a wrong password exits 2."""
    server, seeded = site
    member = seeded["members"][0]
    url = server.url + seeded["path"]
    login = ["--email", member["email"], "--password", member["password"]]
    code, frames, err = _client(
        url, *login, "--post", "Un prix rond", "--challenge", str(seeded["challenge_id"])
    )
    assert code == 0, err
    assert frames[0]["type"] == "welcome" and frames[0]["you"]["role"] == "member"
    assert frames[0]["snapshot"]["meeting"]["id"] == seeded["meeting_id"]
    (ack,) = [f for f in frames if f["type"] == "ack"]
    assert ack["result"]["id"] >= 1
    posted = next(f for f in frames if f["type"] == "event" and f["name"] == "idea.posted")
    assert posted["seq"] == ack["seq"] and posted["data"]["mine"] is True

    # Commands from stdin (a ref is added), after a resume from the seq before the post.
    command = {"type": "reaction.toggle", "idea_id": ack["result"]["id"], "emoji": "👍"}
    code, frames, err = _client(
        url, *login, "--after", str(ack["seq"] - 1), stdin=json.dumps(command) + "\n"
    )
    assert code == 0, err
    assert frames[0]["type"] == "welcome" and frames[0]["resumed"] is True
    assert frames[1]["seq"] == ack["seq"] and frames[1]["name"] == "idea.posted"
    (answer,) = [f for f in frames if f["type"] in ("ack", "error")]
    assert answer["type"] == "ack" and answer["ref"].startswith("cli-")
    assert answer["result"] == {"on": True, "count": 1}

    # A wrong password: reported on stderr, exit status 2, no frame.
    code, frames, err = _client(url, "--email", member["email"], "--password", "x", "--no-stdin")
    assert code == 2 and frames == [] and "login failed" in err
