"""A model of a meeting, checked against the services step by step (hypothesis).

Random sequences of join, post, vote, retract, phase change, reconnect (a fresh
snapshot), duplicate send (same ``ref``) and end, by a facilitator and two members of an
open-format meeting. After every step: the database equals the model, nobody exceeds the
vote budget, only the facilitator changed phases, and nothing was accepted after the end.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from rooms import services, wire
from rooms.errors import DomainError
from rooms.models import Idea, Meeting, Membership, Role, Vote
from rooms.phases import OPEN_PHASES

pytestmark = pytest.mark.django_db

PEOPLE = ("fac", "a", "b")


def run_machine(meeting_factory, member_factory):
    refs = itertools.count()

    class MeetingModel(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.meeting = meeting_factory(format="open", vote_budget=1)
            room = self.meeting.room
            owner = Membership.objects.get(room=room, role=Role.OWNER).user
            self.users = {"fac": owner, "a": member_factory(room), "b": member_factory(room)}
            self.p: dict = {}
            fac = services.participant_join(meeting=self.meeting, user=owner)
            self.p["fac"] = fac
            services.meeting_start(actor=fac)
            self.challenge = services.challenge_post(actor=fac, title="Prix").result["id"]
            services.phase_set(actor=fac, phase="ideas")
            self.phase, self.ended = "ideas", False
            self.ideas: dict[int, str] = {}  # idea id -> author name
            self.votes: set[tuple[str, int]] = set()
            self.last: dict[str, tuple] = {}  # who -> (service, kwargs, ref, outcome)
            self.last_ok: dict[str, tuple] = {}  # the same, for accepted commands
            self.accepted_after_end = 0
            self.steps = 0

        def actor(self, who):
            if who not in self.p:
                self.p[who] = services.participant_join(meeting=self.meeting, user=self.users[who])
            return self.p[who]

        def call(self, who, service, **kwargs):
            self.steps += 1
            ref = f"m{next(refs)}"
            try:
                outcome = service(actor=self.actor(who), ref=ref, **kwargs)
            except DomainError as e:
                self.last[who] = (service, kwargs, ref, e.code)
                return None
            self.last[who] = (service, kwargs, ref, outcome)
            self.last_ok[who] = (service, kwargs, ref, outcome)
            if self.ended:
                self.accepted_after_end += 1
            return outcome

        @rule(who=st.sampled_from(PEOPLE))
        def join(self, who):
            p = self.actor(who)
            assert services.participant_join(meeting=self.meeting, user=self.users[who]) == p

        @rule(who=st.sampled_from(("a", "b")), text=st.text(min_size=1, max_size=30))
        def post(self, who, text):
            outcome = self.call(
                who, services.idea_post, challenge_id=self.challenge, text=text or "x"
            )
            expected = self.phase == "ideas" and not self.ended
            assert (outcome is not None) == expected, (self.phase, self.ended, self.last[who])
            if outcome is not None:
                self.ideas[outcome.result["id"]] = who

        @precondition(lambda self: self.ideas)
        @rule(who=st.sampled_from(("a", "b")), pick=st.integers(0, 50))
        def vote(self, who, pick):
            idea = sorted(self.ideas)[pick % len(self.ideas)]
            outcome = self.call(who, services.vote_cast, idea_id=idea)
            used = sum(1 for w, _ in self.votes if w == who)
            expected = (
                self.phase == "vote"
                and not self.ended
                and (who, idea) not in self.votes
                and used < self.meeting.vote_budget
            )
            assert (outcome is not None) == expected, (self.phase, used, self.last[who])
            if outcome is not None:
                self.votes.add((who, idea))

        @precondition(lambda self: self.ideas)
        @rule(who=st.sampled_from(("a", "b")), pick=st.integers(0, 50))
        def retract(self, who, pick):
            idea = sorted(self.ideas)[pick % len(self.ideas)]
            outcome = self.call(who, services.vote_retract, idea_id=idea)
            expected = self.phase == "vote" and not self.ended and (who, idea) in self.votes
            assert (outcome is not None) == expected, (self.phase, self.last[who])
            if outcome is not None:
                self.votes.discard((who, idea))

        @rule(phase=st.sampled_from(OPEN_PHASES))
        def phase_change(self, phase):
            self.phase_change_by("fac", phase)

        @rule(who=st.sampled_from(("a", "b")), phase=st.sampled_from(OPEN_PHASES))
        def phase_change_by_member(self, who, phase):
            self.phase_change_by(who, phase)

        def phase_change_by(self, who, phase):
            outcome = self.call(who, services.phase_set, phase=phase)
            expected = who == "fac" and not self.ended
            assert (outcome is not None) == expected, (who, self.last[who])
            if outcome is not None:
                self.phase = phase

        @rule(who=st.sampled_from(PEOPLE))
        def reconnect(self, who):
            """A fresh snapshot (what a reconnecting client gets) shows the model."""
            viewer = wire.Viewer.for_participant(self.actor(who))
            snapshot, seq = wire.snapshot_for(self.meeting.pk, viewer)
            assert seq == Meeting.objects.get(pk=self.meeting.pk).last_seq
            assert {i["id"] for i in snapshot["ideas"]} == set(self.ideas)
            for i in snapshot["ideas"]:
                assert i["votes"] == sum(1 for _, idea in self.votes if idea == i["id"])
            assert snapshot["meeting"]["phase"] == self.phase
            assert snapshot["meeting"]["state"] == ("ended" if self.ended else "live")

        @precondition(lambda self: self.last_ok)
        @rule(data=st.data())
        def duplicate(self, data):
            """An accepted command sent again with its ref (a retry after a lost ack): the
            same answer, nothing written."""
            who = data.draw(st.sampled_from(sorted(self.last_ok)))
            service, kwargs, ref, first = self.last_ok[who]
            ideas, votes = Idea.objects.count(), Vote.objects.count()
            seq = Meeting.objects.get(pk=self.meeting.pk).last_seq
            again = service(actor=self.actor(who), ref=ref, **kwargs)
            assert (again.seq, again.result) == (first.seq, first.result)
            assert (Idea.objects.count(), Vote.objects.count()) == (ideas, votes)
            assert Meeting.objects.get(pk=self.meeting.pk).last_seq == seq

        # Late in a run, or every run would end early and explore nothing after.
        @precondition(lambda self: self.steps >= 20)
        @rule()
        def end(self):
            outcome = self.call("fac", services.meeting_end)
            assert (outcome is not None) == (not self.ended)
            self.ended = True

        @invariant()
        def database_equals_model(self):
            if not hasattr(self, "meeting"):
                return
            db_ideas = dict(
                Idea.objects.filter(meeting=self.meeting).values_list("id", "author_id")
            )
            assert db_ideas == {i: self.p[w].pk for i, w in self.ideas.items()}
            names = {p.pk: w for w, p in self.p.items()}
            db_votes = {
                (names[pid], idea)
                for pid, idea in Vote.objects.filter(idea__meeting=self.meeting).values_list(
                    "participant_id", "idea_id"
                )
            }
            assert db_votes == self.votes
            m = Meeting.objects.get(pk=self.meeting.pk)
            assert m.phase == self.phase
            assert (m.state == "ended") == self.ended
            assert self.accepted_after_end == 0

        @invariant()
        def vote_budget_holds(self):
            if not hasattr(self, "meeting"):
                return
            for who in ("a", "b"):
                assert sum(1 for w, _ in self.votes if w == who) <= self.meeting.vote_budget

    run_state_machine_as_test(
        MeetingModel,
        settings=settings(
            max_examples=40,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


def test_the_services_behave_as_the_meeting_model(meeting_factory, member_factory):
    """0 failures over the CI budget of examples (40 runs of up to 50 steps)."""
    run_machine(meeting_factory, member_factory)
