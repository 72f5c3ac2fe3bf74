/* The board's layout: header, main column (challenge, ideas, composer), side panels. */
import { useBoard } from "../context";
import { t } from "../i18n";
import { announcement, dismissToast, toasts } from "../ui";
import { Agenda, ChallengeHead } from "./Agenda";
import { Actions, Followups, Takeaways } from "./Closing";
import { Composer } from "./Composer";
import { Facilitator } from "./Facilitator";
import { ClosedBanner, Header } from "./Header";
import { IdeaList } from "./IdeaList";
import { Presence } from "./Presence";

export function App() {
  const { store, socket } = useBoard();
  const ready = store.ready.value;
  const closed = socket.status.value === "closed";
  return (
    <div class="board-app">
      <LiveRegion />
      <Toasts />
      <ClosedBanner />
      {!ready ? (
        !closed && (
          <p class="board-loading" role="status">
            {t("loading")}
          </p>
        )
      ) : (
        <>
          <Header />
          <div class="board-layout">
            <div class="board-main">
              <ChallengeHead />
              <Composer />
              <IdeaList />
              <Actions />
              <Takeaways />
            </div>
            <div class="board-side">
              <Facilitator />
              <Agenda />
              <Presence />
              <Followups />
            </div>
          </div>
        </>
      )}
    </div>
  );
}

/** Polite announcements of new ideas for screen readers. */
function LiveRegion() {
  const a = announcement.value;
  return (
    <div class="visually-hidden" aria-live="polite" aria-atomic="true" data-testid="board-live">
      <span key={a.key}>{a.text}</span>
    </div>
  );
}

function Toasts() {
  const list = toasts.value;
  return (
    <div class="board-toasts" role="alert" aria-live="assertive">
      {list.map((toast) => (
        <div key={toast.id} class="board-toast">
          <span>{toast.text}</span>
          <button
            type="button"
            class="link-button board-toast__close"
            aria-label={t("dismiss")}
            onClick={() => dismissToast(toast.id)}
          >
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
