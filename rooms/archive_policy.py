"""Who may see what of the archive: the one place that decides.

Every archive output (summary page, search results, each export, the email) asks this
module, so a consent level or an anonymity rule cannot hold in one output and leak in
another. Three gates, in order:

1. the meeting: only members of its room (users, never guests) see an ended meeting, and
   only facilitators see it before its summary is published (``meeting_role``);
2. the challenge: its owner's consent (``challenge_access``, from ``CONSENT_RULES``);
3. the author: an anonymous idea, reply or takeaway (``anonymous=True``, or posted in a
   meeting whose anonymity is ``always``) never shows its author, to anyone, facilitators
   and the author included (``author_shown``).

A challenge owner always sees their own challenge in full (consent protects the owner from
others, not from themselves); anonymous authors stay hidden from the owner too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.db.models import Q

from rooms.models import (
    Action,
    Anonymity,
    Challenge,
    Consent,
    Meeting,
    MeetingState,
    Membership,
    Role,
    Summary,
)

FACILITATOR_ROLES = (Role.OWNER, Role.FACILITATOR)


@dataclass(frozen=True)
class ChallengeAccess:
    """What a viewer may see of one challenge in the archive."""

    visible: bool  # the challenge appears at all
    names: bool  # its owner, the authors of its ideas and replies, the owners of its actions
    texts: bool  # the texts of its ideas, questions and replies

    @property
    def is_hidden(self) -> bool:
        return not self.visible


FULL_ACCESS = ChallengeAccess(visible=True, names=True, texts=True)
NO_ACCESS = ChallengeAccess(visible=False, names=False, texts=False)

# What everyone but the challenge owner sees, per consent level.
CONSENT_RULES: dict[str, ChallengeAccess] = {
    Consent.FULL: FULL_ACCESS,
    Consent.ANONYMISED: ChallengeAccess(visible=True, names=False, texts=True),
    Consent.SUMMARY: ChallengeAccess(visible=True, names=True, texts=False),
    Consent.PRIVATE: NO_ACCESS,
}


def challenge_access(*, consent: str, owner_user_id: int | None, user) -> ChallengeAccess:
    """What ``user`` (already allowed to see the meeting) may see of a challenge."""
    if user is not None and owner_user_id is not None and owner_user_id == user.pk:
        return FULL_ACCESS
    # An unknown consent value is treated as the strictest one.
    return CONSENT_RULES.get(consent, NO_ACCESS)


def author_shown(*, anonymous: bool, meeting_anonymity: str) -> bool:
    """Whether an item's author may ever be shown in the archive."""
    return not anonymous and meeting_anonymity != Anonymity.ALWAYS


# --------------------------------------------------------------------------- meetings


def meeting_role(meeting: Meeting, user) -> str | None:
    """The viewer's role in the meeting's room if they may see its archive, else None."""
    if user is None or not user.is_authenticated or meeting.state != MeetingState.ENDED:
        return None
    role = (
        Membership.objects.filter(room_id=meeting.room_id, user=user)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        return None
    if role in FACILITATOR_ROLES:
        return role
    published = Summary.objects.filter(meeting=meeting, published_at__isnull=False).exists()
    return role if published else None


def archived_meetings(user):
    """Ended meetings whose archive ``user`` may open: in their rooms, published, or not yet
    published in rooms they facilitate."""
    if user is None or not user.is_authenticated:
        return Meeting.objects.none()
    rooms = Membership.objects.filter(user=user).values("room_id")
    facilitated = Membership.objects.filter(user=user, role__in=FACILITATOR_ROLES).values("room_id")
    return Meeting.objects.filter(state=MeetingState.ENDED, room_id__in=rooms).filter(
        Q(summary__published_at__isnull=False) | Q(room_id__in=facilitated)
    )


# --------------------------------------------------------------------------- summaries


def _strip_names(challenge: dict) -> None:
    challenge["owner"] = None
    for idea in challenge["ideas"] + challenge["questions"]:
        idea["author"] = None
        for reply in idea["replies"]:
            reply["author"] = None
    for action in challenge["actions"]:
        action["owner"] = None


def _strip_texts(challenge: dict) -> None:
    challenge["ideas"] = []
    challenge["questions"] = []
    for cluster in challenge["clusters"]:
        cluster["idea_ids"] = []
    for action in challenge["actions"]:
        action["idea_ids"] = []


def _strip_anonymous(data: dict, anonymity: str) -> None:
    """Belt and braces: ``summary_build`` already stores no author for anonymous items."""
    for challenge in data["challenges"]:
        for idea in challenge["ideas"] + challenge["questions"]:
            if not author_shown(anonymous=idea["anonymous"], meeting_anonymity=anonymity):
                idea["author"] = None
            for reply in idea["replies"]:
                if not author_shown(anonymous=reply["anonymous"], meeting_anonymity=anonymity):
                    reply["author"] = None
    for takeaway in data["takeaways"]:
        if not author_shown(anonymous=takeaway["anonymous"], meeting_anonymity=anonymity):
            takeaway["author"] = None


def summary_for(summary: Summary, user, *, role: str | None = None) -> dict | None:
    """The summary as ``user`` may see it, or None when they may not see it at all.

    Consent and action statuses are read from the database now (both change after the
    meeting ends); everything else comes from ``Summary.data``.
    """
    meeting = summary.meeting
    role = role or meeting_role(meeting, user)
    if role is None:
        return None
    data = copy.deepcopy(summary.data)
    if not data:
        return None
    challenges = {
        c.pk: c for c in Challenge.objects.filter(meeting=meeting).select_related("owner")
    }
    statuses = {
        a["id"]: a
        for a in Action.objects.filter(challenge__meeting=meeting).values(
            "id", "status", "status_note", "updated_at"
        )
    }
    kept = []
    for ch in data["challenges"]:
        model = challenges.get(ch["id"])
        if model is None:
            continue
        access = challenge_access(
            consent=model.consent, owner_user_id=model.owner.user_id, user=user
        )
        if not access.visible:
            continue
        ch["consent"] = model.consent
        ch["access"] = {"names": access.names, "texts": access.texts}
        ch["is_owner"] = model.owner.user_id is not None and model.owner.user_id == user.pk
        for action in ch["actions"]:
            live = statuses.get(action["id"])
            if live:
                action["status"] = live["status"]
                action["status_note"] = live["status_note"]
        if not access.names:
            _strip_names(ch)
        if not access.texts:
            _strip_texts(ch)
        _link_actions_to_ideas(ch)
        kept.append(ch)
    data["challenges"] = kept
    _strip_anonymous(data, data["meeting"].get("anonymity", Anonymity.OPTIONAL))
    data["viewer"] = {"role": role, "can_facilitate": role in FACILITATOR_ROLES}
    data["intro"] = summary.intro
    data["conclusion"] = summary.conclusion
    data["published_at"] = summary.published_at.isoformat() if summary.published_at else None
    return data


def _link_actions_to_ideas(challenge: dict) -> None:
    """Each idea lists the actions it led to, with their current status."""
    by_idea: dict[int, list[dict]] = {}
    for action in challenge["actions"]:
        for idea_id in action["idea_ids"]:
            by_idea.setdefault(idea_id, []).append(
                {"id": action["id"], "text": action["text"], "status": action["status"]}
            )
    for idea in challenge["ideas"] + challenge["questions"]:
        idea["actions"] = by_idea.get(idea["id"], [])
