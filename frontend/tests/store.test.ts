import { describe, expect, it, vi } from "vitest";
import { applyEvent } from "../src/apply";
import { createStore, timerRemaining } from "../src/store";
import type { Resync } from "../src/types";
import { ev, idea, meeting, snapshot, welcome } from "./fixtures";

function setup() {
  const requestSync = vi.fn();
  const store = createStore({ requestSync });
  store.handle(welcome(5));
  return { store, requestSync };
}

describe("store: applying events by seq", () => {
  it("applies the next event and advances seq", () => {
    const { store } = setup();
    store.handle(ev(6, "idea.posted", idea(100)));
    expect(store.seq.value).toBe(6);
    expect(store.snapshot.value!.ideas.map((i) => i.id)).toEqual([100]);
  });

  it("drops an event it already applied (duplicate)", () => {
    const { store, requestSync } = setup();
    store.handle(ev(6, "idea.posted", idea(100)));
    const before = store.snapshot.value;
    store.handle(ev(6, "idea.posted", idea(100, { text: "twice" })));
    store.handle(ev(4, "idea.posted", idea(99)));
    expect(store.snapshot.value).toBe(before);
    expect(store.seq.value).toBe(6);
    expect(requestSync).not.toHaveBeenCalled();
  });

  it("holds an event past a gap, asks for a sync once, and applies in order when the gap fills", () => {
    const { store, requestSync } = setup();
    store.handle(ev(8, "idea.posted", idea(102)));
    store.handle(ev(7, "idea.posted", idea(101)));
    expect(requestSync).toHaveBeenCalledTimes(1);
    expect(store.seq.value).toBe(5);
    store.handle(ev(6, "idea.posted", idea(100)));
    expect(store.seq.value).toBe(8);
    expect(store.snapshot.value!.ideas.map((i) => i.id)).toEqual([100, 101, 102]);
    expect(store.syncing.value).toBe(false);
  });

  it("replaces the state on resync and drops held events the resync already covers", () => {
    const { store, requestSync } = setup();
    store.handle(ev(7, "idea.posted", idea(101)));
    store.handle(ev(9, "vote.cast", { idea_id: 101, votes: 4, mine: null }));
    expect(requestSync).toHaveBeenCalledTimes(1);
    const resync: Resync = {
      type: "resync",
      reason: "requested",
      seq: 8,
      server_time: "2026-03-01T18:10:00Z",
      snapshot: snapshot({ ideas: [idea(100), idea(101)] }),
    };
    store.handle(resync);
    // 9 follows 8: applied right after the snapshot.
    expect(store.seq.value).toBe(9);
    expect(store.snapshot.value!.ideas.find((i) => i.id === 101)!.votes).toBe(4);
    expect(store.heldCount()).toBe(0);
    expect(store.syncing.value).toBe(false);
  });

  it("keeps its state when the server resumes (welcome without snapshot), then applies the missed events", () => {
    const { store } = setup();
    store.handle(ev(6, "idea.posted", idea(100)));
    store.handle(welcome(6, null, true));
    expect(store.snapshot.value!.ideas).toHaveLength(1);
    store.handle(ev(6, "idea.posted", idea(100)));
    store.handle(ev(7, "idea.posted", idea(101)));
    expect(store.snapshot.value!.ideas.map((i) => i.id)).toEqual([100, 101]);
  });

  it("waits for the resync when welcome says the cursor is unknown, holding events meanwhile", () => {
    const requestSync = vi.fn();
    const store = createStore({ requestSync });
    store.handle(welcome(5));
    store.handle(welcome(0, null, false));
    expect(store.syncing.value).toBe(true);
    store.handle(ev(12, "idea.posted", idea(200)));
    store.handle({
      type: "resync",
      reason: "cursor_too_old",
      seq: 11,
      server_time: "2026-03-01T18:10:00Z",
      snapshot: snapshot(),
    });
    expect(store.seq.value).toBe(12);
    expect(store.snapshot.value!.ideas.map((i) => i.id)).toEqual([200]);
  });

  it("counts the viewer's votes left in the challenge on screen", () => {
    const store = createStore();
    store.handle(
      welcome(1, snapshot({ ideas: [idea(1, { my_vote: true }), idea(2), idea(3, { challenge_id: 11, my_vote: true })] })),
    );
    expect(store.votesLeft.value).toBe(2);
    store.handle(ev(2, "vote.cast", { idea_id: 2, votes: 1, mine: true }));
    expect(store.votesLeft.value).toBe(1);
  });

  it("announces ideas posted by others, not the viewer's own", () => {
    const onIdeaPosted = vi.fn();
    const store = createStore({ onIdeaPosted });
    store.handle(welcome(1));
    store.handle(ev(2, "idea.posted", idea(1, { mine: true })));
    store.handle(ev(3, "idea.posted", idea(2)));
    expect(onIdeaPosted).toHaveBeenCalledTimes(1);
    expect(onIdeaPosted.mock.calls[0]![0].id).toBe(2);
  });
});

