/* Small builders of protocol frames for the tests (typed by the generated protocol). */
import type { EventFrame, IdeaWire, MeetingWire, Snapshot, Welcome } from "../src/types";

export function meeting(overrides: Partial<MeetingWire> = {}): MeetingWire {
  return {
    id: 1,
    room_id: 1,
    title: "Pause de mars",
    format: "open",
    state: "live",
    phase: "ideas",
    phases: ["lobby", "ideas", "vote", "wrapup"],
    active_challenge_id: 10,
    anonymity: "optional",
    vote_budget: 3,
    hide_until_reveal: false,
    locked: false,
    spotlight_idea_id: null,
    timer: { ends_at: null, remaining_ms: null },
    scheduled_at: "2026-03-01T18:00:00Z",
    started_at: "2026-03-01T18:00:00Z",
    ended_at: null,
    ...overrides,
  };
}

export function idea(id: number, overrides: Partial<IdeaWire> = {}): IdeaWire {
  return {
    id,
    challenge_id: 10,
    kind: "idea",
    text: `Idea ${id}`,
    author: { id: 2, name: "Bea" },
    anonymous: false,
    mine: false,
    hidden: false,
    removed: false,
    removed_reason: null,
    cluster_id: null,
    votes: 0,
    my_vote: false,
    reactions: {},
    my_reactions: [],
    replies: [],
    at: "2026-03-01T18:05:00Z",
    edited: false,
    ...overrides,
  };
}

export function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  return {
    meeting: meeting(),
    participants: [{ id: 1, name: "Ada", role: "facilitator", muted: false, removed: false }],
    challenges: [
      {
        id: 10,
        title: "Find my first customers",
        context: "",
        ask: "Where to start?",
        owner: { id: 1, name: "Ada" },
        position: 0,
        status: "active",
      },
    ],
    ideas: [],
    clusters: [],
    actions: [],
    followups: [],
    takeaways: [],
    ...overrides,
  };
}

export function welcome(seq: number, state: Snapshot | null = snapshot(), resumed = false): Welcome {
  return {
    type: "welcome",
    protocol: 1,
    you: { participant_id: 1, name: "Ada", role: "facilitator", facilitator: true, muted: false },
    seq,
    server_time: "2026-03-01T18:00:00Z",
    resumed,
    snapshot: state,
  } as Welcome;
}

export function ev<N extends EventFrame["name"]>(
  seq: number,
  name: N,
  data: Extract<EventFrame, { name: N }>["data"],
): EventFrame {
  return { type: "event", seq, name, at: "2026-03-01T18:05:00Z", actor: 2, data } as EventFrame;
}
