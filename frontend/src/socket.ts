/* The one WebSocket of the board: connect, reconnect with jittered exponential backoff,
 * resume after the last applied seq, and an outgoing queue keyed by `ref`.
 *
 * Every command gets a ref and stays in the queue (persisted in sessionStorage) until the
 * server acks or rejects it. After each (re)connect, once `welcome` has arrived, every
 * pending command is sent again: the server answers a ref it already applied with the
 * original ack, so a post typed offline, or sent just before the connection dropped, is
 * applied exactly once. Components never touch this module directly: they call the
 * `send` of the board context. */
import { computed, signal } from "@preact/signals";
import type { Ack, ClientFrame, Command, CommandBody, ErrorFrame, ServerFrame } from "./types";

export type Status = "connecting" | "live" | "reconnecting" | "offline" | "closed";

/** What the page URL says about our access when the socket keeps being refused. */
export type Access = "ok" | "no_access" | "logged_out";

export interface Pending {
  ref: string;
  frame: Command;
  /** Connection number it was last sent on (0: not yet). Not persisted. */
  sentOn: number;
  /** Not before this time (ms), after a rate_limited answer. */
  notBefore: number;
}

export interface Backoff {
  baseMs: number;
  capMs: number;
}

export interface SocketOptions {
  /** Absolute ws(s):// URL of the meeting's socket, without the `after` parameter. */
  url: string;
  /** The seq to resume after, read at each connect (the store's applied seq). */
  getAfter: () => number;
  onFrame: (frame: ServerFrame) => void;
  /** Key of the persisted queue (one per meeting). */
  storageKey: string;
  storage?: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null;
  WebSocketImpl?: typeof WebSocket;
  random?: () => number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  backoff?: Partial<Backoff>;
  /** After this many failed attempts in a row, the status says offline (retries go on). */
  offlineAfter?: number;
  /** Client-side pacing below the server's rate limit: tokens per second and burst. */
  ratePerSecond?: number;
  burst?: number;
  /** Asks the page URL whether we still have access (see `pageAccess`). A refused
   * handshake reaches the browser as a plain 1006, like a network failure: this tells
   * the two apart. */
  checkAccess?: () => Promise<Access>;
  /** Failed attempts in a row (none reaching `welcome`) before each access check. */
  checkAccessAfter?: number;
}

const TERMINAL = new Set(["removed", "logged_out", "forbidden", "meeting_deleted", "no_access"]);
/** Close codes the server uses for a refusal that retrying cannot fix. */
const TERMINAL_CODES = new Set([4401, 4403, 4404]);

type Answer = "redirect" | "denied" | "ok";

async function ask(url: string, fetchImpl: typeof fetch): Promise<Answer> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      credentials: "same-origin",
      redirect: "manual",
      headers: { Accept: "text/html" },
      cache: "no-store",
    });
  } catch {
    return "ok"; // unreachable: nothing against retrying
  }
  if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
    return "redirect";
  }
  if (response.status === 403 || response.status === 404) return "denied";
  return "ok";
}

/** Fetches the page (`url`, normally `location.href`) without following redirects: a
 * redirect means the session is gone (the login page), 403/404 that the meeting is no
 * longer ours; anything else, a network failure included, says nothing against retrying.
 *
 * Room pages answer 404 to anonymous visitors too (they do not reveal that a room
 * exists), so on 403/404 `sessionProbe`, a page that needs a login and redirects when
 * the session is gone, tells "logged out" from "no longer a member". */
export async function pageAccess(
  url: string,
  fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  options: { sessionProbe?: string | null } = {},
): Promise<Access> {
  const page = await ask(url, fetchImpl);
  if (page === "redirect") return "logged_out";
  if (page === "ok") return "ok";
  if (options.sessionProbe && (await ask(options.sessionProbe, fetchImpl)) === "redirect") {
    return "logged_out";
  }
  return "no_access";
}

/** Delay before reconnect attempt `attempt` (0-based): exponential, capped, with jitter in
 * [half, full] of the exponential step so that a restarted server is not hit by every
 * client at the same instant. */
export function backoffDelay(attempt: number, random: () => number, b: Backoff): number {
  const step = Math.min(b.capMs, b.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + random() * (step / 2));
}

