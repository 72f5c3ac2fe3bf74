/* What participants may do in each phase, for the UI only (hiding a vote button outside
 * the vote phase). The server enforces the same table (rooms/phases.py PARTICIPANT_RULES)
 * and answers `wrong_phase` with a message; keep the two in step. Facilitator commands
 * (phases, timer, clusters, moderation) are not in this table: they work in every phase of
 * a live meeting. */
import type { MeetingWire } from "./types";

/** `agenda`: propose, edit and withdraw challenges; `challengeEdit`: edit only;
 * `editOwn`: edit and delete one's own ideas and questions. */
export type Can =
  | "idea"
  | "question"
  | "reply"
  | "react"
  | "vote"
  | "takeaway"
  | "action"
  | "agenda"
  | "challengeEdit"
  | "editOwn";

const RULES: Record<string, readonly Can[]> = {
  "open:lobby": ["agenda", "react"],
  "open:ideas": ["agenda", "idea", "question", "editOwn", "reply", "react"],
  "open:vote": ["vote", "react"],
  "open:wrapup": ["action", "takeaway", "react"],
  "hot-seat:lobby": ["agenda", "react"],
  "hot-seat:present": ["challengeEdit", "react"],
  "hot-seat:clarify": ["question", "editOwn", "reply", "react"],
  "hot-seat:ask": ["challengeEdit", "reply", "react"],
  "hot-seat:ideas": ["idea", "editOwn", "reply", "react"],
  "hot-seat:vote": ["vote", "react"],
  "hot-seat:plan": ["action", "reply", "react"],
  "hot-seat:takeaways": ["takeaway", "react"],
};

/** Before the meeting starts only the agenda is open (rooms/phases.py BEFORE_START). */
const BEFORE_START: readonly Can[] = ["agenda"];

export function can(meeting: MeetingWire | null | undefined, what: Can): boolean {
  if (!meeting) return false;
  if (what === "challengeEdit" && can(meeting, "agenda")) return true;
  if (meeting.state === "scheduled") return BEFORE_START.includes(what);
  if (meeting.state !== "live") return false;
  return (RULES[`${meeting.format}:${meeting.phase}`] ?? []).includes(what);
}
