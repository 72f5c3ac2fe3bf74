"""The people of a meeting, one per role, for the service and wire tests.

``build_cast`` makes a room and a meeting with a participant for each role the rules
distinguish: the room owner, a facilitator, the owner of the challenge on the agenda, a
plain member, a guest (no account), a muted member, a non-member (an account whose
membership was withdrawn after joining) and a participant removed by a facilitator, plus
"other", a member who writes the ideas the others act on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from rooms import services
from rooms.models import Meeting, Membership, Participant, Role

ROLES = (
    "owner",
    "facilitator",
    "challenge_owner",
    "member",
    "guest",
    "muted",
    "non_member",
    "removed",
)


@dataclass
class Cast:
    meeting: Meeting
    people: dict[str, Participant] = field(default_factory=dict)
    users: dict = field(default_factory=dict)

    def __getitem__(self, role: str) -> Participant:
        return self.people[role]

    def refresh(self) -> Meeting:
        self.meeting.refresh_from_db()
        return self.meeting


def build_cast(*, meeting_factory, member_factory, fmt: str = "open", **meeting_fields) -> Cast:
    meeting = meeting_factory(format=fmt, **meeting_fields)
    room = meeting.room
    cast = Cast(meeting)
    cast.users["owner"] = Membership.objects.get(room=room, role=Role.OWNER).user
    roles = {
        "facilitator": Role.FACILITATOR,
        "challenge_owner": Role.MEMBER,
        "member": Role.MEMBER,
        "muted": Role.MEMBER,
        "non_member": Role.MEMBER,
        "removed": Role.MEMBER,
        "other": Role.MEMBER,
    }
    for name, role in roles.items():
        cast.users[name] = member_factory(room, role, display_name=f"{name.title()} Person")
    for name, user in cast.users.items():
        cast.people[name] = services.participant_join(meeting=meeting, user=user)
    cast.people["guest"] = services.participant_join(
        meeting=meeting, guest_key=uuid.uuid4(), display_name="Gaby Guest"
    )
    Participant.objects.filter(pk=cast["muted"].pk).update(muted=True)
    Participant.objects.filter(pk=cast["removed"].pk).update(removed=True)
    Membership.objects.filter(room=room, user=cast.users["non_member"]).delete()
    for p in cast.people.values():
        p.refresh_from_db()
    cast.refresh()
    return cast
