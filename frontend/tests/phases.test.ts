import { describe, expect, it } from "vitest";
import { can } from "../src/phases";
import type { Phase } from "../src/types";
import { meeting } from "./fixtures";

const STEPS: Phase[] = ["lobby", "present", "clarify", "ask", "ideas", "vote", "plan", "takeaways"];
const hotSeat = (phase: Phase) => meeting({ format: "hot-seat", phase, phases: STEPS });

describe("phases: what the board offers", () => {
  it("offers only questions in clarify, only ideas in ideas, and the ask edit in ask", () => {
    expect(can(hotSeat("clarify"), "question")).toBe(true);
    expect(can(hotSeat("clarify"), "idea")).toBe(false);
    expect(can(hotSeat("ideas"), "idea")).toBe(true);
    expect(can(hotSeat("ideas"), "question")).toBe(false);
    expect(can(hotSeat("ask"), "challengeEdit")).toBe(true);
    expect(can(hotSeat("ask"), "agenda")).toBe(false);
    expect(can(hotSeat("plan"), "action")).toBe(true);
    expect(can(hotSeat("takeaways"), "takeaway")).toBe(true);
    expect(can(hotSeat("present"), "idea")).toBe(false);
  });

  it("opens the agenda before the start and in the lobby, and nothing once ended", () => {
    expect(can(meeting({ state: "scheduled", phase: "lobby" }), "agenda")).toBe(true);
    expect(can(meeting({ state: "scheduled", phase: "lobby" }), "challengeEdit")).toBe(true);
    expect(can(meeting({ state: "scheduled", phase: "lobby" }), "idea")).toBe(false);
    expect(can(hotSeat("lobby"), "agenda")).toBe(true);
    expect(can(meeting({ state: "ended", phase: "ideas" }), "idea")).toBe(false);
    expect(can(meeting({ state: "ended", phase: "ideas" }), "agenda")).toBe(false);
  });
});
