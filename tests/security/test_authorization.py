"""Intruders are refused everywhere: every HTTP URL of the project and every command of
the live protocol, tried by people who are not in the room.

What tests/unit/test_privacy.py (non-member and anonymous, GET and POST on room URLs)
and tests/unit/test_services_rights.py (every command × role × phase at the service
level) already cover is not repeated. Added here: a guest of another meeting and a member
(owner) of another room as intruders; every method; the URLs outside rooms (admin,
accounts, search, my actions, capability links) checked for what they reveal of the room;
and the commands sent over a real socket, where a refusal must also change nothing.

The room under attack is a played, ended and published meeting (tests/unit/
archive_scenario.py) plus a live meeting with a guest link; every page any intruder gets
is searched for the room's texts.
"""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.core import signing
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from rooms import guests, services
from rooms.consumers import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND
from rooms.limits import EMOJIS
from rooms.models import Action, Idea, Membership, Participant, Room
from rooms.protocol import COMMAND_TYPES, client_frame_adapter
from tests.live.conftest import ORIGIN
from tests.live.fixtures_extra import drain, guest_headers, join_as_guest
from tests.unit import archive_scenario

ROOM_NAME = "Salon-Confidentiel-R7"
ROOM_DESCRIPTION = "Description-Confidentielle-R7"
ENDED_TITLE = "Seance-Confidentielle-E7"
LIVE_TITLE = "Seance-En-Direct-L7"
# Texts of the room that no intruder may ever read.
SECRETS = (
    ROOM_NAME,
    ROOM_DESCRIPTION,
    ENDED_TITLE,
    LIVE_TITLE,
    "Fixer mes tarifs",
    "Augmenter le prix de 10",
    "Passer mes tarifs",
    "Oser parler de ses prix",
    "Une newsletter mensuelle",
)
METHODS = ("get", "post", "put", "patch", "delete")
FALLBACK_VALUES = ("x", "1", "rooms", "abc123", "0-x")
# Token URLs: the token is the credential (an invite link, a guest link, a calendar
# feed). A forged token must be refused; the real one works by design.
CAPABILITIES = {"rooms:join", "guests:join", "guests:board", "archive:calendar"}
FORGED_TOKEN = "Zz9forgedTokenZz9forgedTokenZz9x"
ACCOUNT_HOLDERS = ("non-member", "member of another room")  # the others have no account


# --------------------------------------------------------------------------- the target room


@pytest.fixture
def target(db, meeting_factory):
    """Room R: an ended, published meeting (every kind of content) and a live meeting
    with a guest link; and the four intruders' HTTP clients."""
    s = archive_scenario.play(prefix="t-", title=ENDED_TITLE)
    archive_scenario.publish(s)
    Room.objects.filter(pk=s.room.pk).update(name=ROOM_NAME, description=ROOM_DESCRIPTION)
    live = meeting_factory(room=s.room, title=LIVE_TITLE)
    fac = services.participant_join(meeting=live, user=s.fanny)
    services.meeting_start(actor=fac)
    guest_link = services.guest_invite_create(actor=s.fanny, meeting=live)
    invite = services.invite_create(actor=s.fanny, room=s.room)

    # Olga owns another room, with a meeting that has a guest.
    other_room = Room.objects.get(memberships__user=s.olga)
    elsewhere = meeting_factory(room=other_room, title="Elsewhere")
    key = uuid.uuid4()
    services.participant_join(meeting=elsewhere, guest_key=key, display_name="Gus")

    anonymous = Client()
    non_member = Client()
    from rooms.models import User

    non_member.force_login(User.objects.create_user(email="nobody@example.org", password=None))
    other_member = Client()
    other_member.force_login(s.olga)
    guest = Client()
    guest.cookies[guests.COOKIE] = signing.dumps({str(elsewhere.pk): str(key)}, salt=guests.SALT)
    known = {
        "room_id": s.room.pk,
        "challenge_id": s.ids["pricing"],
        "invite_id": invite.pk,
        "membership_id": Membership.objects.get(room=s.room, user=s.alice).pk,
    }
    tokens = {
        "rooms:join": invite.token,
        "guests:join": guest_link.token,
        "guests:board": guest_link.token,
        "archive:calendar": Membership.objects.get(room=s.room, user=s.alice).calendar_token,
    }
    return {
        "scenario": s,
        "meetings": (s.meeting.pk, live.pk),
        "known": known,
        "tokens": tokens,
        "actors": {
            "anonymous": anonymous,
            "non-member": non_member,
            "member of another room": other_member,
            "guest of another meeting": guest,
        },
    }


