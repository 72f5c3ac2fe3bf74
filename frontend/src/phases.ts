/* What participants may do in each phase, for the UI only (hiding a vote button outside
 * the vote phase). The server enforces the same table (rooms/phases.py PARTICIPANT_RULES)
 * and answers `wrong_phase` with a message; keep the two in step. */
import type { MeetingWire } from "./types";

type Can = "idea" | "question" | "reply" | "react" | "vote" | "takeaway" | "action";

const RULES: Record<string, readonly Can[]> = {
  "open:lobby": ["react"],
  "open:ideas": ["idea", "question", "reply", "react"],
  "open:vote": ["vote", "react"],
  "open:wrapup": ["action", "takeaway", "react"],
  "hot-seat:lobby": ["react"],
  "hot-seat:present": ["react"],
  "hot-seat:clarify": ["question", "reply", "react"],
  "hot-seat:ask": ["reply", "react"],
  "hot-seat:ideas": ["idea", "reply", "react"],
  "hot-seat:vote": ["vote", "react"],
  "hot-seat:plan": ["action", "reply", "react"],
  "hot-seat:takeaways": ["takeaway", "react"],
};

export function can(meeting: MeetingWire | null | undefined, what: Can): boolean {
  if (!meeting || meeting.state !== "live") return false;
  return (RULES[`${meeting.format}:${meeting.phase}`] ?? []).includes(what);
}
