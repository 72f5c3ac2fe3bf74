/* Entry point: mounts the board on <div id="board" data-meeting-id data-ws-path>, wires
 * the store to the socket, and keeps the socket going when the browser comes back. */
import { render } from "preact";
import "./board.css";
import { App } from "./components/App";
import { BoardContext, type Board } from "./context";
import { t } from "./i18n";
import { CommandError, createSocket, pageAccess, watchBrowser } from "./socket";
import { createStore } from "./store";
import type { IdeaWire } from "./types";
import { announcement, showToast } from "./ui";

function wsUrl(path: string): string {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}

/** Batches announcements: one idea is read out, a burst becomes "5 new ideas". */
function makeAnnouncer() {
  let buffer: string[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  let key = 0;
  return (text: string) => {
    buffer.push(text);
    if (timer) return;
    timer = setTimeout(() => {
      key += 1;
      const said = buffer.length === 1 ? buffer[0]! : t("newIdeas", { count: buffer.length });
      announcement.value = { key, text: said };
      buffer = [];
      timer = null;
    }, 600);
  };
}

export function mount(el: HTMLElement) {
  const meetingId = el.dataset.meetingId ?? "";
  const path = el.dataset.wsPath ?? `/ws/meetings/${meetingId}/`;
  const announce = makeAnnouncer();

  const store = createStore({
    onIdeaPosted(idea: IdeaWire) {
      const text = idea.text.length > 140 ? idea.text.slice(0, 140) + "…" : idea.text;
      announce(
        idea.author
          ? t("newIdea", { author: idea.author.name, text })
          : t("newIdeaAnon", { text }),
      );
    },
  });
  const socket = createSocket({
    url: wsUrl(path),
    getAfter: () => store.seq.value,
    onFrame: store.handle,
    storageKey: `pause.board.queue.${meetingId}`,
    checkAccess: () => {
      const you = store.you.value;
      const guest = you ? you.role === "guest" : location.pathname.startsWith("/g/");
      // A guest has no session to lose: a refusal means the link or the seat is gone.
      const sessionProbe = guest ? null : (el.dataset.sessionProbe ?? "/profile/");
      return pageAccess(location.href, undefined, { sessionProbe });
    },
  });
  store.setRequestSync(() => socket.sendNow({ type: "sync" }));

  const board: Board = {
    store,
    socket,
    announce,
    send: (body) =>
      socket.send(body).catch((error: unknown) => {
        if (error instanceof CommandError) showToast(t("error", { message: error.message }));
        return null;
      }),
  };

  // Errors that answer nothing we are waiting for (e.g. a queued post refused after a reload).
  socket.lastError.subscribe((e) => {
    if (e) showToast(t("error", { message: e.message }));
  });

  watchBrowser(socket, window, document);

  el.textContent = "";
  render(
    <BoardContext.Provider value={board}>
      <App />
    </BoardContext.Provider>,
    el,
  );
  socket.start();
  return board;
}

const root = document.getElementById("board");
if (root) {
  const board = mount(root);
  // For debugging and browser tests (read-only use).
  (window as unknown as { pauseBoard?: Board }).pauseBoard = board;
}
