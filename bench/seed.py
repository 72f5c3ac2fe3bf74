"""Seed a benchmark database: N rooms × M members, each room with K live open meetings
in their ``ideas`` phase with one challenge (one fresh meeting per benchmark run).

    DATABASE_URL=... python -m bench.seed --rooms 100 --members 10 --out var/bench/seed.json

Users are bulk-created with one precomputed password hash (``PASSWORD``) and a verified
address, so any of them can log in through the real login form. Logging in costs one
PBKDF2 check (1.5 M iterations, about a second of CPU here), so for hundreds of sockets
``--sessions`` also writes each user a Django session exactly as ``auth.login`` would
(the load generator logs a sample of users in for real and uses these for the rest).
Meetings, participants, the start, the phase, the challenge and seeded ideas go through
``rooms.services``, so the event log is the one a real meeting would have.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

PASSWORD = "bench-password-4242"


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pause.settings")
    import django

    django.setup()


def seed(
    *,
    rooms: int,
    members: int,
    prefix: str = "bench",
    ideas: int = 0,
    copies: int = 1,
    join_all: bool = False,
    sessions: bool = True,
) -> dict:
    """Create the rooms, users, meetings and (optionally) sessions; return their ids."""
    import datetime as dt

    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from rooms import services
    from rooms.models import Membership, Role, User

    started = time.perf_counter()
    hashed = make_password(PASSWORD)
    users = User.objects.bulk_create(
        [
            User(
                email=f"{prefix}-{r}-{m}@bench.invalid",
                display_name=f"Bench {r}.{m}",
                password=hashed,
                language="en",
            )
            for r in range(rooms)
            for m in range(members)
        ]
    )
    # bulk_create returns primary keys on PostgreSQL and SQLite ≥ 3.35.
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users]
    )
    out_rooms = []
    now = timezone.now()
    for r in range(rooms):
        people = users[r * members : (r + 1) * members]
        owner = people[0]
        room = services.room_create(user=owner, name=f"{prefix} room {r}")
        Membership.objects.bulk_create(
            [
                Membership(room=room, user=u, role=Role.FACILITATOR if i == 1 else Role.MEMBER)
                for i, u in enumerate(people[1:], start=1)
            ]
        )
        out_meetings = []
        for k in range(copies):
            meeting = services.meeting_schedule(
                actor=owner,
                room=room,
                title=f"{prefix} meeting {r}.{k}",
                scheduled_at=now - dt.timedelta(minutes=5),
                format="open",
            )
            # The host joins to start the meeting; the others join on their first connect
            # (or here, with ``join_all``), as people arriving at a meeting do.
            joined = people if join_all else people[:1]
            parts = [services.participant_join(meeting=meeting, user=u) for u in joined]
            host = parts[0]
            services.meeting_start(actor=host)
            services.phase_set(actor=host, phase="ideas")
            challenge_id = services.challenge_post(actor=host, title=f"Challenge {r}").result["id"]
            _ideas(parts, challenge_id, ideas)
            out_meetings.append({"meeting_id": meeting.pk, "challenge_id": challenge_id})
        out_rooms.append(
            {
                "room_id": room.pk,
                "meetings": out_meetings,
                "members": [{"user_id": u.pk, "email": u.email} for u in people],
            }
        )
    if sessions:
        # What django.contrib.auth.login() stores, minus the password check.
        auth_hash = users[0].get_session_auth_hash() if users else ""
        expire = timezone.now() + dt.timedelta(days=1)
        store = SessionStore()
        rows, keys = [], {}
        for u in users:
            key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
            data = {
                SESSION_KEY: str(u.pk),
                BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                HASH_SESSION_KEY: auth_hash,
            }
            encoded = store.encode(data)
            rows.append(Session(session_key=key, session_data=encoded, expire_date=expire))
            keys[u.pk] = key
        Session.objects.bulk_create(rows, batch_size=500)
        cookie_name = settings.SESSION_COOKIE_NAME
        for room in out_rooms:
            for m in room["members"]:
                m["cookie"] = f"{cookie_name}={keys[m['user_id']]}"
    return {
        "password": PASSWORD,
        "rooms": out_rooms,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _ideas(parts, challenge_id: int, n: int) -> None:
    """``n`` ideas with some replies and reactions, as a busy meeting has."""
    from rooms import services
    from rooms.limits import EMOJIS

    ids = []
    for k in range(n):
        outcome = services.idea_post(
            actor=parts[k % len(parts)],
            challenge_id=challenge_id,
            text=f"Seeded idea {k}: " + "lorem ipsum dolor sit amet " * 3,
            anonymous=k % 5 == 0,
        )
        ids.append(outcome.result["id"])
    for k, idea_id in enumerate(ids[: n // 5]):
        services.reply_post(actor=parts[(k + 1) % len(parts)], idea_id=idea_id, text="Yes, and…")
    for k, idea_id in enumerate(ids[: n // 2]):
        services.reaction_toggle(
            actor=parts[(k + 2) % len(parts)], idea_id=idea_id, emoji=EMOJIS[k % len(EMOJIS)]
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__)
    parser.add_argument("--rooms", type=int, default=1)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--ideas", type=int, default=0, help="ideas to post in each meeting")
    parser.add_argument("--copies", type=int, default=1, help="live meetings per room")
    parser.add_argument("--join-all", action="store_true", help="every member joins now")
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--no-sessions", action="store_true")
    parser.add_argument("--out", type=Path, help="write the JSON here (default: stdout)")
    args = parser.parse_args(argv)
    _setup()
    result = seed(
        rooms=args.rooms,
        members=args.members,
        prefix=args.prefix,
        ideas=args.ideas,
        copies=args.copies,
        join_all=args.join_all,
        sessions=not args.no_sessions,
    )
    text = json.dumps(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"seeded {args.rooms}×{args.members} in {result['seconds']} s → {args.out}")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
