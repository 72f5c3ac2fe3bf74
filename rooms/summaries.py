"""The summary of an ended meeting, built from its data (never typed by hand).

``summary_build`` is called by ``services.meeting_end`` inside its transaction; it is
idempotent (a second call rebuilds the same ``Summary.data`` and keeps the facilitators'
text and the publication state). ``Summary.data`` stores no author for anonymous items,
so anonymity holds even for someone reading the JSON; consent and names are applied per
viewer by ``rooms.archive_policy.summary_for``.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter, defaultdict

from django.db.models import Count

from rooms import search
from rooms.archive_policy import author_shown
from rooms.models import (
    Action,
    ActionStatus,
    Anonymity,
    ChallengeStatus,
    Cluster,
    Consent,
    IdeaKind,
    Meeting,
    Participant,
    Reaction,
    Reply,
    Summary,
    Takeaway,
    Vote,
)

DATA_VERSION = 1


def _author(participant: Participant | None, *, anonymous: bool, anonymity: str) -> dict | None:
    if participant is None or not author_shown(anonymous=anonymous, meeting_anonymity=anonymity):
        return None
    return {
        "participant_id": participant.pk,
        "user_id": participant.user_id,
        "name": participant.display_name,
    }


def _person(participant: Participant) -> dict:
    return {
        "participant_id": participant.pk,
        "user_id": participant.user_id,
        "name": participant.display_name,
    }


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def summary_data(meeting: Meeting) -> dict:
    """The structured account of a meeting (see the module docstring)."""
    anonymity = meeting.anonymity
    challenges = list(
        meeting.challenges.filter(status=ChallengeStatus.ACTIVE).select_related("owner")
    )
    challenge_ids = [c.pk for c in challenges]
    ideas = list(
        meeting.ideas.filter(removed=False, challenge_id__in=challenge_ids)
        .select_related("author")
        .annotate(n_votes=Count("votes", distinct=True))
    )
    idea_ids = [i.pk for i in ideas]
    reactions: dict[int, Counter] = defaultdict(Counter)
    for r in Reaction.objects.filter(idea_id__in=idea_ids).values("idea_id", "emoji"):
        reactions[r["idea_id"]][r["emoji"]] += 1
    replies: dict[int, list[dict]] = defaultdict(list)
    for reply in Reply.objects.filter(idea_id__in=idea_ids).select_related("author"):
        replies[reply.idea_id].append(
            {
                "id": reply.pk,
                "text": reply.text,
                "anonymous": reply.anonymous or anonymity == Anonymity.ALWAYS,
                "author": _author(reply.author, anonymous=reply.anonymous, anonymity=anonymity),
                "at": _iso(reply.created_at),
            }
        )
    clusters = defaultdict(list)
    for cluster in Cluster.objects.filter(challenge_id__in=challenge_ids):
        clusters[cluster.challenge_id].append(cluster)
    actions = defaultdict(list)
    for action in (
        Action.objects.filter(challenge_id__in=challenge_ids)
        .select_related("owner")
        .prefetch_related("source_ideas")
    ):
        actions[action.challenge_id].append(action)

    by_challenge: dict[int, list[dict]] = defaultdict(list)
    for idea in ideas:
        counts = reactions.get(idea.pk, Counter())
        by_challenge[idea.challenge_id].append(
            {
                "id": idea.pk,
                "kind": idea.kind,
                "text": idea.text,
                "anonymous": idea.anonymous or anonymity == Anonymity.ALWAYS,
                "author": _author(idea.author, anonymous=idea.anonymous, anonymity=anonymity),
                "votes": idea.n_votes,
                "reactions": dict(sorted(counts.items())),
                "reaction_count": sum(counts.values()),
                "cluster_id": idea.cluster_id,
                "replies": replies.get(idea.pk, []),
                "at": _iso(idea.created_at),
            }
        )

    out_challenges = []
    for challenge in challenges:
        # Ranked by votes, then reactions, then posting order; unvoted ideas stay in.
        items = sorted(
            by_challenge.get(challenge.pk, []),
            key=lambda i: (-i["votes"], -i["reaction_count"], i["id"]),
        )
        for rank, item in enumerate(items, start=1):
            item["rank"] = rank
        kept_ids = {i["id"] for i in items}
        out_challenges.append(
            {
                "id": challenge.pk,
                "title": challenge.title,
                "context": challenge.context,
                "ask": challenge.ask,
                "position": challenge.position,
                "owner": _person(challenge.owner),
                "counts": {
                    "ideas": sum(1 for i in items if i["kind"] == IdeaKind.IDEA),
                    "questions": sum(1 for i in items if i["kind"] == IdeaKind.QUESTION),
                    "votes": sum(i["votes"] for i in items),
                    "replies": sum(len(i["replies"]) for i in items),
                },
                "ideas": [i for i in items if i["kind"] == IdeaKind.IDEA],
                "questions": [i for i in items if i["kind"] == IdeaKind.QUESTION],
                "clusters": [
                    {
                        "id": cluster.pk,
                        "name": cluster.name,
                        "idea_ids": [i["id"] for i in items if i["cluster_id"] == cluster.pk],
                    }
                    for cluster in clusters.get(challenge.pk, [])
                ],
                "actions": [
                    {
                        "id": action.pk,
                        "text": action.text,
                        "owner": _person(action.owner),
                        "due_date": _iso(action.due_date),
                        "status": action.status,
                        "status_note": action.status_note,
                        "idea_ids": sorted(
                            i.pk for i in action.source_ideas.all() if i.pk in kept_ids
                        ),
                    }
                    for action in actions.get(challenge.pk, [])
                ],
            }
        )

    takeaways = [
        {
            "id": t.pk,
            "text": t.text,
            "anonymous": t.anonymous or anonymity == Anonymity.ALWAYS,
            "author": _author(t.author, anonymous=t.anonymous, anonymity=anonymity),
            "at": _iso(t.created_at),
        }
        for t in Takeaway.objects.filter(meeting=meeting).select_related("author")
    ]
    participants = [
        {"id": p.pk, "name": p.display_name, "user_id": p.user_id, "guest": p.user_id is None}
        for p in meeting.participants.filter(removed=False).order_by("display_name", "id")
    ]
    duration = None
    if meeting.started_at and meeting.ended_at:
        duration = max(0, round((meeting.ended_at - meeting.started_at).total_seconds() / 60))
    return {
        "version": DATA_VERSION,
        "meeting": {
            "id": meeting.pk,
            "room_id": meeting.room_id,
            "title": meeting.title,
            "format": meeting.format,
            "anonymity": anonymity,
            "scheduled_at": _iso(meeting.scheduled_at),
            "started_at": _iso(meeting.started_at),
            "ended_at": _iso(meeting.ended_at),
        },
        "figures": {
            "duration_minutes": duration,
            "participants": len(participants),
            "challenges": len(out_challenges),
            "ideas": sum(c["counts"]["ideas"] for c in out_challenges),
            "questions": sum(c["counts"]["questions"] for c in out_challenges),
            "votes": Vote.objects.filter(idea_id__in=idea_ids).count(),
            "replies": sum(c["counts"]["replies"] for c in out_challenges),
            "actions": sum(len(c["actions"]) for c in out_challenges),
            "takeaways": len(takeaways),
        },
        "participants": participants,
        "challenges": out_challenges,
        "takeaways": takeaways,
    }


def summary_build(*, meeting: Meeting) -> Summary:
    """Build (or rebuild) the summary of ``meeting`` and index it for search.

    Runs inside the caller's transaction (``services.meeting_end``); idempotent.
    """
    data = summary_data(meeting)
    summary, created = Summary.objects.get_or_create(meeting=meeting, defaults={"data": data})
    if not created and summary.data != data:
        summary.data = data
        summary.save(update_fields=["data"])
    search.index_meeting(meeting)
    return summary


def _parse(value):
    if not value:
        return None
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        return dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def summary_display(data: dict) -> dict:
    """A copy of a viewer's summary (``archive_policy.summary_for``) ready for templates:
    dates parsed, labels of statuses and consent levels added, ideas indexed by id for
    the clusters."""
    out = copy.deepcopy(data)
    meeting = out["meeting"]
    for key in ("scheduled_at", "started_at", "ended_at"):
        meeting[key] = _parse(meeting.get(key))
    for ch in out["challenges"]:
        ch["consent_label"] = Consent(ch.get("consent", Consent.FULL)).label
        by_id = {i["id"]: i for i in ch["ideas"] + ch["questions"]}
        for cluster in ch["clusters"]:
            cluster["ideas"] = [by_id[i] for i in cluster["idea_ids"] if i in by_id]
        for action in ch["actions"]:
            action["due_date"] = _parse(action.get("due_date"))
            action["status_label"] = _status_label(action["status"])
            action["ideas"] = [by_id[i] for i in action["idea_ids"] if i in by_id]
        for idea in by_id.values():
            for a in idea.get("actions", []):
                a["status_label"] = _status_label(a["status"])
    return out


def _status_label(status: str) -> str:
    try:
        return str(ActionStatus(status).label)
    except ValueError:
        return status
