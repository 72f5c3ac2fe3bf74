"""Bad input, size and rate limits, and who is refused before the socket is accepted."""

import json

import pytest
from asgiref.sync import sync_to_async

from rooms.models import Idea, Membership, Participant
from tests.live.conftest import ORIGIN, session_cookie
from tests.live.fixtures_extra import drain, join_as_guest

pytestmark = pytest.mark.django_db(transaction=True)


def _post(**over) -> dict:
    frame = {"type": "idea.post", "ref": "bad", "challenge_id": 1, "text": "ok"}
    frame.update(over)
    return frame


BAD_FRAMES = [
    # (what, raw text, code, field)
    ("not JSON", "{nope", "invalid", None),
    ("a JSON list", "[1, 2]", "invalid", None),
    ("a JSON string", '"idea.post"', "invalid", None),
    ("unknown type", json.dumps({"type": "idea.burn", "ref": "u"}), "invalid", "type"),
    ("no type", json.dumps({"ref": "n"}), "invalid", "type"),
    ("missing field", json.dumps({"type": "vote.cast", "ref": "m"}), "invalid", "idea_id"),
    ("wrong type", json.dumps(_post(challenge_id="abc")), "invalid", "challenge_id"),
    ("wrong bool", json.dumps(_post(anonymous="maybe")), "invalid", "anonymous"),
    ("extra field", json.dumps(_post(admin=True)), "invalid", "admin"),
    ("over-long text", json.dumps(_post(text="x" * 2001)), "invalid", "text"),
    ("blank text", json.dumps(_post(text="   ")), "invalid", "text"),
    ("bad emoji", json.dumps({"type": "reaction.toggle", "ref": "e", "idea_id": 1,
                              "emoji": "<script>"}), "invalid", "emoji"),
    ("huge id", json.dumps(_post(challenge_id=10**30)), "invalid", "challenge_id"),
    ("negative id", json.dumps(_post(challenge_id=-1)), "invalid", "challenge_id"),
    ("float id", json.dumps(_post(challenge_id=1.5)), "invalid", "challenge_id"),
    ("infinite number", '{"type":"vote.cast","ref":"i","idea_id":1e999}', "invalid", "idea_id"),
    ("5000-digit number", '{"type":"vote.cast","ref":"d","idea_id":' + "9" * 5000 + "}",
     "invalid", None),
    ("bad ref", json.dumps(_post(ref="a b")), "invalid", "ref"),
    ("long ref", json.dumps(_post(ref="r" * 65)), "invalid", "ref"),
    ("object as text", json.dumps(_post(text={"a": {"b": {"c": 1}}})), "invalid", "text"),
    ("deep nesting", "[" * 30000 + "]" * 30000, "invalid", None),
    ("deep nesting in a field",
     '{"type":"idea.post","ref":"n","challenge_id":1,"text":' + "[" * 500 + "]" * 500 + "}",
     "invalid", "text"),
    ("over 64 KiB", json.dumps(_post(text="x" * 70_000)), "too_large", None),
    ("over 64 KiB in UTF-8", json.dumps(_post(text="é" * 40_000), ensure_ascii=False),
     "too_large", None),
]  # fmt: skip


async def test_bad_frames_get_an_error_naming_the_field_and_the_socket_stays_open(ws, live_meeting):
    """Malformed JSON, unknown types, wrong, missing and extra fields, over-long text,
    oversize frames, binary frames, deep nesting and huge numbers each get one ``error``
    frame with the right code (and field), never a server exception; nothing is written
    and the next good command works on the same socket."""
    meeting, people = await sync_to_async(live_meeting)()
    a = await ws(people["a"], meeting)
    other = await ws(people["b"], meeting)
    problems = []
    for what, raw, code, field in BAD_FRAMES:
        await a.c.send_to(text_data=raw)
        reply = await a.until(lambda f: f["type"] in ("error", "ack"), timeout=5)
        if (reply["type"], reply["code"]) != ("error", code):
            problems.append(f"{what}: {reply}")
        elif field is not None and reply["field"] != field:
            problems.append(f"{what}: field {reply['field']!r}, expected {field!r}")
        elif field is not None and field not in reply["message"]:
            problems.append(f"{what}: message {reply['message']!r} does not name {field}")
    assert problems == [], "\n".join(problems)
    # A known ref is echoed when the frame parsed that far.
    await a.c.send_to(text_data=json.dumps(_post(ref="keep-me", challenge_id="x")))
    assert (await a.until(lambda f: f["type"] == "error"))["ref"] == "keep-me"
    await a.c.send_to(bytes_data=b"\x00\x01binary")
    binary = await a.until(lambda f: f["type"] == "error")
    assert binary["code"] == "invalid"

    ack = await a.do("challenge.post", title="Encore là")
    assert ack["type"] == "ack"
    assert (await other.event("challenge.posted"))["seq"] == ack["seq"]
    assert [f for f in other.frames if f["type"] == "error"] == []
    assert await sync_to_async(Idea.objects.count)() == 0


