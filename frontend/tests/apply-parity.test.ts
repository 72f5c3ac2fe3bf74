/* The same cases as the server's own "apply" (rooms/state.py): frames a real meeting sent
 * to six viewers (owner, facilitator, challenge owner, author, member, guest), recorded by
 * tests/unit/test_wire.py with PAUSE_WRITE_APPLY_CASES=1. Replaying them from each viewer's
 * first snapshot must give that viewer's final snapshot, here as in Python. */
import { describe, expect, it } from "vitest";
import { applyEvent } from "../src/apply";
import type { EventFrame, Snapshot } from "../src/types";
import recorded from "./apply-cases.json?raw";

type Case = { before: Snapshot; frames: EventFrame[]; after: Snapshot };
const cases = JSON.parse(recorded) as Record<string, Case>;

describe("applyEvent replays the server's recorded frames like rooms/state.py", () => {
  for (const [viewer, c] of Object.entries(cases)) {
    it(`gives the ${viewer}'s final snapshot`, () => {
      const state = c.frames.reduce((s, frame) => applyEvent(s, frame), c.before);
      expect(state).toEqual(c.after);
    });
  }

  it("covers every event name", () => {
    const names = new Set(Object.values(cases).flatMap((c) => c.frames.map((f) => f.name)));
    expect(names.size).toBeGreaterThanOrEqual(29);
  });
});