def _patterns(patterns=None, namespace=""):
    """(namespaced url name, argument names) of every URL pattern of the project."""
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _patterns(p.url_patterns, ns)
        elif isinstance(p, URLPattern) and p.name:
            converters = getattr(p.pattern, "converters", None)
            names = list(converters) if converters else list(p.pattern.regex.groupindex)
            yield f"{namespace}{p.name}", names


def _reverse(name: str, kwargs: dict, unknown: list[str]) -> str | None:
    for value in FALLBACK_VALUES if unknown else (None,):
        try:
            return reverse(name, kwargs={**kwargs, **dict.fromkeys(unknown, value)})
        except NoReverseMatch:
            continue
    return None


def _admin_object_id(name: str, s) -> int:
    """The room's own object for an admin change/delete/history URL."""
    model = name.split(":")[1].rsplit("_", 1)[0].removeprefix("rooms_")
    return {
        "room": s.room.pk,
        "meeting": s.meeting.pk,
        "user": s.alice.pk,
        "challenge": s.ids["pricing"],
        "idea": s.ids["raise"],
        "summary": s.summary.pk,
        "membership": Membership.objects.get(room=s.room, user=s.alice).pk,
    }.get(model, 1)


def _urls(target) -> dict[str, list[tuple[str, str | None]]]:
    """Every URL to try, by kind, with (for room URLs) the same URL in a missing room."""
    s, known = target["scenario"], target["known"]
    missing = {"room_id": 10**6, "meeting_id": 10**6 + 1, "challenge_id": 10**6 + 2}
    kinds: dict[str, list] = {"room": [], "capability": [], "forged": [], "admin": [], "other": []}
    for name, args in _patterns():
        kwargs = {a: known[a] for a in args if a in known}
        if name in CAPABILITIES:
            kinds["capability"].append(
                (reverse(name, kwargs={"token": target["tokens"][name]}), None)
            )
            kinds["forged"].append((reverse(name, kwargs={"token": FORGED_TOKEN}), None))
            continue
        if name.startswith("admin:") and "object_id" in args:
            kwargs["object_id"] = _admin_object_id(name, s)
        variants = [{}]
        if "meeting_id" in args:
            variants = [{"meeting_id": m} for m in target["meetings"]]
        if "fmt" in args:
            variants = [{**v, "fmt": f} for v in variants for f in ("md", "csv", "json")]
        for variant in variants:
            full = {**kwargs, **variant}
            unknown = [a for a in args if a not in full]
            url = _reverse(name, full, unknown)
            if url is None:
                pytest.fail(f"could not build a URL for {name} {args}")
            if "room_id" in args or "meeting_id" in args:
                gone = _reverse(
                    name, {**full, **{k: missing[k] for k in full if k in missing}}, unknown
                )
                kinds["room"].append((url, gone))
            elif name.startswith("admin:") and name not in ("admin:login", "admin:logout"):
                kinds["admin"].append((url, None))
            else:
                kinds["other"].append((url, None))
    room_id = s.room.pk
    kinds["other"] += [
        (f"{reverse('archive:search')}?q=tarifs&room={room_id}", None),
        (f"{reverse('archive:search')}?q=newsletter", None),
        (f"{reverse('archive:search')}?q=Oser&owner={s.bob.pk}", None),
    ]
    return kinds


