/* The board's one store: the meeting state for this viewer, kept in signals.
 *
 * It applies `event` frames strictly in `seq` order: an event at or below the applied seq is
 * a duplicate and is dropped; an event past the next one is held back and the store asks
 * the server for a resync (once) through `requestSync`. A held-back event is applied as
 * soon as the missing ones arrive, or dropped when a resync covers it. Components read the
 * signals and never change them. */
import { batch, computed, signal } from "@preact/signals";
import { applyEvent } from "./apply";
import type {
  EventFrame,
  IdeaWire,
  PresenceEntry,
  Resync,
  ServerFrame,
  Snapshot,
  Welcome,
  You,
} from "./types";

export interface Announcement {
  id: number;
  text: string;
}

export interface StoreOptions {
  /** Sends `{"type": "sync"}`; the server answers with `resync`. */
  requestSync?: () => void;
  /** Called for each idea another participant posted (for the live region). */
  onIdeaPosted?: (idea: IdeaWire) => void;
  now?: () => number;
}

export type BoardStore = ReturnType<typeof createStore>;

export function createStore(options: StoreOptions = {}) {
  const now = options.now ?? (() => Date.now());
  const snapshot = signal<Snapshot | null>(null);
  const you = signal<You | null>(null);
  /** The seq of the last applied event (what `?after=` resumes from). */
  const seq = signal(0);
  const presence = signal<PresenceEntry[]>([]);
  /** server clock − client clock, in ms, from the last welcome/resync. */
  const clockOffset = signal(0);
  /** True between a detected gap and the resync that fills it. */
  const syncing = signal(false);
  /** The challenge the viewer looks at when the meeting has no active one (open format). */
  const viewedChallengeId = signal<number | null>(null);

  const held = new Map<number, EventFrame>();
  let requestSync = options.requestSync ?? (() => {});

  // Slices: a component reading one re-renders only when that part changed (the apply
  // function keeps untouched parts as the same objects).
  const ready = computed(() => snapshot.value !== null);
  const meeting = computed(() => snapshot.value?.meeting ?? null);
  const participants = computed(() => snapshot.value?.participants ?? []);
  const clusters = computed(() => snapshot.value?.clusters ?? []);
  const actions = computed(() => snapshot.value?.actions ?? []);
  const followups = computed(() => snapshot.value?.followups ?? []);
  const takeaways = computed(() => snapshot.value?.takeaways ?? []);
  const challenges = computed(() =>
    (snapshot.value?.challenges ?? [])
      .filter((c) => c.status === "active")
      .slice()
      .sort((a, b) => a.position - b.position),
  );
  const currentChallenge = computed(() => {
    const list = challenges.value;
    const m = meeting.value;
    const wanted = m?.active_challenge_id ?? viewedChallengeId.value;
    return list.find((c) => c.id === wanted) ?? list[0] ?? null;
  });
  const currentIdeas = computed(() => {
    const c = currentChallenge.value;
    const ideas = snapshot.value?.ideas ?? [];
    return c ? ideas.filter((i) => i.challenge_id === c.id) : [];
  });
  const myVotesUsed = computed(() => currentIdeas.value.filter((i) => i.my_vote).length);
  const votesLeft = computed(() =>
    Math.max(0, (meeting.value?.vote_budget ?? 0) - myVotesUsed.value),
  );
  const isFacilitator = computed(() => you.value?.facilitator ?? false);

  function setClock(serverTime: string) {
    const t = Date.parse(serverTime);
    if (!Number.isNaN(t)) clockOffset.value = t - now();
  }

  /** Server time now, in ms since the epoch. */
  function serverNow(): number {
    return now() + clockOffset.value;
  }

  function applyOne(frame: EventFrame) {
    const current = snapshot.value;
    if (!current) return;
    snapshot.value = applyEvent(current, frame);
    seq.value = frame.seq;
    if (frame.name === "idea.posted" && !frame.data.mine) options.onIdeaPosted?.(frame.data);
    // The viewer's own mute is part of `you`, which only welcome sends in full.
    const me = you.value;
    if (frame.name === "participant.updated" && me && frame.data.id === me.participant_id) {
      if (frame.data.muted !== me.muted) you.value = { ...me, muted: frame.data.muted };
    }
  }

  function drainHeld() {
    for (const key of [...held.keys()]) if (key <= seq.value) held.delete(key);
    let next = held.get(seq.value + 1);
    while (next) {
      held.delete(next.seq);
      applyOne(next);
      next = held.get(seq.value + 1);
    }
    if (held.size === 0) syncing.value = false;
    else if (snapshot.value && !syncing.value) askSync();
  }

  function askSync() {
    if (syncing.value) return;
    syncing.value = true;
    requestSync();
  }

  function onEvent(frame: EventFrame) {
    if (frame.seq <= seq.value) return; // duplicate (replayed after resume, or re-delivered)
    if (!snapshot.value || frame.seq > seq.value + 1) {
      held.set(frame.seq, frame);
      // Without a snapshot, a resync is already on its way (welcome said so).
      if (snapshot.value) askSync();
      return;
    }
    batch(() => {
      applyOne(frame);
      drainHeld();
    });
  }

  function takeSnapshot(frame: Welcome | Resync, state: Snapshot) {
    snapshot.value = state;
    seq.value = frame.seq;
    syncing.value = false;
    drainHeld(); // events that arrived before the snapshot, if any still apply
  }

  function onWelcome(frame: Welcome) {
    you.value = frame.you;
    setClock(frame.server_time);
    // `snapshot` is null when the server resumes from our cursor (missed events follow)
    // or when a resync follows (unknown or too old cursor).
    const state = (frame as { snapshot: Snapshot | null }).snapshot;
    if (state) takeSnapshot(frame, state);
    else if ((frame as { resumed?: boolean }).resumed === false) syncing.value = true;
  }

  function onResync(frame: Resync) {
    setClock(frame.server_time);
    takeSnapshot(frame, frame.snapshot);
  }

  /** Handles one server frame; ack/error are the socket's business and ignored here. */
  function handle(frame: ServerFrame) {
    batch(() => {
      switch (frame.type) {
        case "welcome":
          onWelcome(frame);
          break;
        case "resync":
          onResync(frame);
          break;
        case "event":
          onEvent(frame);
          break;
        case "presence":
          presence.value = frame.participants;
          break;
        default:
          break;
      }
    });
  }

  return {
    snapshot,
    you,
    seq,
    presence,
    clockOffset,
    syncing,
    viewedChallengeId,
    ready,
    meeting,
    participants,
    clusters,
    actions,
    followups,
    takeaways,
    challenges,
    currentChallenge,
    currentIdeas,
    myVotesUsed,
    votesLeft,
    isFacilitator,
    handle,
    serverNow,
    /** Number of events held back while waiting for the missing ones. */
    heldCount: () => held.size,
    setRequestSync(fn: () => void) {
      requestSync = fn;
    },
  };
}

/** Milliseconds left on the meeting's timer at server time `serverNow`; null when off. */
export function timerRemaining(
  timer: { ends_at: string | null; remaining_ms: number | null } | undefined,
  serverNow: number,
): { ms: number; running: boolean } | null {
  if (!timer) return null;
  if (timer.ends_at) {
    const end = Date.parse(timer.ends_at);
    return { ms: Math.max(0, end - serverNow), running: true };
  }
  if (timer.remaining_ms !== null && timer.remaining_ms !== undefined) {
    return { ms: Math.max(0, timer.remaining_ms), running: false };
  }
  return null;
}