let counter = 0;
/** A ref unique per command: random per page load plus a counter. */
export function makeRef(random: () => number = Math.random): string {
  counter += 1;
  const r = Math.floor(random() * 36 ** 8)
    .toString(36)
    .padStart(8, "0");
  return `c${r}.${Date.now().toString(36)}.${counter}`;
}

export class CommandError extends Error {
  constructor(
    public readonly code: ErrorFrame["code"],
    message: string,
    public readonly field: string | null,
  ) {
    super(message);
  }
}

interface Waiter {
  resolve: (ack: Ack) => void;
  reject: (error: CommandError) => void;
}

export function createSocket(options: SocketOptions) {
  const WS = options.WebSocketImpl ?? WebSocket;
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => Date.now());
  const setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer =
    options.clearTimer ?? ((h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>));
  const backoff: Backoff = { baseMs: 500, capMs: 15000, ...options.backoff };
  const offlineAfter = options.offlineAfter ?? 6;
  const rate = options.ratePerSecond ?? 8;
  const burst = options.burst ?? 10;
  const checkAfter = Math.max(1, options.checkAccessAfter ?? 3);
  const storage =
    options.storage === undefined
      ? typeof sessionStorage === "undefined"
        ? null
        : sessionStorage
      : options.storage;

  const status = signal<Status>("connecting");
  const queue = signal<Pending[]>(load());
  const queued = computed(() => queue.value.length);
  /** Why the server closed for good (`closing.reason`), when it did. */
  const closedReason = signal<string | null>(null);
  /** Errors that answer no pending command of ours (or that we could not show). */
  const lastError = signal<ErrorFrame | null>(null);

  let ws: WebSocket | null = null;
  let connection = 0;
  let welcomed = false;
  let fresh = false; // the next connect asks for a snapshot, not the events after a seq
  let attempt = 0;
  /** Attempts in a row that closed before `welcome`. */
  let failures = 0;
  let checking = false;
  let reconnectTimer: unknown = null;
  let pumpTimer: unknown = null;
  let stopped = false;
  let tokens = burst;
  let tokensAt = now();
  const waiters = new Map<string, Waiter>();

  function load(): Pending[] {
    try {
      const raw = storage?.getItem(options.storageKey);
      if (!raw) return [];
      const frames = JSON.parse(raw) as Command[];
      return frames.map((frame) => ({ ref: frame.ref, frame, sentOn: 0, notBefore: 0 }));
    } catch {
      return [];
    }
  }

  function save(list: Pending[]) {
    try {
      if (list.length === 0) storage?.removeItem(options.storageKey);
      else storage?.setItem(options.storageKey, JSON.stringify(list.map((p) => p.frame)));
    } catch {
      // Storage full or disabled: the queue still lives in memory for this page.
    }
  }

  function setQueue(list: Pending[]) {
    queue.value = list;
    save(list);
  }

  function url(): string {
    // After a role change the state held was rendered for the old role: start afresh.
    const after = fresh ? 0 : options.getAfter();
    fresh = false;
    if (after <= 0) return options.url;
    return options.url + (options.url.includes("?") ? "&" : "?") + "after=" + after;
  }

  function connect() {
    if (stopped) return;
    reconnectTimer = null;
    connection += 1;
    const mine = connection;
    welcomed = false;
    let socket: WebSocket;
    try {
      socket = new WS(url());
    } catch {
      failures += 1;
      afterFailure();
      return;
    }
    ws = socket;
    socket.onmessage = (message: MessageEvent) => {
      if (mine !== connection) return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(message.data)) as ServerFrame;
      } catch {
        return;
      }
      receive(frame);
    };
    socket.onclose = (event: CloseEvent) => {
      if (mine !== connection) return;
      const reached = welcomed;
      ws = null;
      welcomed = false;
      if (stopped) return;
      if (closedReason.value !== null || TERMINAL_CODES.has(event.code)) {
        closedReason.value ??= "forbidden";
        status.value = "closed";
        return;
      }
      failures = reached ? 0 : failures + 1;
      afterFailure();
    };
    socket.onerror = () => {
      // A close event always follows; reconnecting is decided there.
    };
  }

  /** Every `checkAfter` refused attempts in a row, ask the page before retrying again. */
  function afterFailure() {
    const check = options.checkAccess;
    if (!check || failures === 0 || failures % checkAfter !== 0) {
      scheduleReconnect();
      return;
    }
    status.value = attempt >= offlineAfter ? "offline" : "reconnecting";
    checking = true;
    const mine = connection;
    void check()
      .catch((): Access => "ok")
      .then((access) => {
        checking = false;
        // Stopped, or a new connection was opened meanwhile (browser back online).
        if (stopped || mine !== connection || ws !== null) return;
        if (access !== "ok") {
          closedReason.value = access;
          status.value = "closed";
          return;
        }
        scheduleReconnect();
      });
  }

  function scheduleReconnect() {
    if (stopped || reconnectTimer !== null) return;
    status.value = attempt >= offlineAfter ? "offline" : "reconnecting";
    const delay = backoffDelay(attempt, random, backoff);
    attempt += 1;
    reconnectTimer = setTimer(connect, delay);
  }

  function receive(frame: ServerFrame) {
    switch (frame.type) {
      case "welcome":
        welcomed = true;
        attempt = 0;
        failures = 0;
        status.value = "live";
        options.onFrame(frame);
        // Everything still pending goes again on this connection, in order.
        setQueue(queue.value.map((p) => ({ ...p, sentOn: 0 })));
        pump();
        return;
      case "ack":
        settle(frame.ref, (w) => w.resolve(frame));
        options.onFrame(frame);
        return;
      case "error":
        onError(frame);
        options.onFrame(frame);
        return;
      case "closing": {
        // The server says it is closing: act on it now rather than wait for the close
        // itself (which a stuck proxy may hold back).
        const terminal = TERMINAL.has(frame.reason);
        if (terminal) closedReason.value = frame.reason;
        if (frame.reason === "role_changed") fresh = true;
        options.onFrame(frame);
        dropConnection();
        if (terminal) status.value = "closed";
        else scheduleReconnect();
        return;
      }
      default:
        options.onFrame(frame);
    }
  }

  /** Forget the current socket (its events no longer count) and close it. */
  function dropConnection() {
    const old = ws;
    ws = null;
    welcomed = false;
    connection += 1;
    try {
      old?.close(1000);
    } catch {
      // Already closing.
    }
  }

  function settle(ref: string, how: (w: Waiter) => void) {
    if (queue.value.some((p) => p.ref === ref)) setQueue(queue.value.filter((p) => p.ref !== ref));
    const waiter = waiters.get(ref);
    if (waiter) {
      waiters.delete(ref);
      how(waiter);
    }
  }

  function onError(frame: ErrorFrame) {
    const ref = frame.ref;
    const pending = ref ? queue.value.find((p) => p.ref === ref) : undefined;
    if (pending && frame.code === "rate_limited") {
      // Not dropped: sent again a little later on this connection.
      const wait = 1000 + Math.round(random() * 1000);
      setQueue(
        queue.value.map((p) => (p.ref === ref ? { ...p, sentOn: 0, notBefore: now() + wait } : p)),
      );
      schedulePump(wait);
      return;
    }
    if (ref && (pending || waiters.has(ref))) {
      const hadWaiter = waiters.has(ref);
      settle(ref, (w) => w.reject(new CommandError(frame.code, frame.message, frame.field)));
      if (hadWaiter) return;
    }
    lastError.value = frame;
  }

  function takeToken(): boolean {
    const t = now();
    tokens = Math.min(burst, tokens + ((t - tokensAt) / 1000) * rate);
    tokensAt = t;
    if (tokens >= 1) {
      tokens -= 1;
      return true;
    }
    return false;
  }

  function schedulePump(ms: number) {
    if (pumpTimer !== null) return;
    pumpTimer = setTimer(
      () => {
        pumpTimer = null;
        pump();
      },
      Math.max(0, ms),
    );
  }

  /** Sends what is pending and not yet sent on this connection, paced by the token bucket. */
  function pump() {
    if (!ws || !welcomed || ws.readyState !== 1) return;
    const t = now();
    let sent = false;
    const list = queue.value.slice();
    let waitFor = Infinity;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      if (p.sentOn === connection) continue;
      if (p.notBefore > t) {
        waitFor = Math.min(waitFor, p.notBefore - t);
        continue;
      }
      if (!takeToken()) {
        waitFor = Math.min(waitFor, 1000 / rate);
        break;
      }
      ws.send(JSON.stringify(p.frame));
      list[i] = { ...p, sentOn: connection };
      sent = true;
    }
    if (sent) queue.value = list;
    if (waitFor !== Infinity) schedulePump(waitFor);
  }

  /** Queues a command and sends it when connected; resolves with its ack. */
  function send(body: CommandBody): Promise<Ack> {
    const ref = makeRef(random);
    const frame = { ...body, ref } as Command;
    setQueue([...queue.value, { ref, frame, sentOn: 0, notBefore: 0 }]);
    const promise = new Promise<Ack>((resolve, reject) => waiters.set(ref, { resolve, reject }));
    pump();
    return promise;
  }

  /** Sends a connection-level frame (sync, hello) now, if connected; never queued. */
  function sendNow(frame: ClientFrame) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
  }

  /** Try now instead of waiting for the backoff (the user asked to). */
  function retryNow() {
    if (stopped || ws || checking || status.value === "closed") return;
    if (reconnectTimer !== null) clearTimer(reconnectTimer);
    reconnectTimer = null;
    connect();
  }

  /** Drop the current connection, which may be silently dead (the network changed, the
   * laptop slept), and open a new one now; it resumes after the applied seq, so this
   * costs the missed events only. */
  function reconnectNow() {
    if (stopped || status.value === "closed") return;
    if (reconnectTimer !== null) clearTimer(reconnectTimer);
    reconnectTimer = null;
    if (ws) dropConnection();
    if (status.value === "live") status.value = "reconnecting";
    connect();
  }

  function start() {
    stopped = false;
    connect();
  }

  function stop() {
    stopped = true;
    if (reconnectTimer !== null) clearTimer(reconnectTimer);
    if (pumpTimer !== null) clearTimer(pumpTimer);
    reconnectTimer = pumpTimer = null;
    ws?.close(1000);
    ws = null;
  }

  return {
    status,
    queue,
    queued,
    closedReason,
    lastError,
    start,
    stop,
    send,
    sendNow,
    retryNow,
    reconnectNow,
    /** Drops a pending command (the user cancelled it). */
    cancel(ref: string) {
      settle(ref, (w) => w.reject(new CommandError("invalid", "cancelled", null)));
    },
  };
}