def _leaks(response) -> list[str]:
    body = response.content.decode("utf-8", "replace")
    location = response.get("Location", "")
    return [t for t in SECRETS if t in body or t in location]


def _logout_url(url: str) -> bool:
    return "logout" in url


# --------------------------------------------------------------------------- HTTP


def test_every_url_is_refused_to_every_intruder(target, tally):
    """Every URL of the project, every method, as an anonymous visitor, a non-member, the
    owner of another room and a guest of another meeting: room URLs answer 404 (or 405 to
    a method the view never takes, exactly as for a missing room); admin URLs send to the
    admin login; forged tokens get 404; the board of a guest link is not served without
    that meeting's guest cookie; no answer contains a text of the room."""
    kinds = _urls(target)
    assert len(kinds["room"]) >= 20 and len(kinds["admin"]) >= 20, kinds.keys()
    problems: list[str] = []
    counts = {"room": [0, 0], "admin": [0, 0], "forged": [0, 0], "capability": [0, 0]}

    def check(kind: str, ok: bool, what: str) -> None:
        counts[kind][1] += 1
        counts[kind][0] += ok
        if not ok:
            problems.append(what)

    for actor, client in target["actors"].items():
        for url, gone in kinds["room"]:
            for method in METHODS:
                r = getattr(client, method)(url)
                baseline = getattr(client, method)(gone).status_code
                ok = r.status_code in (404, 405) and r.status_code == baseline and not _leaks(r)
                check("room", ok, f"{actor} {method.upper()} {url}: {r.status_code} vs {baseline}")
        for url, _none in kinds["admin"]:
            for method in ("get", "post"):
                if method == "post" and _logout_url(url):
                    continue
                r = getattr(client, method)(url)
                ok = r.status_code == 302 and "/admin/login/" in r["Location"] and not _leaks(r)
                check("admin", ok, f"{actor} {method.upper()} {url}: {r.status_code}")
        for url, _none in kinds["forged"]:
            for method in ("get", "post"):
                r = getattr(client, method)(url)
                # 405: the calendar feed takes GET only, whatever the token.
                ok = r.status_code in (404, 405) and not _leaks(r)
                check("forged", ok, f"{actor} {method.upper()} {url}: {r.status_code}")
        board = reverse("guests:board", kwargs={"token": target["tokens"]["guests:board"]})
        r = client.get(board)
        join = reverse("guests:join", kwargs={"token": target["tokens"]["guests:join"]})
        check("capability", r.status_code == 302 and r["Location"] == join, f"{actor} {board}")
    assert problems == [], "\n".join(problems[:40])
    tally.add("HTTP requests to room URLs (4 intruders × 5 methods)", *counts["room"])
    tally.add("HTTP requests to admin URLs (login redirect)", *counts["admin"])
    tally.add("HTTP requests with a forged invite, guest or calendar token", *counts["forged"])
    tally.add("guest boards without that meeting's guest cookie", *counts["capability"])


def test_pages_outside_rooms_reveal_nothing_of_the_room(target, tally):
    """Home, profile, search (with the room's words and its id as a filter), my actions,
    the account and language pages: anonymous visitors are sent to log in where the page
    needs an account, and no intruder reads a text of the room in any of them."""
    kinds = _urls(target)
    problems, tried = [], 0
    login = reverse("account_login")
    for actor, client in target["actors"].items():
        for url, _none in kinds["other"]:
            for method in ("get", "post"):
                if method == "post" and _logout_url(url):
                    continue
                r = getattr(client, method)(url)
                tried += 1
                leaks = _leaks(r)
                redirect = r.get("Location", "")
                if leaks or r.status_code >= 500:
                    problems.append(f"{actor} {method.upper()} {url}: {r.status_code} {leaks}")
                elif actor in ACCOUNT_HOLDERS and redirect.startswith(login):
                    problems.append(f"{actor} {method.upper()} {url}: sent to log in")
    assert problems == [], "\n".join(problems)
    assert tried >= 100
    tally.note(f"pages outside rooms: {tried} / {tried} requests revealed nothing of the room")


