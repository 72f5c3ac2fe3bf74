"""Snapshot before + events applied = snapshot after, for every event type and viewer.

Zulip's ``verify_action`` idea (STYLE.md): a scripted meeting goes through every event of
``rooms.protocol.EVENT_DATA``; after each command, each viewer's state, built by applying
the rendered events with ``rooms.state.apply_event`` (the client's logic, in Python), must
equal a fresh ``snapshot_for`` that viewer. Every rendered frame and snapshot also
validates against the protocol, and viewers who share a ``view_key`` (the hub encodes an
event once per key) receive the very same frame.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from rooms import services
from rooms.models import (
    Action,
    Challenge,
    Meeting,
    MeetingEvent,
    Membership,
    Participant,
    Role,
)
from rooms.protocol import EVENT_DATA, Snapshot, server_frame_adapter
from rooms.state import apply_event
from rooms.wire import Viewer, render_event, snapshot_for, view_key

pytestmark = pytest.mark.django_db

APPLY_CASES = Path(__file__).resolve().parents[2] / "frontend" / "tests" / "apply-cases.json"


def _first_difference(a, b, path="$"):
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'after' if k in b else 'applied'}"
            d = _first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items applied, {len(b)} in the snapshot: {a!r} / {b!r}"
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            d = _first_difference(x, y, f"{path}[{n}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: applied {a!r}, snapshot {b!r}"


class Verifier:
    """Runs services and checks every viewer's applied state after each of them."""

    def __init__(self, meeting: Meeting, viewers: dict[str, Participant]):
        self.meeting = meeting
        self.viewers = {name: Viewer.for_participant(p) for name, p in viewers.items()}
        self.states = {}
        for name, v in self.viewers.items():
            snap, _seq = snapshot_for(meeting, v)
            self.states[name] = snap
        self.seen: set[str] = set()
        self.problems: list[str] = []
        # Each viewer's first snapshot and every frame it received: the TypeScript store
        # replays the same cases (frontend/tests/apply-parity.test.ts).
        self.cases = {
            name: {"before": json.loads(json.dumps(snap)), "frames": []}
            for name, snap in self.states.items()
        }

    def __call__(self, label: str, fn, **kwargs):
        before = Meeting.objects.get(pk=self.meeting.pk).last_seq
        outcome = fn(**kwargs)
        events = list(
            MeetingEvent.objects.filter(meeting=self.meeting, seq__gt=before).order_by("seq")
        )
        assert events, f"{label}: no event"
        assert [e.seq for e in events] == list(range(before + 1, before + 1 + len(events)))
        for e in events:
            self.seen.add(e.name)
            by_key: dict = {}
            for name, v in self.viewers.items():
                frame = render_event(e, v)
                frame = json.loads(json.dumps(frame))  # what travels
                server_frame_adapter.validate_python(frame)
                key = view_key(e.name, e.data, e.actor_id, v)
                if key in by_key and by_key[key][1] != frame:
                    self.problems.append(
                        f"{label}: {e.name} differs between {by_key[key][0]} and {name} "
                        f"who share view key {key!r}"
                    )
                by_key.setdefault(key, (name, frame))
                self.cases[name]["frames"].append(frame)
                self.states[name] = apply_event(self.states[name], frame)
        for name, v in self.viewers.items():
            after, seq = snapshot_for(self.meeting, v)
            assert seq == events[-1].seq
            Snapshot.model_validate(after)
            diff = _first_difference(self.states[name], json.loads(json.dumps(after)))
            if diff:
                self.problems.append(f"{label} [{name}] {diff}")
                self.states[name] = after
        return outcome


