"""The Django side of the fault tests, run as a child process against the cluster's own
PostgreSQL database (``DATABASE_URL``): one JSON request per line on stdin, one JSON
answer per line on stdout.

Requests:
- ``{"op": "setup", "members": 20, "format": "open"}``: a room, a facilitator and
  ``members`` members with logged-in sessions, a live meeting in its ideas phase with one
  challenge (and ``preload`` ideas of 2,000 characters); answers the session cookies,
  participant ids, meeting and challenge ids.
- ``{"op": "truth", "meeting_id": M, "participant_ids": [...]}``: each participant's
  snapshot as the server renders it now, with the meeting's ``last_seq``, and the ideas
  in the database with the ``ref`` of the command that created each.
- ``{"op": "logout", "cookie": C}``: log that session out through allauth's view.
- ``{"op": "remove", "participant_id": P}``: the owner removes that member from the room.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def setup(members: int = 20, format: str = "open", phase: str = "ideas", preload: int = 0) -> dict:
    import datetime as dt

    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from rooms import services
    from rooms.models import Meeting, Membership, Role, Room, User

    def user(n: int, role: str) -> tuple[User, str]:
        email = f"rel-{room.pk}-{n}@example.org"
        u = User.objects.create_user(email=email, password="x-unused-9f", display_name=f"R{n}")
        EmailAddress.objects.create(user=u, email=email, verified=True, primary=True)
        Membership.objects.create(room=room, user=u, role=role)
        client = Client()
        client.force_login(u)
        return u, client.cookies[settings.SESSION_COOKIE_NAME].value

    room = Room.objects.create(name="Reliability", description="fault tests")
    meeting = Meeting.objects.create(
        room=room,
        title="Under fire",
        scheduled_at=timezone.now() + dt.timedelta(hours=1),
        format=format,
    )
    fac, fac_cookie = user(0, Role.OWNER)
    fac_p = services.participant_join(meeting=meeting, user=fac)
    services.meeting_start(actor=fac_p)
    challenge = services.challenge_post(actor=fac_p, title="Where do ideas go?").result["id"]
    if phase != "lobby":
        services.phase_set(actor=fac_p, phase=phase)
    for n in range(preload):
        services.idea_post(actor=fac_p, challenge_id=challenge, text=f"preloaded {n} " + "p" * 1980)
    people = [{"participant_id": fac_p.pk, "cookie": fac_cookie, "role": "owner"}]
    for n in range(1, members + 1):
        u, cookie = user(n, Role.MEMBER)
        p = services.participant_join(meeting=meeting, user=u)
        people.append({"participant_id": p.pk, "cookie": cookie, "role": "member"})
    return {
        "meeting_id": meeting.pk,
        "challenge_id": challenge,
        "people": people,
        "session_cookie_name": settings.SESSION_COOKIE_NAME,
    }


def truth(meeting_id: int, participant_ids: list[int]) -> dict:
    from rooms import wire
    from rooms.models import CommandReceipt, Idea, Meeting, Participant

    snapshots = {}
    for pid in participant_ids:
        viewer = wire.Viewer.for_participant(Participant.objects.get(pk=pid))
        snapshot, seq = wire.snapshot_for(meeting_id, viewer)
        snapshots[str(pid)] = {"snapshot": snapshot, "seq": seq}
    receipts = {
        r.result.get("result", {}).get("id"): r.ref
        for r in CommandReceipt.objects.filter(participant__meeting_id=meeting_id)
    }
    ideas = [
        {"id": i, "author": a, "text": t, "ref": receipts.get(i)}
        for i, a, t in Idea.objects.filter(meeting_id=meeting_id).values_list(
            "id", "author_id", "text"
        )
    ]
    return {
        "last_seq": Meeting.objects.values_list("last_seq", flat=True).get(pk=meeting_id),
        "snapshots": snapshots,
        "ideas": ideas,
    }


def logout(cookie: str) -> dict:
    """Log out through allauth's logout view with this session cookie."""
    from django.conf import settings
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    response = client.post("/accounts/logout/")
    return {"status": response.status_code}


def remove(participant_id: int) -> dict:
    """The room's owner removes this participant's user from the room."""
    from rooms.models import Membership, Participant, Role
    from rooms.services import rooms as room_services

    p = Participant.objects.select_related("meeting").get(pk=participant_id)
    room_id = p.meeting.room_id
    owner = Membership.objects.filter(room_id=room_id, role=Role.OWNER).first().user
    membership = Membership.objects.get(room_id=room_id, user_id=p.user_id)
    room_services.membership_remove(actor=owner, membership=membership)
    return {"removed": True}


OPS = {"setup": setup, "truth": truth, "logout": logout, "remove": remove}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pause.settings")
    import django

    django.setup()
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        try:
            answer = OPS[op](**request)
        except Exception:
            answer = {"error": traceback.format_exc()}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