describe("applyEvent: each event's change", () => {
  const base = snapshot({ ideas: [idea(1), idea(2, { cluster_id: 5 })] });

  it("replaces the meeting on meeting-level events", () => {
    const m = meeting({ phase: "vote" });
    expect(applyEvent(base, ev(1, "phase.changed", m)).meeting).toBe(m);
  });

  it("sets votes and the viewer's vote only when `mine` is given", () => {
    let s = applyEvent(base, ev(1, "vote.cast", { idea_id: 1, votes: 2, mine: true }));
    expect(s.ideas[0]).toMatchObject({ votes: 2, my_vote: true });
    s = applyEvent(s, ev(2, "vote.cast", { idea_id: 1, votes: 3, mine: null }));
    expect(s.ideas[0]).toMatchObject({ votes: 3, my_vote: true });
    s = applyEvent(s, ev(3, "vote.retracted", { idea_id: 1, votes: 2, mine: false }));
    expect(s.ideas[0]).toMatchObject({ votes: 2, my_vote: false });
  });

  it("counts reactions, deletes a zero count, toggles the viewer's own", () => {
    let s = applyEvent(base, ev(1, "reaction.toggled", { idea_id: 1, emoji: "💡", count: 1, mine: true }));
    expect(s.ideas[0]!.reactions).toEqual({ "💡": 1 });
    expect(s.ideas[0]!.my_reactions).toEqual(["💡"]);
    s = applyEvent(s, ev(2, "reaction.toggled", { idea_id: 1, emoji: "💡", count: 0, mine: false }));
    expect(s.ideas[0]!.reactions).toEqual({});
    expect(s.ideas[0]!.my_reactions).toEqual([]);
  });

  it("appends replies under their idea, once", () => {
    const reply = { id: 7, idea_id: 2, text: "Yes, and…", author: null, mine: false, at: "2026-03-01T18:06:00Z" };
    let s = applyEvent(base, ev(1, "reply.posted", reply));
    s = applyEvent(s, ev(1, "reply.posted", reply));
    expect(s.ideas[1]!.replies).toEqual([reply]);
  });

  it("marks an idea removed with its reason, or drops it when there is no reason for this viewer", () => {
    let s = applyEvent(base, ev(1, "idea.removed", { idea_id: 1, reason: "off topic" }));
    expect(s.ideas[0]).toMatchObject({ removed: true, removed_reason: "off topic" });
    s = applyEvent(s, ev(2, "idea.removed", { idea_id: 2, reason: null }));
    expect(s.ideas.map((i) => i.id)).toEqual([1]);
  });

  it("reveals hidden ideas and clears a deleted cluster from its ideas", () => {
    const hidden = snapshot({ ideas: [idea(1, { hidden: true, text: "", author: null })] });
    const s = applyEvent(
      hidden,
      ev(1, "ideas.revealed", { challenge_id: 10, ideas: [{ id: 1, text: "Now seen", author: { id: 3, name: "Cy" } }] }),
    );
    expect(s.ideas[0]).toMatchObject({ hidden: false, text: "Now seen", author: { name: "Cy" } });
    const c = applyEvent(base, ev(2, "cluster.deleted", { cluster_id: 5 }));
    expect(c.ideas[1]!.cluster_id).toBeNull();
  });

  it("reorders challenges from the listed ids", () => {
    const two = snapshot({
      challenges: [
        { ...snapshot().challenges[0]!, id: 10, position: 0 },
        { ...snapshot().challenges[0]!, id: 11, position: 1 },
      ],
    });
    const s = applyEvent(two, ev(1, "challenge.reordered", { challenge_ids: [11, 10] }));
    expect(s.challenges.map((c) => [c.id, c.position])).toEqual([
      [11, 0],
      [10, 1],
    ]);
  });

  it("keeps untouched ideas as the same objects (cards re-render only when theirs changed)", () => {
    const s = applyEvent(base, ev(1, "vote.cast", { idea_id: 2, votes: 1, mine: null }));
    expect(s.ideas[0]).toBe(base.ideas[0]);
    expect(s.ideas[1]).not.toBe(base.ideas[1]);
  });
});

describe("timer", () => {
  it("counts down against the server clock when running and shows the frozen rest when paused", () => {
    const end = Date.parse("2026-03-01T18:10:00Z");
    expect(timerRemaining({ ends_at: "2026-03-01T18:10:00Z", remaining_ms: null }, end - 61_000)).toEqual({
      ms: 61_000,
      running: true,
    });
    expect(timerRemaining({ ends_at: null, remaining_ms: 30_000 }, end)).toEqual({ ms: 30_000, running: false });
    expect(timerRemaining({ ends_at: null, remaining_ms: null }, end)).toBeNull();
  });

  it("derives the clock offset from server_time", () => {
    const store = createStore({ now: () => Date.parse("2026-03-01T17:59:58Z") });
    store.handle(welcome(1));
    expect(store.clockOffset.value).toBe(2000);
  });
});

describe("store: the viewer's own state", () => {
  it("follows a facilitator muting and unmuting the viewer, not someone else", () => {
    const { store } = setup();
    expect(store.you.value!.muted).toBe(false);
    const me = { id: 1, name: "Ada", role: "facilitator" as const, muted: true, removed: false };
    store.handle(ev(6, "participant.updated", { ...me, id: 2, name: "Bea" }));
    expect(store.you.value!.muted).toBe(false);
    store.handle(ev(7, "participant.updated", me));
    expect(store.you.value!.muted).toBe(true);
    store.handle(ev(8, "participant.updated", { ...me, muted: false }));
    expect(store.you.value!.muted).toBe(false);
  });
});
