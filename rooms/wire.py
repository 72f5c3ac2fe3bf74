"""What one viewer sees of a meeting: the only place that redacts.

Events are stored with their full data (authors included). ``render_event`` and
``snapshot_for`` turn them into the wire form of ``rooms/protocol.py`` for one viewer:
an anonymous post never carries its author to anyone but its author, a hidden idea
carries neither text nor author to anyone but its author, a removed idea's reason goes
only to its author and the facilitators. ``view_key`` says which viewers get the same
bytes, so the fan-out renders and encodes an event once per distinct view.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Q

from rooms import phases
from rooms.models import (
    Action,
    ActionStatus,
    Challenge,
    Cluster,
    Idea,
    Meeting,
    MeetingEvent,
    Membership,
    Participant,
    Reaction,
    Reply,
    Takeaway,
    Vote,
)


@dataclass(frozen=True)
class Viewer:
    participant_id: int
    role: str  # owner, facilitator, member or guest
    user_id: int | None = None

    @property
    def facilitator(self) -> bool:
        return self.role in ("owner", "facilitator")

    @classmethod
    def for_participant(cls, participant: Participant) -> Viewer:
        return cls(participant.pk, role_of(participant), participant.user_id)


def role_of(participant: Participant) -> str:
    """The participant's role in the meeting's room; ``guest`` without an account."""
    if participant.user_id is None:
        return "guest"
    role = (
        Membership.objects.filter(room_id=participant.meeting.room_id, user_id=participant.user_id)
        .values_list("role", flat=True)
        .first()
    )
    return role or "removed"


def iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


# --------------------------------------------------------------------------- full data


def author(p: Participant) -> dict:
    return {"id": p.pk, "name": p.display_name}


def meeting_data(m: Meeting) -> dict:
    return {
        "id": m.pk,
        "room_id": m.room_id,
        "title": m.title,
        "format": m.format,
        "state": m.state,
        "phase": m.phase,
        "phases": list(phases.phases_for(m.format)),
        "active_challenge_id": m.active_challenge_id,
        "anonymity": m.anonymity,
        "vote_budget": m.vote_budget,
        "hide_until_reveal": m.hide_until_reveal,
        "locked": m.locked,
        "spotlight_idea_id": m.spotlight_idea_id,
        "timer": {"ends_at": iso(m.timer_ends_at), "remaining_ms": m.timer_remaining_ms},
        "scheduled_at": iso(m.scheduled_at),
        "started_at": iso(m.started_at),
        "ended_at": iso(m.ended_at),
    }


def participant_data(p: Participant, role: str) -> dict:
    return {
        "id": p.pk,
        "name": p.display_name,
        "role": role if role != "removed" else "member",
        "muted": p.muted,
        "removed": p.removed,
    }


def challenge_data(c: Challenge) -> dict:
    return {
        "id": c.pk,
        "title": c.title,
        "context": c.context,
        "ask": c.ask,
        "owner": author(c.owner),
        "position": c.position,
        "status": c.status,
    }


def reply_data(r: Reply) -> dict:
    return {
        "id": r.pk,
        "idea_id": r.idea_id,
        "text": r.text,
        "author": author(r.author),
        "anonymous": r.anonymous,
        "at": iso(r.created_at),
    }


def idea_data(i: Idea, *, votes=0, reactions=None, replies=()) -> dict:
    return {
        "id": i.pk,
        "challenge_id": i.challenge_id,
        "kind": i.kind,
        "text": i.text,
        "author": author(i.author),
        "anonymous": i.anonymous,
        "hidden": i.hidden,
        "removed": i.removed,
        "removed_reason": i.removed_reason if i.removed else None,
        "cluster_id": i.cluster_id,
        "votes": votes,
        "reactions": dict(reactions or {}),
        "replies": [reply_data(r) for r in replies],
        "at": iso(i.created_at),
        "edited": i.edited_at is not None,
    }


def cluster_data(c: Cluster) -> dict:
    return {"id": c.pk, "challenge_id": c.challenge_id, "name": c.name, "position": c.position}


def action_data(a: Action, idea_ids=None) -> dict:
    if idea_ids is None:
        idea_ids = sorted(a.source_ideas.values_list("id", flat=True))
    return {
        "id": a.pk,
        "challenge_id": a.challenge_id,
        "owner": author(a.owner),
        "text": a.text,
        "due_date": a.due_date.isoformat() if a.due_date else None,
        "idea_ids": list(idea_ids),
        "status": a.status,
        "status_note": a.status_note,
        "meeting_id": a.challenge.meeting_id,
    }


def takeaway_data(t: Takeaway) -> dict:
    return {
        "id": t.pk,
        "text": t.text,
        "author": author(t.author),
        "anonymous": t.anonymous,
        "at": iso(t.created_at),
    }


# --------------------------------------------------------------------------- redaction


def _post_for(d: dict, v: Viewer) -> dict:
    """A reply or takeaway for viewer ``v``: the author only if not anonymous, or ``v``."""
    out = dict(d)
    anonymous = out.pop("anonymous", False)
    mine = out["author"]["id"] == v.participant_id
    out["mine"] = mine
    if anonymous and not mine:
        out["author"] = None
    return out


def idea_for(d: dict, v: Viewer, *, my_vote=False, my_reactions=()) -> dict:
    out = dict(d)
    mine = out["author"]["id"] == v.participant_id
    out["mine"] = mine
    if not mine:
        if out["anonymous"] or out["hidden"]:
            out["author"] = None
        if out["hidden"]:
            out["text"] = ""
    if out["removed_reason"] is not None and not (mine or v.facilitator):
        out["removed_reason"] = None
    out["my_vote"] = my_vote
    out["my_reactions"] = sorted(my_reactions)
    out["replies"] = [_post_for(r, v) for r in out["replies"]]
    return out


def view_key(name: str, data: dict, actor: int | None, v: Viewer):
    """Viewers with the same key receive the same bytes for this event."""
    if name in ("idea.posted", "idea.edited"):
        # The replies inside carry ``mine`` and, when anonymous, their author only for
        # their own author: each reply author among the viewers sees a different frame.
        mine = tuple(
            r["id"] for r in data.get("replies", ()) if r["author"]["id"] == v.participant_id
        )
        return ("self" if data["author"]["id"] == v.participant_id else "other", *mine)
    if name in ("reply.posted", "takeaway.posted"):
        return "self" if data["author"]["id"] == v.participant_id else "other"
    if name in ("vote.cast", "vote.retracted", "reaction.toggled", "idea.deleted"):
        return "self" if actor == v.participant_id else "other"
    if name == "idea.removed":
        if data.get("author_id") == v.participant_id:
            return "self"
        return "fac" if v.facilitator else "other"
    if name == "ideas.revealed":
        mine = [i["id"] for i in data["ideas"] if i["author"]["id"] == v.participant_id]
        return ("self", *mine) if mine else "other"
    return "all"


def render_data(name: str, data: dict, actor: int | None, v: Viewer) -> dict:
    """The ``data`` of an event as viewer ``v`` receives it."""
    if name in ("idea.posted", "idea.edited"):
        return idea_for(data, v, my_vote=data.get("my_vote", False))
    if name in ("reply.posted", "takeaway.posted"):
        return _post_for(data, v)
    if name in ("vote.cast", "vote.retracted"):
        return {
            "idea_id": data["idea_id"],
            "votes": data["votes"],
            "mine": (name == "vote.cast") if actor == v.participant_id else None,
        }
    if name == "reaction.toggled":
        return {
            "idea_id": data["idea_id"],
            "emoji": data["emoji"],
            "count": data["count"],
            "mine": data["on"] if actor == v.participant_id else None,
        }
    if name == "idea.removed":
        show = data.get("author_id") == v.participant_id or v.facilitator
        return {"idea_id": data["idea_id"], "reason": data["reason"] if show else None}
    if name == "ideas.revealed":
        return {
            "challenge_id": data["challenge_id"],
            "ideas": [
                {
                    "id": i["id"],
                    "text": i["text"],
                    "author": i["author"]
                    if not i["anonymous"] or i["author"]["id"] == v.participant_id
                    else None,
                }
                for i in data["ideas"]
            ],
        }
    return data


# Events whose actor is only told to the actor: who voted, reacted or deleted a post
# is not shown anywhere else (snapshots carry counts only).
_PRIVATE_ACTOR = frozenset({"vote.cast", "vote.retracted", "reaction.toggled", "idea.deleted"})


def actor_for(name: str, data: dict, actor: int | None, rendered: dict, v: Viewer):
    """The ``actor`` of an event for viewer ``v``: hidden where it would name the author of
    an anonymous or hidden post, or a voter, to anyone else."""
    if actor is None or actor == v.participant_id:
        return actor
    if name in _PRIVATE_ACTOR:
        return None
    posts = ("idea.posted", "idea.edited", "reply.posted", "takeaway.posted")
    if name in posts and rendered.get("author") is None and data["author"]["id"] == actor:
        return None
    return actor


def event_frame(ev: dict, v: Viewer) -> dict:
    """An event (``seq, name, at, actor, data`` as stored or broadcast) for viewer ``v``."""
    data = render_data(ev["name"], ev["data"], ev["actor"], v)
    return {
        "type": "event",
        "seq": ev["seq"],
        "name": ev["name"],
        "at": ev["at"],
        "actor": actor_for(ev["name"], ev["data"], ev["actor"], data, v),
        "data": data,
    }


def event_dict(e: MeetingEvent) -> dict:
    return {"seq": e.seq, "name": e.name, "at": iso(e.at), "actor": e.actor_id, "data": e.data}


def render_event(event: MeetingEvent, viewer: Viewer) -> dict:
    return event_frame(event_dict(event), viewer)


# --------------------------------------------------------------------------- snapshot


def _consistent_read():
    """A transaction in which every query sees the same committed state."""
    outermost = not connection.in_atomic_block
    atomic = transaction.atomic()
    atomic.__enter__()
    # Only the first statement of a transaction may set its isolation; inside an outer
    # transaction (a service, a test) the caller's view is already one state.
    if connection.vendor == "postgresql" and outermost:
        with connection.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
    return atomic


def snapshot_for(meeting: Meeting | int, viewer: Viewer) -> tuple[dict, int]:
    """The whole state of a meeting for one viewer, and the ``seq`` it corresponds to."""
    meeting_id = meeting if isinstance(meeting, int) else meeting.pk
    atomic = _consistent_read()
    try:
        m = Meeting.objects.get(pk=meeting_id)
        result = _build_snapshot(m, viewer)
        return result, m.last_seq
    finally:
        atomic.__exit__(None, None, None)


def _build_snapshot(m: Meeting, v: Viewer) -> dict:
    roles = dict(Membership.objects.filter(room_id=m.room_id).values_list("user_id", "role"))
    participants = [
        participant_data(p, roles.get(p.user_id, "member") if p.user_id else "guest")
        for p in m.participants.all().order_by("id")
    ]
    challenges = [
        challenge_data(c) for c in m.challenges.select_related("owner").order_by("position", "id")
    ]
    votes = dict(
        Vote.objects.filter(idea__meeting=m)
        .values("idea_id")
        .annotate(n=Count("id"))
        .values_list("idea_id", "n")
    )
    my_votes = set(
        Vote.objects.filter(idea__meeting=m, participant_id=v.participant_id).values_list(
            "idea_id", flat=True
        )
    )
    reactions: dict[int, dict[str, int]] = {}
    for idea_id, emoji, n in (
        Reaction.objects.filter(idea__meeting=m)
        .values("idea_id", "emoji")
        .annotate(n=Count("id"))
        .values_list("idea_id", "emoji", "n")
        .order_by()
    ):
        reactions.setdefault(idea_id, {})[emoji] = n
    my_reactions: dict[int, set[str]] = {}
    for idea_id, emoji in Reaction.objects.filter(
        idea__meeting=m, participant_id=v.participant_id
    ).values_list("idea_id", "emoji"):
        my_reactions.setdefault(idea_id, set()).add(emoji)
    replies: dict[int, list[Reply]] = {}
    for r in Reply.objects.filter(idea__meeting=m).select_related("author").order_by("id"):
        replies.setdefault(r.idea_id, []).append(r)
    ideas = []
    for i in Idea.objects.filter(meeting=m).select_related("author").order_by("id"):
        if i.removed and not (i.author_id == v.participant_id or v.facilitator):
            continue
        d = idea_data(
            i,
            votes=votes.get(i.pk, 0),
            reactions=reactions.get(i.pk),
            replies=replies.get(i.pk, ()),
        )
        ideas.append(
            idea_for(d, v, my_vote=i.pk in my_votes, my_reactions=my_reactions.get(i.pk, ()))
        )
    clusters = [
        cluster_data(c) for c in Cluster.objects.filter(challenge__meeting=m).order_by("id")
    ]
    actions = [
        action_data(a)
        for a in Action.objects.filter(challenge__meeting=m)
        .select_related("owner", "challenge")
        .prefetch_related("source_ideas")
        .order_by("id")
    ]
    # Open actions of earlier meetings, and those whose status changed during this one
    # (so a snapshot equals the events applied to the previous one).
    still_open = Q(status__in=(ActionStatus.OPEN, ActionStatus.IN_PROGRESS))
    if m.started_at:
        still_open |= Q(updated_at__gte=m.started_at)
    followups = [
        action_data(a)
        for a in Action.objects.filter(
            still_open,
            challenge__meeting__room_id=m.room_id,
            challenge__meeting__state="ended",
            challenge__meeting__scheduled_at__lt=m.scheduled_at,
        )
        .select_related("owner", "challenge")
        .prefetch_related("source_ideas")
        .order_by("id")
    ]
    takeaways = [
        _post_for(takeaway_data(t), v) for t in m.takeaways.select_related("author").order_by("id")
    ]
    return {
        "meeting": meeting_data(m),
        "participants": participants,
        "challenges": challenges,
        "ideas": ideas,
        "clusters": clusters,
        "actions": actions,
        "followups": followups,
        "takeaways": takeaways,
    }
