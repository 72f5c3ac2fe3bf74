import { beforeEach, describe, expect, it } from "vitest";
import { backoffDelay, createSocket, pageAccess, watchBrowser, type Access } from "../src/socket";
import type { ServerFrame } from "../src/types";
import { welcome } from "./fixtures";

/** A WebSocket stand-in the test drives by hand. */
class FakeWebSocket {
  static all: FakeWebSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string) {
    FakeWebSocket.all.push(this);
  }
  send(data: string) {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  // test helpers
  open() {
    this.readyState = 1;
  }
  receive(frame: ServerFrame | Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  static last(): FakeWebSocket {
    return FakeWebSocket.all[FakeWebSocket.all.length - 1]!;
  }
}

/** Manual clock and timers. */
function clock() {
  let now = 0;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let ids = 0;
  return {
    now: () => now,
    setTimer: (fn: () => void, ms: number) => {
      ids += 1;
      timers.push({ at: now + ms, fn, id: ids });
      return ids;
    },
    clearTimer: (id: unknown) => {
      timers = timers.filter((t) => t.id !== id);
    },
    delays: () => timers.map((t) => t.at - now),
    advance(ms: number) {
      const until = now + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > until) break;
        timers.shift();
        now = next.at;
        next.fn();
      }
      now = until;
    },
  };
}

class MemoryStorage {
  data = new Map<string, string>();
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, v);
  }
  removeItem(k: string) {
    this.data.delete(k);
  }
}

function setup(
  opts: {
    storage?: MemoryStorage;
    random?: () => number;
    after?: () => number;
    checkAccess?: () => Promise<Access>;
  } = {},
) {
  const c = clock();
  const frames: ServerFrame[] = [];
  const storage = opts.storage ?? new MemoryStorage();
  const socket = createSocket({
    url: "ws://test/ws/meetings/1/",
    getAfter: opts.after ?? (() => 0),
    onFrame: (f) => frames.push(f),
    storageKey: "q",
    storage,
    WebSocketImpl: FakeWebSocket as unknown as typeof WebSocket,
    random: opts.random ?? (() => 0.5),
    now: c.now,
    setTimer: c.setTimer,
    clearTimer: c.clearTimer,
    ...(opts.checkAccess ? { checkAccess: opts.checkAccess } : {}),
  });
  return { socket, clock: c, frames, storage };
}

function connectLive() {
  const ws = FakeWebSocket.last();
  ws.open();
  ws.receive(welcome(0));
  return ws;
}

beforeEach(() => {
  FakeWebSocket.all = [];
});

describe("backoff", () => {
  it("doubles from the base up to the cap, with jitter between half and the full step", () => {
    const b = { baseMs: 500, capMs: 15000 };
    for (let attempt = 0; attempt < 12; attempt++) {
      const step = Math.min(15000, 500 * 2 ** attempt);
      expect(backoffDelay(attempt, () => 0, b)).toBe(step / 2);
      expect(backoffDelay(attempt, () => 0.999999, b)).toBeLessThanOrEqual(step);
      expect(backoffDelay(attempt, () => 0.999999, b)).toBeGreaterThan(step * 0.99);
    }
    expect(backoffDelay(40, () => 1, b)).toBe(15000);
  });

  it("spreads reconnects: two random draws give two delays", () => {
    const b = { baseMs: 500, capMs: 15000 };
    expect(backoffDelay(3, () => 0.1, b)).not.toBe(backoffDelay(3, () => 0.9, b));
  });
});

