"""Seed a meeting in a server database, run in a subprocess with that server's settings:

    PAUSE_SEED='{"members": 4}' manage.py shell -c "from tests.integration.seed import run; run()"

Prints one JSON line: ids, and for every person an email, a password and a session
cookie (as ``force_login`` makes it), so tests can open many sockets without going
through the login form's rate limit. Everything goes through the services, so the
event log is what a real meeting would have.

Meeting ids are random and large: the Redis pub/sub channel layer is shared by every
database of a Redis server, so a meeting id must not collide with one of another run
that uses the same Redis at the same time.
"""

import json
import os
import random
import secrets
import uuid

PASSWORD = "pause-integration-password-7"


def _person(user, role: str) -> dict:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return {
        "id": user.pk,
        "email": user.email,
        "password": PASSWORD,
        "role": role,
        "cookie": f"{name}={client.cookies[name].value}",
    }


def seed(spec: dict) -> dict:
    from allauth.account.models import EmailAddress
    from django.contrib.auth.hashers import make_password
    from django.core import signing
    from django.db import transaction
    from django.utils import timezone

    from rooms import guests, services
    from rooms.models import Meeting, Membership, Role, Room, User

    tag = secrets.token_hex(4)
    hashed = make_password(PASSWORD)  # once: hashing is slow on purpose

    def user(n: str) -> User:
        u = User.objects.create_user(email=f"{n}-{tag}@example.org", display_name=f"{n} {tag}")
        u.password = hashed
        u.save(update_fields=["password"])
        EmailAddress.objects.create(user=u, email=u.email, verified=True, primary=True)
        return u

    with transaction.atomic():
        room = Room.objects.create(
            name=f"Integration {tag}", description="", allow_guests=bool(spec.get("guest"))
        )
        fac = user("fac")
        Membership.objects.create(room=room, user=fac, role=Role.OWNER)
        members = []
        for n in range(int(spec.get("members", 2))):
            m = user(f"member{n}")
            Membership.objects.create(room=room, user=m, role=Role.MEMBER)
            members.append(m)
        meeting = Meeting.objects.create(
            pk=random.randint(10**6, 2**31 - 1),
            room=room,
            title=f"Meeting {tag}",
            scheduled_at=timezone.now(),
            format="open",
        )
    guest = None
    if spec.get("guest"):
        key = uuid.uuid4()
        p = services.participant_join(meeting=meeting, guest_key=key, display_name="Invitée")
        value = signing.dumps({str(meeting.pk): str(key)}, salt=guests.SALT)
        guest = {"participant_id": p.pk, "cookie": f"{guests.COOKIE}={value}"}
    actor = services.participant_join(meeting=meeting, user=fac)
    challenge, ideas = None, []
    if spec.get("started", True):
        services.meeting_start(actor=actor)
        if "vote_budget" in spec:
            services.meeting_settings(actor=actor, vote_budget=int(spec["vote_budget"]))
        services.phase_set(actor=actor, phase="ideas")
        challenge = services.challenge_post(actor=actor, title="Fixer mes prix").result["id"]
        ideas = [
            services.idea_post(actor=actor, challenge_id=challenge, text=f"Idea {n}").result["id"]
            for n in range(int(spec.get("ideas", 0)))
        ]
        if spec.get("phase", "ideas") != "ideas":
            services.phase_set(actor=actor, phase=spec["phase"])
    return {
        "guest": guest,
        "room_id": room.pk,
        "meeting_id": meeting.pk,
        "path": f"/rooms/{room.pk}/meetings/{meeting.pk}/",
        "challenge_id": challenge,
        "idea_ids": ideas,
        "facilitator": _person(fac, "owner"),
        "members": [_person(m, "member") for m in members],
    }


def run() -> None:
    print(json.dumps(seed(json.loads(os.environ.get("PAUSE_SEED", "{}")))))