async def test_odd_unicode_is_refused_or_stored_never_a_crash(ws, live_meeting):
    """A lone surrogate or a NUL character in a text gets an answer (ack or error) and
    leaves the socket and the others' sockets working."""
    meeting, people = await sync_to_async(live_meeting)()
    fac = await ws(people["fac"], meeting)
    a = await ws(people["a"], meeting)
    await fac.do("phase.set", phase="ideas")
    challenge = (await a.do("challenge.post", title="Unicode"))["result"]["id"]
    for n, text in enumerate(['"\\ud800 seul"', '"nul \\u0000 ici"']):
        raw = f'{{"type":"idea.post","ref":"u{n}","challenge_id":{challenge},"text":{text}}}'
        await a.c.send_to(text_data=raw)
        reply = await a.answer(f"u{n}")
        assert reply["type"] in ("ack", "error"), reply
        if reply["type"] == "error":
            assert reply["code"] == "invalid", reply
    assert (await a.do("idea.post", challenge_id=challenge, text="normal"))["type"] == "ack"
    assert (await fac.event("idea.posted"))["type"] == "event"


async def test_a_burst_is_rate_limited_without_closing_the_socket(ws, live_meeting, settings):
    """Past the burst, commands get ``rate_limited`` (and change nothing); the socket
    stays open and commands work again once tokens come back."""
    settings.PAUSE_RATE_LIMIT_BURST = 3
    settings.PAUSE_RATE_LIMIT_PER_SECOND = 1
    meeting, people = await sync_to_async(live_meeting)()
    a = await ws(people["a"], meeting)
    refs = [await a.send("challenge.post", title=f"Défi {n}") for n in range(10)]
    answers = [await a.answer(ref) for ref in refs]
    codes = [x.get("code", "ack") for x in answers]
    assert codes[:3] == ["ack"] * 3
    assert codes.count("rate_limited") >= 4, codes
    limited = next(x for x in answers if x.get("code") == "rate_limited")
    assert limited["message"]
    posted = codes.count("ack")
    from rooms.models import Challenge

    assert await sync_to_async(Challenge.objects.count)() == posted
    await drain(a, 1.1)
    assert (await a.do("challenge.post", title="Plus tard"))["type"] == "ack"


async def test_who_is_refused_before_the_socket_is_accepted(connect, live_meeting, settings):
    """A foreign Origin, no Origin, ``null``, an anonymous visitor, a non-member, a
    removed participant, a guest of a room without guests and an unknown meeting are
    refused at the handshake: no accept, no welcome."""
    meeting, people = await sync_to_async(live_meeting)()
    cookie = (b"cookie", await sync_to_async(session_cookie)(people["a"]))
    refused = {}
    for name, headers in {
        "foreign origin": [(b"origin", b"https://evil.example"), cookie],
        "no origin": [cookie],
        "null origin": [(b"origin", b"null"), cookie],
        "anonymous": [ORIGIN],
    }.items():
        s = await connect(None, meeting, headers=headers, expect_welcome=False)
        refused[name] = s.connected

    from tests.conftest import PASSWORD  # noqa: F401 (the factories' password)

    outsider = await sync_to_async(_outsider)(meeting)
    s = await connect(outsider, meeting, expect_welcome=False)
    refused["non-member"] = s.connected

    removed = people["b"]
    await sync_to_async(_join_and_remove)(meeting, removed)
    s = await connect(removed, meeting, expect_welcome=False)
    refused["removed participant"] = s.connected

    _guest, guest_headers = await join_as_guest(meeting)
    await sync_to_async(_no_guests)(meeting)
    s = await connect(None, meeting, headers=guest_headers, expect_welcome=False)
    refused["guest, room without guests"] = s.connected

    class Gone:
        pk = 10**9

    s = await connect(people["a"], Gone, expect_welcome=False)
    refused["unknown meeting"] = s.connected

    assert refused == dict.fromkeys(refused, False)
    ok = await connect(people["a"], meeting)
    assert ok.welcome["type"] == "welcome"
    await ok.close()


def _outsider(meeting):
    from rooms.models import User

    user = User.objects.create_user(email="outsider@example.org", password="x-long-pw-123")
    return user


def _join_and_remove(meeting, user):
    from rooms import services

    p = services.participant_join(meeting=meeting, user=user)
    Participant.objects.filter(pk=p.pk).update(removed=True)


def _no_guests(meeting):
    meeting.room.allow_guests = False
    meeting.room.save(update_fields=["allow_guests"])
    assert Membership.objects.filter(room=meeting.room).exists()
