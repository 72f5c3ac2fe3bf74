/* The agenda: the meeting's challenges in order, the one in the hot seat marked. */
import { useBoard } from "../context";
import { t } from "../i18n";

export function Agenda() {
  const { store, send } = useBoard();
  const list = store.challenges.value;
  const meeting = store.meeting.value;
  const current = store.currentChallenge.value;
  const hotSeat = meeting?.format === "hot-seat";
  const canChoose = !meeting?.active_challenge_id;
  const facilitator = store.isFacilitator.value;
  return (
    <section class="board-panel board-agenda" aria-labelledby="board-agenda-title">
      <h2 id="board-agenda-title" class="board-panel__title">
        {t("agenda")}
      </h2>
      {list.length === 0 ? (
        <p class="muted small">{t("agendaEmpty")}</p>
      ) : (
        <ol class="board-agenda__list">
          {list.map((c) => {
            const active = meeting?.active_challenge_id === c.id;
            const shown = current?.id === c.id;
            return (
              <li key={c.id} class={`board-agenda__item${shown ? " is-current" : ""}`}>
                {canChoose ? (
                  <button
                    type="button"
                    class="board-agenda__pick"
                    aria-current={shown ? "true" : undefined}
                    onClick={() => (store.viewedChallengeId.value = c.id)}
                  >
                    {c.title}
                  </button>
                ) : (
                  <span class="board-agenda__name" aria-current={active ? "true" : undefined}>
                    {c.title}
                  </span>
                )}
                <span class="board-agenda__owner">{c.owner.name}</span>
                {active && hotSeat && <span class="badge badge--format">{t("inHotSeat")}</span>}
                {facilitator && hotSeat && !active && meeting?.state === "live" && (
                  <button
                    type="button"
                    class="button button--ghost button--small"
                    onClick={() => send({ type: "phase.set", phase: "present", challenge_id: c.id })}
                  >
                    {t("hotSeat")}
                  </button>
                )}
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}

export function ChallengeHead() {
  const { store } = useBoard();
  const c = store.currentChallenge.value;
  if (!c) return null;
  return (
    <section class="board-challenge" aria-labelledby="board-challenge-title">
      <h2 id="board-challenge-title" class="board-challenge__title">
        {c.title}
      </h2>
      <p class="board-challenge__owner">{t("ownerBy", { name: c.owner.name })}</p>
      {c.context && (
        <details class="board-challenge__context">
          <summary>{t("context")}</summary>
          <p class="board-text">{c.context}</p>
        </details>
      )}
      {c.ask && (
        <div class="board-challenge__ask">
          <strong>{t("ask")}</strong>
          <p class="board-text">{c.ask}</p>
        </div>
      )}
    </section>
  );
}