def test_login_only_pages_send_anonymous_visitors_to_log_in(target):
    """Pages for members (profile, new room, my actions, search) answer an anonymous
    visitor with the login page, never with content."""
    client = target["actors"]["anonymous"]
    for name in ("rooms:profile", "rooms:room_create", "archive:my_actions", "archive:search"):
        r = client.get(reverse(name))
        assert r.status_code == 302 and r["Location"].startswith(reverse("account_login")), name


def test_the_real_room_can_see_what_intruders_cannot(target):
    """A positive control: the room's owner reads the room's texts on the same pages."""
    s = target["scenario"]
    owner = Client()
    owner.force_login(s.fanny)
    summary = owner.get(reverse("archive:summary", args=[s.room.pk, s.meeting.pk]))
    assert summary.status_code == 200
    assert "Fixer mes tarifs" in summary.content.decode()
    room = owner.get(reverse("rooms:room", args=[s.room.pk])).content.decode()
    assert ROOM_NAME in room and LIVE_TITLE in room
    found = owner.get(reverse("archive:search") + "?q=tarifs")
    assert "Fixer mes tarifs" in found.content.decode()


def test_revoked_links_are_refused(target):
    """A revoked guest link and a revoked room invite no longer open anything."""
    s = target["scenario"]
    live = s.room.meetings.get(title=LIVE_TITLE)
    services.guest_invite_revoke(actor=s.fanny, meeting=live)
    invite_token = target["tokens"]["rooms:join"]
    from rooms.models import Invite

    services.invite_revoke(actor=s.fanny, invite=Invite.objects.get(token=invite_token))
    client = target["actors"]["non-member"]
    token = target["tokens"]["guests:join"]
    for name in ("guests:join", "guests:board"):
        r = client.get(reverse(name, kwargs={"token": token}))
        assert r.status_code == 404 and not _leaks(r), name
    r = client.get(reverse("rooms:join", kwargs={"token": invite_token}))
    assert r.status_code in (404, 410)
    assert not Membership.objects.filter(room=s.room, user__email="nobody@example.org").exists()


# --------------------------------------------------------------------------- WebSocket


# A valid frame of every command type, aimed at the room's own objects (``ids``).
def _frames(ids: dict) -> dict[str, dict]:
    frames = {
        "challenge.post": {"title": "Intrus"},
        "challenge.edit": {"challenge_id": ids["challenge"], "title": "Intrus"},
        "challenge.withdraw": {"challenge_id": ids["challenge"]},
        "challenge.reorder": {"challenge_ids": [ids["challenge"]]},
        "idea.post": {"challenge_id": ids["challenge"], "text": "Intrus"},
        "idea.edit": {"idea_id": ids["idea"], "text": "Intrus"},
        "idea.delete": {"idea_id": ids["idea"]},
        "reply.post": {"idea_id": ids["idea"], "text": "Intrus"},
        "vote.cast": {"idea_id": ids["idea"]},
        "vote.retract": {"idea_id": ids["idea"]},
        "reaction.toggle": {"idea_id": ids["idea"], "emoji": EMOJIS[0]},
        "meeting.start": {},
        "meeting.end": {},
        "phase.set": {"phase": "vote"},
        "phase.next": {},
        "phase.prev": {},
        "timer.start": {"seconds": 60},
        "timer.pause": {},
        "timer.resume": {},
        "timer.add": {"seconds": 30},
        "timer.clear": {},
        "ideas.reveal": {"challenge_id": ids["challenge"]},
        "board.lock": {"locked": True},
        "idea.remove": {"idea_id": ids["idea"], "reason": "Intrus"},
        "idea.spotlight": {"idea_id": ids["idea"]},
        "participant.mute": {"participant_id": ids["member"], "muted": True},
        "participant.remove": {"participant_id": ids["member"]},
        "meeting.settings": {"vote_budget": 1},
        "cluster.create": {"challenge_id": ids["challenge"], "name": "Intrus"},
        "cluster.rename": {"cluster_id": ids["cluster"], "name": "Intrus"},
        "cluster.delete": {"cluster_id": ids["cluster"]},
        "idea.move": {"idea_id": ids["idea"], "cluster_id": ids["cluster"]},
        "action.post": {"challenge_id": ids["challenge"], "text": "Intrus"},
        "action.status": {"action_id": ids["action"], "status": "done"},
        "takeaway.post": {"text": "Intrus"},
    }
    assert set(frames) == set(COMMAND_TYPES), "a new command needs a frame here"
    for n, (kind, fields) in enumerate(frames.items()):
        client_frame_adapter.validate_python({"type": kind, "ref": f"v{n}", **fields})
    return frames


