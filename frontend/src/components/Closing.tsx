/* The plan and takeaways: the challenge owner's actions, follow-ups from the last meeting,
 * and what participants take away. */
import { useState } from "preact/hooks";
import { useBoard } from "../context";
import { t } from "../i18n";

export function Actions() {
  const { store, send } = useBoard();
  const meeting = store.meeting.value;
  const challenge = store.currentChallenge.value;
  const you = store.you.value;
  const all = store.actions.value;
  const [text, setText] = useState("");
  const [due, setDue] = useState("");
  if (!meeting || !challenge) return null;
  const actions = all.filter((a) => a.challenge_id === challenge.id);
  const canWrite =
    meeting.state === "live" &&
    meeting.phase === "plan" &&
    (challenge.owner.id === you?.participant_id || you?.facilitator);
  if (actions.length === 0 && !canWrite) return null;
  return (
    <section class="board-panel board-actions" aria-labelledby="board-actions-title">
      <h2 id="board-actions-title" class="board-panel__title">
        {t("actions")}
      </h2>
      {actions.length > 0 && (
        <ul class="board-actions__list">
          {actions.map((a) => (
            <li key={a.id} class={`board-action board-action--${a.status}`}>
              <span class="board-text">{a.text}</span>
              {a.due_date && <span class="muted small"> · {a.due_date}</span>}
            </li>
          ))}
        </ul>
      )}
      {canWrite && (
        <form
          class="board-actions__form"
          onSubmit={(e) => {
            e.preventDefault();
            const value = text.trim();
            if (!value) return;
            setText("");
            void send({
              type: "action.post",
              challenge_id: challenge.id,
              text: value,
              due_date: due || null,
              idea_ids: [],
            });
          }}
        >
          <div class="board-field">
            <label for="board-action-text">{t("actionText")}</label>
            <input
              id="board-action-text"
              type="text"
              maxLength={500}
              value={text}
              onInput={(e) => setText(e.currentTarget.value)}
            />
          </div>
          <div class="board-field board-field--inline">
            <label for="board-action-due">{t("dueDate")}</label>
            <input id="board-action-due" type="date" value={due} onInput={(e) => setDue(e.currentTarget.value)} />
            <button type="submit" class="button button--small">
              {t("addAction")}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

export function Followups() {
  const { store } = useBoard();
  const list = store.followups.value;
  if (list.length === 0) return null;
  return (
    <section class="board-panel board-followups" aria-labelledby="board-followups-title">
      <h2 id="board-followups-title" class="board-panel__title">
        {t("followups")}
      </h2>
      <ul class="board-actions__list">
        {list.map((a) => (
          <li key={a.id} class={`board-action board-action--${a.status}`}>
            <span class="board-text">{a.text}</span> <span class="muted small">— {a.owner.name}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function Takeaways() {
  const { store } = useBoard();
  const list = store.takeaways.value;
  const phase = store.meeting.value?.phase;
  if (list.length === 0 && phase !== "takeaways" && phase !== "wrapup") return null;
  return (
    <section class="board-takeaways" aria-labelledby="board-takeaways-title">
      <h2 id="board-takeaways-title" class="board-ideas__title">
        {t("takeaways")} <span class="board-ideas__count">{list.length}</span>
      </h2>
      <ul class="board-grid">
        {list.map((x) => (
          <li key={x.id} class="board-idea board-idea--note-2" data-takeaway-id={x.id}>
            <span class="board-idea__author">
              {x.author?.name ?? t("anonymous")}
              {x.mine ? ` (${t("you")})` : ""}
            </span>
            <p class="board-idea__text board-text">{x.text}</p>
          </li>
        ))}
      </ul>
    </section>
  );
}