export type BoardSocket = ReturnType<typeof createSocket>;

export interface BrowserSignals {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** Reconnects when the browser says the connection may be stale: on `online` after an
 * `offline`, and when the page becomes visible after more than `hiddenMs` hidden (a
 * background tab or a sleeping phone often keeps a dead socket that looks open). A
 * shorter absence only retries a connection that is already down. Returns a cleanup. */
export function watchBrowser(
  socket: Pick<BoardSocket, "retryNow" | "reconnectNow">,
  win: BrowserSignals,
  doc: BrowserSignals & { visibilityState: string },
  options: { now?: () => number; hiddenMs?: number } = {},
): () => void {
  const now = options.now ?? (() => Date.now());
  const hiddenMs = options.hiddenMs ?? 30_000;
  let wentOffline = false;
  let hiddenAt: number | null = doc.visibilityState === "hidden" ? now() : null;
  const onOffline = () => {
    wentOffline = true;
  };
  const onOnline = () => {
    if (wentOffline) socket.reconnectNow();
    else socket.retryNow();
    wentOffline = false;
  };
  const onVisibility = () => {
    if (doc.visibilityState === "hidden") {
      hiddenAt = now();
      return;
    }
    if (doc.visibilityState !== "visible") return;
    const away = hiddenAt === null ? 0 : now() - hiddenAt;
    hiddenAt = null;
    if (away > hiddenMs) socket.reconnectNow();
    else socket.retryNow();
  };
  win.addEventListener("offline", onOffline);
  win.addEventListener("online", onOnline);
  doc.addEventListener("visibilitychange", onVisibility);
  return () => {
    win.removeEventListener("offline", onOffline);
    win.removeEventListener("online", onOnline);
    doc.removeEventListener("visibilitychange", onVisibility);
  };
}
