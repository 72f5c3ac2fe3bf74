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
  const [from, setFrom] = useState<number[]>([]);
  if (!meeting || !challenge) return null;
  const actions = all.filter((a) => a.challenge_id === challenge.id);
  const ideas = store.currentIdeas.value;
  const ideaText = new Map(ideas.map((i) => [i.id, i.text]));
  // The ideas an action can come from, most voted first.
  const sources = ideas
    .filter((i) => i.kind === "idea" && !i.removed && i.text)
    .slice()
    .sort((a, b) => b.votes - a.votes || a.id - b.id);
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
              {a.idea_ids.some((id) => ideaText.has(id)) && (
                <p class="board-action__from muted small">
                  {t("fromIdeas")}{" "}
                  {a.idea_ids
                    .filter((id) => ideaText.has(id))
                    .map((id) => `« ${short(ideaText.get(id)!)} »`)
                    .join(", ")}
                </p>
              )}
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
            const ideaIds = from.filter((id) => ideaText.has(id));
            setText("");
            void send({
              type: "action.post",
              challenge_id: challenge.id,
              text: value,
              due_date: due || null,
              idea_ids: ideaIds,
            }).then((ack) => {
              if (ack) {
                setFrom([]);
                setDue("");
              } else setText(value);
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
          {sources.length > 0 && (
            <fieldset class="board-actions__from">
              <legend>{t("fromIdeas")}</legend>
              {sources.slice(0, 12).map((i) => (
                <label key={i.id} class="board-check">
                  <input
                    type="checkbox"
                    checked={from.includes(i.id)}
                    onChange={(e) =>
                      setFrom(
                        e.currentTarget.checked ? [...from, i.id] : from.filter((x) => x !== i.id),
                      )
                    }
                  />
                  <span class="board-text">{short(i.text)}</span>
                  {i.votes > 0 && <span class="muted small"> · {t("votes", { count: i.votes })}</span>}
                </label>
              ))}
            </fieldset>
          )}
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

function short(text: string, max = 80): string {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
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