# The independent expectation table of the rights matrix (not rooms.phases itself).
from tests.unit.test_services_rights import FACILITATOR_ONLY  # noqa: E402

AGENDA = {"challenge.post", "challenge.edit", "challenge.withdraw"}


def expected(actor: str, command: str) -> str:
    """What the rules promise in the ideas phase of a live open meeting, for commands aimed
    at a member's challenge, idea and action: ``ack`` or the error code."""
    if actor == "removed":
        return "forbidden"
    if command in FACILITATOR_ONLY:
        return "forbidden"
    if actor == "guest" and command in AGENDA:
        return "forbidden"
    if actor == "muted" and command not in {"vote.cast", "vote.retract", "reaction.toggle"}:
        return "forbidden"
    if command in {"vote.cast", "vote.retract", "action.post", "takeaway.post"}:
        return "wrong_phase"  # the ideas phase takes none of these
    if command in {"idea.edit", "idea.delete", "action.status"}:
        return "forbidden"  # another member's idea and action
    return "ack"  # idea.post, reply.post, reaction.toggle: a guest's and a member's right


def _board(meeting, people):
    """The ideas phase with a member's challenge, idea, theme and action."""
    fac = services.participant_join(meeting=meeting, user=people["fac"])
    a = services.participant_join(meeting=meeting, user=people["a"])
    challenge = services.challenge_post(actor=a, title="Mon défi").result["id"]
    services.phase_set(actor=fac, phase="ideas")
    idea = services.idea_post(actor=a, challenge_id=challenge, text="Mon idée", kind="idea")
    cluster = services.cluster_create(actor=fac, challenge_id=challenge, name="Thème")
    action = Action.objects.create(challenge_id=challenge, owner=a, text="Mon action")
    return {
        "challenge": challenge,
        "idea": idea.result["id"],
        "cluster": cluster.result["id"],
        "action": action.pk,
        "member": a.pk,
    }


def _last_seq(meeting) -> int:
    meeting.refresh_from_db(fields=["last_seq"])
    return meeting.last_seq


