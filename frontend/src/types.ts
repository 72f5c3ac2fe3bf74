/* Names the client uses for the generated protocol types (src/protocol.gen.ts). */
import type {
  Ack,
  ClientFrame,
  Closing,
  Error as ErrorFrame,
  Presence,
  Resync,
  ServerFrame,
  Welcome,
} from "./protocol.gen";

export type * from "./protocol.gen";
export type { ErrorFrame };

/** Every `event` frame (the union of the generated Event_* interfaces). */
export type EventFrame = Exclude<ServerFrame, Welcome | Resync | Ack | ErrorFrame | Presence | Closing>;
export type EventName = EventFrame["name"];

/** A command the user sends: any client frame but the connection-level ones. */
export type Command = Exclude<ClientFrame, { type: "hello" } | { type: "sync" }>;
export type CommandType = Command["type"];
/** A command without its ref: the socket adds it. */
export type CommandBody = Command extends infer C ? (C extends { ref: string } ? Omit<C, "ref"> : never) : never;

export type Phase = import("./protocol.gen").MeetingWire["phase"];
export type Role = import("./protocol.gen").You["role"];

export const EMOJIS = ["👍", "❤️", "💡", "😂", "🎉", "🤔"] as const;
export type Emoji = (typeof EMOJIS)[number];