@pytest.fixture
def scene(meeting_factory, member_factory, user_factory):
    """An open meeting and, in the same room, an ended earlier one with an open action."""
    meeting = meeting_factory(format="open", anonymity="optional")
    room = meeting.room
    users = {"owner": Membership.objects.get(room=room, role=Role.OWNER).user}
    users["fac"] = member_factory(room, Role.FACILITATOR, display_name="Fanny Facilitates")
    for name in ("chal", "author", "member", "late", "other"):
        users[name] = member_factory(room, display_name=f"{name.title()} Person")
    earlier = meeting_factory(
        room=room,
        format="open",
        state="ended",
        scheduled_at=timezone.now() - dt.timedelta(days=14),
    )
    old_owner = services.participant_join(meeting=earlier, user=users["chal"])
    old_challenge = Challenge.objects.create(meeting=earlier, owner=old_owner, title="Avant")
    followup = Action.objects.create(challenge=old_challenge, owner=old_owner, text="Relancer")
    people = {
        name: services.participant_join(meeting=meeting, user=u)
        for name, u in users.items()
        if name != "late"
    }
    people["guest"] = services.participant_join(
        meeting=meeting, guest_key=uuid.uuid4(), display_name="Gaby Guest"
    )
    return meeting, users, people, followup


def test_snapshot_plus_events_equals_snapshot_for_every_event_and_viewer(scene):
    """Across a meeting that emits every event type, each viewer's state built from the
    events it received equals its fresh snapshot after every command."""
    meeting, users, p, followup = scene
    viewers = {n: p[n] for n in ("owner", "fac", "chal", "author", "member", "guest")}
    run = Verifier(meeting, viewers)
    s = services
    fac, chal, author, member, guest = p["fac"], p["chal"], p["author"], p["member"], p["guest"]

    run("settings", s.meeting_settings, actor=fac, anonymity="optional", vote_budget=2)
    c1 = run("post c1", s.challenge_post, actor=chal, title="Fixer mes prix").result["id"]
    c2 = run("post c2", s.challenge_post, actor=author, title="Recruter").result["id"]
    run("edit c1", s.challenge_edit, actor=chal, challenge_id=c1, ask="Des chiffres")
    run("reorder", s.challenge_reorder, actor=fac, challenge_ids=[c2, c1])
    run("withdraw c2", s.challenge_withdraw, actor=author, challenge_id=c2)
    run("start", s.meeting_start, actor=fac)
    run("late joiner", s.participant_join, meeting=meeting, user=users["late"])
    run("to ideas", s.phase_next, actor=fac)

    post = s.idea_post
    i1 = run("anon idea", post, actor=author, challenge_id=c1, text="A", anonymous=True)
    i1 = i1.result["id"]
    i2 = run("named idea", post, actor=member, challenge_id=c1, text="B").result["id"]
    i3 = run("guest q", post, actor=guest, challenge_id=c1, text="C?", kind="question")
    i3 = i3.result["id"]
    run("anon reply", s.reply_post, actor=author, idea_id=i2, text="oui", anonymous=True)
    run("named reply", s.reply_post, actor=member, idea_id=i1, text="et")
    run("edit i2", s.idea_edit, actor=member, idea_id=i2, text="B bis")
    run("edit anon i1", s.idea_edit, actor=author, idea_id=i1, text="A bis")
    run("spotlight i2", s.idea_spotlight, actor=fac, idea_id=i2)
    run("react", s.reaction_toggle, actor=member, idea_id=i1, emoji="💡")
    run("react 2", s.reaction_toggle, actor=author, idea_id=i1, emoji="💡")
    run("unreact", s.reaction_toggle, actor=member, idea_id=i1, emoji="💡")
    run("delete spotlit i2", s.idea_delete, actor=member, idea_id=i2)
    run("hide", s.meeting_settings, actor=fac, hide_until_reveal=True)
    i4 = run("hidden idea", post, actor=member, challenge_id=c1, text="D").result["id"]
    i5 = run("hidden anon", post, actor=author, challenge_id=c1, text="E", anonymous=True)
    i5 = i5.result["id"]
    i6 = run("hidden, removed", post, actor=guest, challenge_id=c1, text="spam").result["id"]
    run("remove hidden i6", s.idea_remove, actor=fac, idea_id=i6, reason="hors sujet")
    run("reveal", s.ideas_reveal, actor=fac, challenge_id=c1)
    run("remove i3", s.idea_remove, actor=fac, idea_id=i3, reason="doublon")
    k1 = run("cluster", s.cluster_create, actor=fac, challenge_id=c1, name="Prix").result["id"]
    run("rename", s.cluster_rename, actor=fac, cluster_id=k1, name="Tarifs")
    k2 = run("cluster 2", s.cluster_create, actor=fac, challenge_id=c1, name="Autre")
    k2 = k2.result["id"]
    run("move i4", s.idea_move, actor=fac, idea_id=i4, cluster_id=k1)
    run("move i5", s.idea_move, actor=fac, idea_id=i5, cluster_id=k2)
    run("delete k2", s.cluster_delete, actor=fac, cluster_id=k2)
    run("to vote", s.phase_set, actor=fac, phase="vote")
    run("vote", s.vote_cast, actor=member, idea_id=i1)
    run("vote 2", s.vote_cast, actor=author, idea_id=i4)
    run("retract", s.vote_retract, actor=member, idea_id=i1)
    run("timer", s.timer_start, actor=fac, seconds=300)
    run("pause", s.timer_pause, actor=fac)
    run("resume", s.timer_resume, actor=fac)
    run("add", s.timer_add, actor=fac, seconds=60)
    run("clear", s.timer_clear, actor=fac)
    run("lock", s.board_lock, actor=fac, locked=True)
    run("unlock", s.board_lock, actor=fac, locked=False)
    run("mute", s.participant_mute, actor=fac, participant_id=p["other"].pk, muted=True)
    run("remove", s.participant_remove, actor=fac, participant_id=p["other"].pk)
    run("to wrapup", s.phase_next, actor=fac)
    a1 = run("action", s.action_post, actor=chal, challenge_id=c1, text="Go", idea_ids=[i4, i1])
    run("status", s.action_status, actor=chal, action_id=a1.result["id"], status="in_progress")
    run("followup", s.action_status, actor=chal, action_id=followup.pk, status="done")
    run("back to ideas", s.phase_set, actor=fac, phase="ideas")
    run("delete an action's idea", s.idea_delete, actor=author, idea_id=i1)
    run("wrapup again", s.phase_set, actor=fac, phase="wrapup")
    run("takeaway", s.takeaway_post, actor=author, text="Oser", anonymous=True)
    run("guest takeaway", s.takeaway_post, actor=guest, text="Merci")
    run("end", s.meeting_end, actor=fac)

    assert run.problems == [], "\n" + "\n".join(run.problems)
    assert run.seen == set(EVENT_DATA), set(EVENT_DATA) - run.seen
    if os.environ.get("PAUSE_WRITE_APPLY_CASES"):
        for name, v in run.viewers.items():
            run.cases[name]["after"] = json.loads(json.dumps(snapshot_for(meeting, v)[0]))
        APPLY_CASES.write_text(json.dumps(run.cases, ensure_ascii=False, indent=1) + "\n")


def test_the_committed_apply_cases_replay_to_their_final_snapshot_in_python():
    """The cases the TypeScript store also replays (recorded from the test above with
    PAUSE_WRITE_APPLY_CASES=1) give each viewer's final snapshot with rooms.state, so
    both implementations of "apply an event" are held to the same frames."""
    cases = json.loads(APPLY_CASES.read_text())
    assert set(cases) == {"owner", "fac", "chal", "author", "member", "guest"}
    names = set()
    for name, case in cases.items():
        state = case["before"]
        for frame in case["frames"]:
            names.add(frame["name"])
            state = apply_event(state, frame)
        assert _first_difference(state, case["after"]) is None, name
    assert names == set(EVENT_DATA)
