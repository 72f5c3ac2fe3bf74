/* The board's top bar: meeting title and state, phase, timer, connection status. */
import { useEffect } from "preact/hooks";
import { useBoard } from "../context";
import { formatDuration, t, type Key } from "../i18n";
import { timerRemaining } from "../store";
import { startTicking, tick } from "../ui";

const STATUS_KEY: Record<string, Key> = {
  connecting: "statusConnecting",
  live: "statusLive",
  reconnecting: "statusReconnecting",
  offline: "statusOffline",
  closed: "statusClosed",
};

const CLOSED_KEY: Record<string, Key> = {
  removed: "closedRemoved",
  logged_out: "closedLoggedOut",
  forbidden: "closedForbidden",
  meeting_deleted: "closedDeleted",
  no_access: "closedNoAccess",
};

/** Where to log in again, back to this page afterwards. */
export function loginUrl(): string {
  if (typeof location === "undefined") return "/accounts/login/";
  const base = document.getElementById("board")?.dataset.loginUrl ?? "/accounts/login/";
  return `${base}?next=${encodeURIComponent(location.pathname + location.search)}`;
}

/** Why the board stopped for good, said once and plainly, with the way back in. */
export function ClosedBanner() {
  const { socket, store } = useBoard();
  const reason = socket.closedReason.value;
  if (socket.status.value !== "closed" || !reason) return null;
  const key = CLOSED_KEY[reason] ?? "closedForbidden";
  const guest = store.you.value?.role === "guest";
  const showLogin = !guest && (reason === "logged_out" || reason === "no_access");
  return (
    <div class="board-closed" role="alert" data-reason={reason}>
      <p class="board-closed__text">{t(key)}</p>
      {showLogin && (
        <a class="button button--small" href={loginUrl()}>
          {t("logIn")}
        </a>
      )}
    </div>
  );
}

export function ConnectionStatus() {
  const { socket } = useBoard();
  const status = socket.status.value;
  const queued = socket.queued.value;
  const reason = socket.closedReason.value;
  return (
    <div class={`board-status board-status--${status}`} data-status={status} role="status">
      <span class="board-status__dot" aria-hidden="true" />
      <span class="board-status__label">{t(STATUS_KEY[status] ?? "statusConnecting")}</span>
      {queued > 0 && status !== "live" && (
        <span class="board-status__queued" data-queued={queued}>
          {t("queued", { count: queued })}
        </span>
      )}
      {(status === "offline" || status === "reconnecting") && (
        <button type="button" class="link-button board-status__retry" onClick={socket.retryNow}>
          {t("retry")}
        </button>
      )}
      {status === "closed" && reason && CLOSED_KEY[reason] && (
        <span class="board-status__why">{t(CLOSED_KEY[reason]!)}</span>
      )}
    </div>
  );
}

export function Timer() {
  const { store } = useBoard();
  const timer = store.meeting.value?.timer;
  const running = Boolean(timer?.ends_at);
  useEffect(() => (running ? startTicking() : undefined), [running]);
  void tick.value; // re-render on each tick while running
  const left = timerRemaining(timer, store.serverNow());
  if (!left) return null;
  const time = formatDuration(left.ms);
  return (
    <div
      class={`board-timer${left.running ? "" : " board-timer--paused"}${left.ms === 0 ? " board-timer--over" : ""}`}
      data-remaining-ms={left.ms}
    >
      <span class="visually-hidden">{t("timer")}: </span>
      <span class="board-timer__time" aria-hidden="true">
        {time}
      </span>
      <span class="visually-hidden">{t("timerLeft", { time })}</span>
      {!left.running && <span class="board-timer__paused">{t("timerPaused")}</span>}
    </div>
  );
}

const STATE_KEY: Record<string, Key> = {
  scheduled: "stateScheduled",
  live: "stateLive",
  ended: "stateEnded",
};

export function phaseLabel(phase: string): string {
  return t(`phase_${phase}` as Key);
}

export function Header() {
  const { store } = useBoard();
  const meeting = store.meeting.value;
  if (!meeting) return null;
  const badge =
    meeting.state === "live" ? "badge--live" : meeting.state === "ended" ? "badge--ended" : "badge--scheduled";
  return (
    <div class="board-header">
      <div class="board-header__title">
        <span class={`badge ${badge}`} data-state={meeting.state}>
          {t(STATE_KEY[meeting.state] ?? "stateScheduled")}
        </span>
        {meeting.state === "live" && <Phases />}
      </div>
      <div class="board-header__meta">
        <Timer />
        <span class="board-header__status">
          <ConnectionStatus />
        </span>
      </div>
    </div>
  );
}

/** The phase sequence with the current one marked. */
function Phases() {
  const { store } = useBoard();
  const meeting = store.meeting.value!;
  const index = meeting.phases.indexOf(meeting.phase);
  return (
    <div class="board-phase" data-phase={meeting.phase}>
      <span class="visually-hidden">{t("phase")}: </span>
      <strong class="board-phase__name">{phaseLabel(meeting.phase)}</strong>
      {meeting.phases.length > 1 && index >= 0 && (
        <ol class="board-phase__steps" aria-hidden="true">
          {meeting.phases.map((p, i) => (
            <li key={p} class={i < index ? "is-done" : i === index ? "is-current" : ""} />
          ))}
        </ol>
      )}
    </div>
  );
}