@pytest.mark.django_db(transaction=True)
async def test_every_command_from_an_intruder_is_refused_over_the_socket(
    connect, live_meeting, settings, tally
):
    """Over a real socket, a guest, a muted member and a removed participant (whose socket
    was still open) send every command type at a member's content: each gets the error
    code the rules promise, a refused command writes no event, and the facilitator's
    socket sees nothing of it. A member of another room, a guest of another meeting and
    a forged guest cookie cannot even connect (close code 4404), nor can the removed
    participant reconnect (4403)."""
    settings.PAUSE_RATE_LIMIT_BURST = 1000  # a scripted intruder is faster than a human
    meeting, people = await sync_to_async(live_meeting)()
    ids = await sync_to_async(_board)(meeting, people)
    frames = _frames(ids)
    fac = await connect(people["fac"], meeting)

    guest, headers = await join_as_guest(meeting, "Intruse")
    sockets = {"guest": await connect(None, meeting, headers=headers)}
    muted_p = await sync_to_async(services.participant_join)(meeting=meeting, user=people["b"])
    await sync_to_async(Participant.objects.filter(pk=muted_p.pk).update)(muted=True)
    sockets["muted"] = await connect(people["b"], meeting)
    removed_user = await sync_to_async(_new_member)(meeting)
    sockets["removed"] = await connect(removed_user, meeting)
    removed_p = await sync_to_async(Participant.objects.get)(meeting=meeting, user=removed_user)
    # Removed while its socket is open, without the event that closes it: the window
    # between the removal and the close, held open.
    await sync_to_async(Participant.objects.filter(pk=removed_p.pk).update)(removed=True)
    await drain(fac, 0.3)

    wrong, refused, tried, acked = [], 0, 0, 0
    for actor, sock in sockets.items():
        assert sock.connected, actor
        for command, fields in frames.items():
            want = expected(actor, command)
            before = await sync_to_async(_last_seq)(meeting)
            answer = await sock.do(command, **fields)
            after = await sync_to_async(_last_seq)(meeting)
            got = "ack" if answer["type"] == "ack" else answer["code"]
            if got != want:
                wrong.append(f"{actor:>8} {command:<20} expected {want:<11} got {got}")
            if want == "ack":
                acked += 1
                continue
            tried += 1
            refused += got == want
            if after != before:
                wrong.append(f"{actor:>8} {command:<20} refused but wrote events")
    assert wrong == [], "\n" + "\n".join(wrong)
    seen = {f["name"] for f in await drain(fac, 0.5) if f["type"] == "event"}
    # Only what the allowed commands wrote reached the facilitator.
    assert seen <= {"idea.posted", "reply.posted", "reaction.toggled"}, seen
    assert acked == 4  # guest: idea.post, reply.post, reaction.toggle; muted: reaction.toggle
    idea = await sync_to_async(Idea.objects.get)(pk=ids["idea"])
    assert idea.text == "Mon idée" and not idea.removed

    # Those who cannot connect at all.
    outsider = await sync_to_async(_member_of_another_room)()
    cannot = {
        "member of another room": (await connect(outsider, meeting, expect_welcome=False), 4404),
        "removed participant, reconnecting": (
            await connect(removed_user, meeting, expect_welcome=False),
            CLOSE_FORBIDDEN,
        ),
    }
    elsewhere = await sync_to_async(_meeting_elsewhere)(meeting)
    other_guest, _h = await join_as_guest(elsewhere, "Ailleurs")
    cannot["guest of another meeting"] = (
        await connect(None, meeting, headers=guest_headers(elsewhere, other_guest.guest_key)),
        CLOSE_NOT_FOUND,
    )
    forged = signing.dumps({str(meeting.pk): str(guest.guest_key)}, salt="not-the-guest-salt")
    cannot["forged guest cookie"] = (
        await connect(
            None,
            meeting,
            headers=[ORIGIN, (b"cookie", f"{guests.COOKIE}={forged}".encode())],
            expect_welcome=False,
        ),
        CLOSE_NOT_FOUND,
    )
    codes = {name: (s.connected, s.code) for name, (s, _want) in cannot.items()}
    assert codes == {name: (False, want) for name, (_s, want) in cannot.items()}
    tally.add(
        "WebSocket commands from a guest, a muted member and a removed participant",
        refused,
        tried,
        f"{acked} allowed commands acked as controls",
    )
    tally.add("WebSocket handshakes of intruders (close code 4404/4403)", len(codes), len(codes))


def _new_member(meeting):
    from rooms.models import Role, User

    user = User.objects.create_user(email=f"removed-{uuid.uuid4().hex[:8]}@example.org")
    Membership.objects.create(room=meeting.room, user=user, role=Role.MEMBER)
    return user


def _member_of_another_room():
    from rooms.models import Role, User

    user = User.objects.create_user(email=f"other-{uuid.uuid4().hex[:8]}@example.org")
    room = Room.objects.create(name="Another room")
    Membership.objects.create(room=room, user=user, role=Role.OWNER)
    return user


def _meeting_elsewhere(meeting):
    from rooms.models import Meeting

    room = Room.objects.create(name="Elsewhere")
    return Meeting.objects.create(room=room, title="Elsewhere", scheduled_at=timezone.now())