describe("socket: status and reconnect", () => {
  it("goes connecting → live → reconnecting → live, and says offline after repeated failures", () => {
    const { socket, clock } = setup();
    socket.start();
    expect(socket.status.value).toBe("connecting");
    connectLive();
    expect(socket.status.value).toBe("live");

    FakeWebSocket.last().drop();
    expect(socket.status.value).toBe("reconnecting");
    // Each failed attempt waits longer (random fixed at 0.5: 3/4 of the step).
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      waits.push(clock.delays()[0]!);
      clock.advance(clock.delays()[0]!);
      FakeWebSocket.last().drop();
    }
    expect(waits).toEqual([375, 750, 1500, 3000, 6000, 11250, 11250]);
    expect(socket.status.value).toBe("offline");

    clock.advance(clock.delays()[0]!);
    connectLive();
    expect(socket.status.value).toBe("live");
    socket.stop();
  });

  it("resumes after the last applied seq", () => {
    let applied = 0;
    const { socket, clock } = setup({ after: () => applied });
    socket.start();
    expect(FakeWebSocket.last().url).toBe("ws://test/ws/meetings/1/");
    connectLive();
    applied = 42;
    FakeWebSocket.last().drop();
    clock.advance(10_000);
    expect(FakeWebSocket.last().url).toBe("ws://test/ws/meetings/1/?after=42");
    socket.stop();
  });

  it("stops on a terminal `closing` frame even if the server never closes the socket", () => {
    const { socket, clock } = setup();
    socket.start();
    const ws = connectLive();
    ws.receive({ type: "closing", reason: "removed" });
    expect(socket.status.value).toBe("closed");
    expect(ws.readyState).toBe(3); // closed from this side
    clock.advance(60_000);
    expect(FakeWebSocket.all).toHaveLength(1);
  });

  it("reconnects after a `slow_consumer` closing frame", () => {
    const { socket, clock } = setup();
    socket.start();
    const ws = connectLive();
    ws.receive({ type: "closing", reason: "slow_consumer" });
    expect(ws.readyState).toBe(3);
    expect(socket.status.value).toBe("reconnecting");
    clock.advance(clock.delays()[0]!);
    expect(FakeWebSocket.all).toHaveLength(2);
    connectLive();
    expect(socket.status.value).toBe("live");
    socket.stop();
  });

  it("after a `role_changed` closing frame, reconnects for a fresh snapshot, then resumes", () => {
    const { socket, clock } = setup({ after: () => 42 });
    socket.start();
    const ws = connectLive();
    expect(ws.url).toContain("after=42");
    ws.receive({ type: "closing", reason: "role_changed" });
    expect(socket.status.value).toBe("reconnecting");
    clock.advance(clock.delays()[0]!);
    const again = connectLive();
    expect(again.url).toBe("ws://test/ws/meetings/1/"); // no cursor: a welcome with a snapshot
    expect(socket.status.value).toBe("live");
    again.drop();
    clock.advance(clock.delays()[0]!);
    expect(FakeWebSocket.last().url).toContain("after=42"); // later drops resume as usual
    socket.stop();
  });

  it("does not reconnect after the server closes with `removed`", () => {
    const { socket, clock } = setup();
    socket.start();
    const ws = connectLive();
    ws.receive({ type: "closing", reason: "removed" });
    ws.drop(1000);
    clock.advance(60_000);
    expect(socket.status.value).toBe("closed");
    expect(socket.closedReason.value).toBe("removed");
    expect(FakeWebSocket.all).toHaveLength(1);
  });
});

describe("socket: the outgoing queue", () => {
  it("sends a command typed offline exactly once after reconnecting, and clears it on ack", async () => {
    const { socket, clock, storage } = setup();
    socket.start();
    connectLive();
    FakeWebSocket.last().drop();

    const acked = socket.send({ type: "idea.post", challenge_id: 10, kind: "idea", text: "Offline idea", anonymous: false });
    expect(socket.queued.value).toBe(1);
    expect(storage.getItem("q")).toContain("Offline idea");

    // Two failed attempts: nothing can be sent, nothing is lost.
    clock.advance(clock.delays()[0]!);
    FakeWebSocket.last().drop();
    clock.advance(clock.delays()[0]!);
    const ws = FakeWebSocket.last();
    ws.open();
    expect(ws.sent).toEqual([]); // not before welcome
    ws.receive(welcome(3, null, true));
    expect(ws.sent).toHaveLength(1);
    const frame = ws.sent[0]!;
    expect(frame).toMatchObject({ type: "idea.post", text: "Offline idea" });

    // More frames on the same connection do not resend it.
    ws.receive({ type: "presence", participants: [] });
    expect(ws.sent).toHaveLength(1);

    ws.receive({ type: "ack", ref: frame.ref as string, seq: 4, result: { id: 9 } });
    await expect(acked).resolves.toMatchObject({ seq: 4, result: { id: 9 } });
    expect(socket.queued.value).toBe(0);
    expect(storage.getItem("q")).toBeNull();
    socket.stop();
  });

  it("resends an unacked command with the same ref on the next connection", () => {
    const { socket, clock } = setup();
    socket.start();
    const first = connectLive();
    void socket.send({ type: "vote.cast", idea_id: 5 });
    expect(first.sent).toHaveLength(1);
    first.drop(); // lost before the ack
    clock.advance(clock.delays()[0]!);
    const second = connectLive();
    expect(second.sent).toHaveLength(1);
    expect(second.sent[0]!.ref).toBe(first.sent[0]!.ref);
    socket.stop();
  });

  it("restores the queue of a reloaded page from storage and sends it once", () => {
    const storage = new MemoryStorage();
    const a = setup({ storage });
    void a.socket.send({ type: "idea.post", challenge_id: 10, kind: "idea", text: "Before reload", anonymous: false });
    a.socket.stop();

    FakeWebSocket.all = [];
    const b = setup({ storage });
    expect(b.socket.queued.value).toBe(1);
    b.socket.start();
    const ws = connectLive();
    expect(ws.sent.map((f) => f.text)).toEqual(["Before reload"]);
    b.socket.stop();
  });

  it("keeps a rate-limited command and sends it again later", () => {
    const { socket, clock } = setup();
    socket.start();
    const ws = connectLive();
    void socket.send({ type: "vote.cast", idea_id: 5 });
    const ref = ws.sent[0]!.ref as string;
    ws.receive({ type: "error", ref, code: "rate_limited", message: "Slow down", field: null });
    expect(socket.queued.value).toBe(1);
    clock.advance(2100);
    expect(ws.sent).toHaveLength(2);
    expect(ws.sent[1]!.ref).toBe(ref);
    socket.stop();
  });

  it("rejects a refused command and drops it from the queue", async () => {
    const { socket } = setup();
    socket.start();
    const ws = connectLive();
    const result = socket.send({ type: "vote.cast", idea_id: 5 });
    const ref = ws.sent[0]!.ref as string;
    ws.receive({ type: "error", ref, code: "wrong_phase", message: "Votes open in the vote phase.", field: null });
    await expect(result).rejects.toMatchObject({ code: "wrong_phase" });
    expect(socket.queued.value).toBe(0);
    socket.stop();
  });

  it("paces a long queue under the server's rate limit", () => {
    const { socket, clock } = setup();
    socket.start();
    const ws = connectLive();
    for (let i = 0; i < 25; i++) void socket.send({ type: "vote.cast", idea_id: i + 1 });
    expect(ws.sent).toHaveLength(10); // the burst
    clock.advance(1000);
    expect(ws.sent.length).toBeGreaterThanOrEqual(17);
    expect(ws.sent.length).toBeLessThanOrEqual(19);
    clock.advance(2000);
    expect(ws.sent).toHaveLength(25);
    expect(new Set(ws.sent.map((f) => f.ref)).size).toBe(25);
    socket.stop();
  });
});

