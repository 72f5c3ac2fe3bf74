/* What components receive: the store to read and `send` to issue commands. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { BoardSocket } from "./socket";
import type { BoardStore } from "./store";
import type { Ack, CommandBody } from "./types";

export interface Board {
  store: BoardStore;
  socket: Pick<BoardSocket, "status" | "queued" | "queue" | "closedReason" | "lastError" | "retryNow" | "cancel">;
  /** Queues a command (sent now or after reconnecting); resolves with its ack, or with
   * null when the server refused it (the refusal is shown to the user). */
  send: (body: CommandBody) => Promise<Ack | null>;
  /** Polite announcements for screen readers (new ideas). */
  announce: (text: string) => void;
}

export const BoardContext = createContext<Board | null>(null);

export function useBoard(): Board {
  const board = useContext(BoardContext);
  if (!board) throw new Error("useBoard() outside <BoardContext.Provider>");
  return board;
}
