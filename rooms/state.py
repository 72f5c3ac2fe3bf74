"""Apply one event frame to a snapshot: the client's half of the protocol, in Python.

The TypeScript store (frontend/src/store.ts) applies events the same way. The server's
tests use this function to check that *snapshot before + events = snapshot after* for
every event type and every viewer, so the rendering of events and of snapshots cannot
drift apart.
"""

from __future__ import annotations

import copy

MEETING_EVENTS = {
    "meeting.started",
    "meeting.ended",
    "phase.changed",
    "timer.changed",
    "settings.changed",
    "board.locked",
    "idea.spotlighted",
}


def _upsert(items: list[dict], item: dict, key: str = "id") -> None:
    for n, existing in enumerate(items):
        if existing[key] == item[key]:
            items[n] = item
            return
    items.append(item)


def _find(items: list[dict], id_: int) -> dict | None:
    return next((i for i in items if i["id"] == id_), None)


def apply_event(snapshot: dict, frame: dict) -> dict:
    """Return a new snapshot with ``frame`` (an ``event`` frame) applied."""
    s = copy.deepcopy(snapshot)
    name, d = frame["name"], frame["data"]
    if name in MEETING_EVENTS:
        s["meeting"] = d
    elif name in ("participant.joined", "participant.updated"):
        _upsert(s["participants"], d)
    elif name in ("challenge.posted", "challenge.edited", "challenge.withdrawn"):
        _upsert(s["challenges"], d)
        s["challenges"].sort(key=lambda c: (c["position"], c["id"]))
    elif name == "challenge.reordered":
        order = {cid: n for n, cid in enumerate(d["challenge_ids"])}
        for c in s["challenges"]:
            c["position"] = order.get(c["id"], c["position"])
        s["challenges"].sort(key=lambda c: (c["position"], c["id"]))
    elif name == "idea.posted":
        _upsert(s["ideas"], d)
    elif name == "idea.edited":
        # Only what an edit changes: counts and the viewer's own votes stay as they are.
        idea = _find(s["ideas"], d["id"])
        if idea is not None:
            idea.update(text=d["text"], edited=d["edited"], author=d["author"])
    elif name == "idea.deleted":
        s["ideas"] = [i for i in s["ideas"] if i["id"] != d["idea_id"]]
        # The actions built from it lose the link (the database drops it with the idea).
        for action in (*s["actions"], *s["followups"]):
            if d["idea_id"] in action["idea_ids"]:
                action["idea_ids"] = [i for i in action["idea_ids"] if i != d["idea_id"]]
    elif name == "idea.removed":
        if d["reason"] is None:
            s["ideas"] = [i for i in s["ideas"] if i["id"] != d["idea_id"]]
        else:
            idea = _find(s["ideas"], d["idea_id"])
            if idea is not None:
                idea.update(removed=True, removed_reason=d["reason"])
    elif name == "ideas.revealed":
        for r in d["ideas"]:
            idea = _find(s["ideas"], r["id"])
            if idea is not None:
                idea.update(text=r["text"], author=r["author"], hidden=False)
    elif name == "idea.moved":
        idea = _find(s["ideas"], d["idea_id"])
        if idea is not None:
            idea["cluster_id"] = d["cluster_id"]
    elif name == "reply.posted":
        idea = _find(s["ideas"], d["idea_id"])
        if idea is not None:
            _upsert(idea["replies"], d)
    elif name in ("vote.cast", "vote.retracted"):
        idea = _find(s["ideas"], d["idea_id"])
        if idea is not None:
            idea["votes"] = d["votes"]
            if d["mine"] is not None:
                idea["my_vote"] = d["mine"]
    elif name == "reaction.toggled":
        idea = _find(s["ideas"], d["idea_id"])
        if idea is not None:
            if d["count"]:
                idea["reactions"][d["emoji"]] = d["count"]
            else:
                idea["reactions"].pop(d["emoji"], None)
            if d["mine"] is not None:
                mine = set(idea["my_reactions"])
                (mine.add if d["mine"] else mine.discard)(d["emoji"])
                idea["my_reactions"] = sorted(mine)
    elif name in ("cluster.created", "cluster.renamed"):
        _upsert(s["clusters"], d)
    elif name == "cluster.deleted":
        s["clusters"] = [c for c in s["clusters"] if c["id"] != d["cluster_id"]]
        for idea in s["ideas"]:
            if idea["cluster_id"] == d["cluster_id"]:
                idea["cluster_id"] = None
    elif name in ("action.posted", "action.updated"):
        if d["meeting_id"] == s["meeting"]["id"]:
            _upsert(s["actions"], d)
        if _find(s["followups"], d["id"]) is not None:
            _upsert(s["followups"], d)
    elif name == "takeaway.posted":
        _upsert(s["takeaways"], d)
    else:
        raise ValueError(f"unknown event {name}")
    return s