/** Lets pending promise callbacks run. */
async function flush() {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe("socket: refused handshakes", () => {
  it("asks the page after 3 refused attempts in a row and stops when access is gone", async () => {
    const checks: string[] = [];
    const { socket, clock } = setup({
      checkAccess: async () => {
        checks.push("check");
        return "no_access";
      },
    });
    socket.start();
    connectLive();
    FakeWebSocket.last().drop(); // a live connection that drops is not a refusal
    for (let i = 0; i < 2; i++) {
      clock.advance(clock.delays()[0]!);
      FakeWebSocket.last().drop(1006); // refused before accept: the browser sees 1006
    }
    expect(checks).toHaveLength(0);
    clock.advance(clock.delays()[0]!);
    FakeWebSocket.last().drop(1006);
    expect(checks).toHaveLength(1);
    await flush();
    expect(socket.status.value).toBe("closed");
    expect(socket.closedReason.value).toBe("no_access");
    const opened = FakeWebSocket.all.length;
    clock.advance(120_000);
    expect(FakeWebSocket.all).toHaveLength(opened);
    expect(clock.delays()).toEqual([]);
  });

  it("says logged out when the page redirects", async () => {
    const { socket, clock } = setup({ checkAccess: async () => "logged_out" });
    socket.start();
    FakeWebSocket.last().drop();
    for (let i = 0; i < 2; i++) {
      clock.advance(clock.delays()[0]!);
      FakeWebSocket.last().drop();
    }
    await flush();
    expect(socket.status.value).toBe("closed");
    expect(socket.closedReason.value).toBe("logged_out");
  });

  it("goes on with backoff when the page still answers, and checks again 3 failures later", async () => {
    let checks = 0;
    const { socket, clock } = setup({
      checkAccess: async () => {
        checks += 1;
        return "ok";
      },
    });
    socket.start();
    for (let i = 0; i < 3; i++) {
      if (i > 0) clock.advance(clock.delays()[0]!);
      FakeWebSocket.last().drop();
    }
    expect(checks).toBe(1);
    expect(clock.delays()).toEqual([]); // no retry before the answer
    await flush();
    expect(socket.status.value).toBe("reconnecting");
    expect(clock.delays()).toHaveLength(1);
    for (let i = 0; i < 3; i++) {
      clock.advance(clock.delays()[0]!);
      FakeWebSocket.last().drop();
      await flush();
    }
    expect(checks).toBe(2);
    // A welcome resets the count: three more refusals are needed for the next check.
    clock.advance(clock.delays()[0]!);
    connectLive();
    FakeWebSocket.last().drop();
    clock.advance(clock.delays()[0]!);
    FakeWebSocket.last().drop();
    await flush();
    expect(checks).toBe(2);
    socket.stop();
  });

  it("reads the page answer: redirect, 403/404, 200 and network failure", async () => {
    const answer = (init: Partial<Response>) => async () => init as Response;
    expect(await pageAccess("/m/1/", answer({ type: "opaqueredirect", status: 0 }))).toBe(
      "logged_out",
    );
    expect(await pageAccess("/m/1/", answer({ type: "basic", status: 404 }))).toBe("no_access");
    expect(await pageAccess("/m/1/", answer({ type: "basic", status: 403 }))).toBe("no_access");
    expect(await pageAccess("/m/1/", answer({ type: "basic", status: 200 }))).toBe("ok");
    expect(await pageAccess("/m/1/", answer({ type: "basic", status: 502 }))).toBe("ok");
    // Room pages answer 404 to anonymous visitors: the probe tells the two apart.
    const routes = (page: Partial<Response>, probe: Partial<Response>) =>
      (async (url: string) => (url === "/profile/" ? probe : page) as Response) as typeof fetch;
    expect(
      await pageAccess("/m/1/", routes({ status: 404 }, { type: "opaqueredirect", status: 0 }), {
        sessionProbe: "/profile/",
      }),
    ).toBe("logged_out");
    expect(
      await pageAccess("/m/1/", routes({ status: 404 }, { type: "basic", status: 200 }), {
        sessionProbe: "/profile/",
      }),
    ).toBe("no_access");
    const down = async () => {
      throw new TypeError("Failed to fetch");
    };
    expect(await pageAccess("/m/1/", down)).toBe("ok");
    let seen: RequestInit | undefined;
    await pageAccess("/m/1/", async (_url, init) => {
      seen = init;
      return { type: "basic", status: 200 } as Response;
    });
    expect(seen).toMatchObject({ credentials: "same-origin", redirect: "manual" });
  });
});

/** An event target with a settable visibility, for window and document. */
function target(visibility = "visible") {
  const listeners = new Map<string, Set<() => void>>();
  return {
    visibilityState: visibility,
    addEventListener(type: string, fn: () => void) {
      if (!listeners.has(type)) listeners.set(type, new Set());
      listeners.get(type)!.add(fn);
    },
    removeEventListener(type: string, fn: () => void) {
      listeners.get(type)?.delete(fn);
    },
    fire(type: string) {
      for (const fn of listeners.get(type) ?? []) fn();
    },
  };
}

describe("socket: browser signals", () => {
  it("closes and reopens the socket when the browser goes offline then online", () => {
    const { socket } = setup({ after: () => 7 });
    socket.start();
    const first = connectLive();
    const win = target();
    const doc = target();
    const stop = watchBrowser(socket, win, doc);
    win.fire("offline");
    win.fire("online");
    expect(first.readyState).toBe(3);
    expect(FakeWebSocket.all).toHaveLength(2);
    expect(FakeWebSocket.last().url).toBe("ws://test/ws/meetings/1/?after=7");
    // The old socket's close event does not start a third connection.
    expect(socket.status.value).toBe("reconnecting");
    connectLive();
    expect(socket.status.value).toBe("live");
    // `online` without an `offline` before it leaves a live socket alone.
    win.fire("online");
    expect(FakeWebSocket.all).toHaveLength(2);
    stop();
    win.fire("offline");
    win.fire("online");
    expect(FakeWebSocket.all).toHaveLength(2);
    socket.stop();
  });

  it("reconnects when the page comes back after more than 30 s hidden, not after a glance away", () => {
    const { socket, clock } = setup();
    socket.start();
    connectLive();
    const win = target();
    const doc = target();
    watchBrowser(socket, win, doc, { now: clock.now });
    doc.visibilityState = "hidden";
    doc.fire("visibilitychange");
    clock.advance(10_000);
    doc.visibilityState = "visible";
    doc.fire("visibilitychange");
    expect(FakeWebSocket.all).toHaveLength(1);

    doc.visibilityState = "hidden";
    doc.fire("visibilitychange");
    clock.advance(31_000);
    doc.visibilityState = "visible";
    doc.fire("visibilitychange");
    expect(FakeWebSocket.all).toHaveLength(2);
    expect(FakeWebSocket.all[0]!.readyState).toBe(3);
    connectLive();
    expect(socket.status.value).toBe("live");
    socket.stop();
  });

  it("sends a pending command once on the new connection after a forced reconnect", () => {
    const { socket } = setup();
    socket.start();
    const first = connectLive();
    void socket.send({ type: "vote.cast", idea_id: 5 });
    expect(first.sent).toHaveLength(1);
    socket.reconnectNow();
    const second = connectLive();
    expect(second.sent).toHaveLength(1);
    expect(second.sent[0]!.ref).toBe(first.sent[0]!.ref);
    socket.stop();
  });
});
