/* The agenda: the meeting's challenges in order, the one in the hot seat marked; members
 * propose challenges here before and at the start of the meeting, their owners (and the
 * facilitators) edit or withdraw them, and facilitators reorder them and choose the one in
 * the hot seat. */
import { useState } from "preact/hooks";
import { useBoard } from "../context";
import { t } from "../i18n";
import { can } from "../phases";
import type { ChallengeWire } from "../types";

export function Agenda() {
  const { store, send } = useBoard();
  const list = store.challenges.value;
  const meeting = store.meeting.value;
  const you = store.you.value;
  const current = store.currentChallenge.value;
  const hotSeat = meeting?.format === "hot-seat";
  const canChoose = !meeting?.active_challenge_id;
  const facilitator = store.isFacilitator.value;
  const agendaOpen = can(meeting, "agenda") && (facilitator || !meeting?.locked);
  const canPropose = agendaOpen && you?.role !== "guest";
  const canReorder = facilitator && meeting?.state !== "ended" && list.length > 1;
  const [withdrawing, setWithdrawing] = useState<number | null>(null);

  const reorder = (id: number, delta: number) => {
    const all = store.snapshot.value?.challenges ?? [];
    // The server wants every challenge of the meeting, withdrawn ones included.
    const active = list.map((c) => c.id);
    const i = active.indexOf(id);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= active.length) return;
    [active[i], active[j]] = [active[j]!, active[i]!];
    const rest = all.filter((c) => c.status !== "active").map((c) => c.id);
    const [first, ...others] = [...active, ...rest];
    if (first === undefined) return;
    void send({ type: "challenge.reorder", challenge_ids: [first, ...others] });
  };

  return (
    <section class="board-panel board-agenda" aria-labelledby="board-agenda-title">
      <h2 id="board-agenda-title" class="board-panel__title">
        {t("agenda")}
      </h2>
      {list.length === 0 ? (
        <p class="muted small">{t("agendaEmpty")}</p>
      ) : (
        <ol class="board-agenda__list">
          {list.map((c, index) => {
            const active = meeting?.active_challenge_id === c.id;
            const shown = current?.id === c.id;
            const mine = c.owner.id === you?.participant_id;
            return (
              <li key={c.id} class={`board-agenda__item${shown ? " is-current" : ""}`} data-challenge-id={c.id}>
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
                <div class="board-agenda__tools">
                  {facilitator && hotSeat && !active && meeting?.state === "live" && (
                    <button
                      type="button"
                      class="button button--ghost button--small"
                      onClick={() => send({ type: "phase.set", phase: "present", challenge_id: c.id })}
                    >
                      {t("hotSeat")}
                    </button>
                  )}
                  {canReorder && (
                    <>
                      <button
                        type="button"
                        class="button button--ghost button--small board-icon-button"
                        aria-label={t("moveUp", { title: c.title })}
                        disabled={index === 0}
                        onClick={() => reorder(c.id, -1)}
                      >
                        <span aria-hidden="true">↑</span>
                      </button>
                      <button
                        type="button"
                        class="button button--ghost button--small board-icon-button"
                        aria-label={t("moveDown", { title: c.title })}
                        disabled={index === list.length - 1}
                        onClick={() => reorder(c.id, 1)}
                      >
                        <span aria-hidden="true">↓</span>
                      </button>
                    </>
                  )}
                  {agendaOpen && (mine || facilitator) && withdrawing !== c.id && (
                    <button
                      type="button"
                      class="link-button board-agenda__withdraw"
                      onClick={() => setWithdrawing(c.id)}
                    >
                      {t("withdraw")}
                    </button>
                  )}
                </div>
                {withdrawing === c.id && (
                  <div class="board-confirm" role="group" aria-labelledby={`withdraw-${c.id}`}>
                    <p id={`withdraw-${c.id}`}>{t("confirmWithdraw", { title: c.title })}</p>
                    <button
                      type="button"
                      class="button button--danger button--small"
                      autoFocus
                      onClick={() => {
                        setWithdrawing(null);
                        void send({ type: "challenge.withdraw", challenge_id: c.id });
                      }}
                    >
                      {t("withdraw")}
                    </button>
                    <button type="button" class="button button--ghost button--small" onClick={() => setWithdrawing(null)}>
                      {t("cancel")}
                    </button>
                  </div>
                )}
              </li>
            );
          })}
        </ol>
      )}
      {canPropose && <ProposeChallenge startOpen={list.length === 0} />}
    </section>
  );
}

/** Title, context and the help wanted; used to propose a challenge and to edit one. */
function ChallengeForm(props: {
  idPrefix: string;
  initial?: Pick<ChallengeWire, "title" | "context" | "ask">;
  submitLabel: string;
  onSubmit: (fields: { title: string; context: string; ask: string }) => Promise<boolean>;
  onCancel: () => void;
}) {
  const { idPrefix, initial } = props;
  const [title, setTitle] = useState(initial?.title ?? "");
  const [context, setContext] = useState(initial?.context ?? "");
  const [ask, setAsk] = useState(initial?.ask ?? "");
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="board-challenge-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!title.trim() || busy) return;
        setBusy(true);
        void props
          .onSubmit({ title: title.trim(), context: context.trim(), ask: ask.trim() })
          .then(() => setBusy(false));
      }}
    >
      <div class="board-field">
        <label for={`${idPrefix}-title`}>{t("challengeTitle")}</label>
        <input
          id={`${idPrefix}-title`}
          type="text"
          required
          maxLength={200}
          value={title}
          autoFocus
          onInput={(e) => setTitle(e.currentTarget.value)}
        />
      </div>
      <div class="board-field">
        <label for={`${idPrefix}-context`}>{t("context")}</label>
        <textarea
          id={`${idPrefix}-context`}
          rows={3}
          maxLength={4000}
          value={context}
          onInput={(e) => setContext(e.currentTarget.value)}
        />
      </div>
      <div class="board-field">
        <label for={`${idPrefix}-ask`}>{t("ask")}</label>
        <textarea
          id={`${idPrefix}-ask`}
          rows={2}
          maxLength={1000}
          value={ask}
          onInput={(e) => setAsk(e.currentTarget.value)}
        />
      </div>
      <div class="board-facilitator__row">
        <button type="submit" class="button button--small" disabled={!title.trim() || busy}>
          {props.submitLabel}
        </button>
        <button type="button" class="button button--ghost button--small" onClick={props.onCancel}>
          {t("cancel")}
        </button>
      </div>
    </form>
  );
}

function ProposeChallenge({ startOpen }: { startOpen: boolean }) {
  const { send } = useBoard();
  const [open, setOpen] = useState(startOpen);
  if (!open) {
    return (
      <button type="button" class="button button--ghost button--small" onClick={() => setOpen(true)}>
        {t("proposeChallenge")}
      </button>
    );
  }
  return (
    <ChallengeForm
      idPrefix="board-new-challenge"
      submitLabel={t("addToAgenda")}
      onCancel={() => setOpen(false)}
      onSubmit={async (fields) => {
        const ack = await send({ type: "challenge.post", ...fields });
        if (ack) setOpen(false);
        return ack !== null;
      }}
    />
  );
}

export function ChallengeHead() {
  const { store, send } = useBoard();
  const c = store.currentChallenge.value;
  const meeting = store.meeting.value;
  const you = store.you.value;
  const facilitator = store.isFacilitator.value;
  const [editing, setEditing] = useState(false);
  if (!c) return null;
  const mine = c.owner.id === you?.participant_id;
  const editable =
    (mine || facilitator) && can(meeting, "challengeEdit") && (facilitator || !meeting?.locked);
  // The ask step of the hot seat: its owner says what help is wanted, right here.
  const askStep = editable && meeting?.format === "hot-seat" && meeting.phase === "ask";
  return (
    <section class="board-challenge" aria-labelledby="board-challenge-title" data-challenge-id={c.id}>
      <h2 id="board-challenge-title" class="board-challenge__title">
        {c.title}
      </h2>
      <p class="board-challenge__owner">{t("ownerBy", { name: c.owner.name })}</p>
      {editing ? (
        <ChallengeForm
          key={c.id}
          idPrefix="board-edit-challenge"
          initial={c}
          submitLabel={t("save")}
          onCancel={() => setEditing(false)}
          onSubmit={async (fields) => {
            const ack = await send({ type: "challenge.edit", challenge_id: c.id, ...fields });
            if (ack) setEditing(false);
            return ack !== null;
          }}
        />
      ) : (
        <>
          {c.context && (
            <details class="board-challenge__context">
              <summary>{t("context")}</summary>
              <p class="board-text">{c.context}</p>
            </details>
          )}
          {askStep ? (
            <AskEditor key={`${c.id}:${c.ask}`} challenge={c} mine={mine} />
          ) : (
            c.ask && (
              <div class="board-challenge__ask">
                <strong>{t("ask")}</strong>
                <p class="board-text">{c.ask}</p>
              </div>
            )
          )}
          {editable && (
            <button type="button" class="link-button board-challenge__edit" onClick={() => setEditing(true)}>
              {t("editChallenge")}
            </button>
          )}
        </>
      )}
    </section>
  );
}

/** The owner writes (or rewrites) the help wanted during the ask step. */
function AskEditor({ challenge, mine }: { challenge: ChallengeWire; mine: boolean }) {
  const { send } = useBoard();
  const [ask, setAsk] = useState(challenge.ask);
  const [busy, setBusy] = useState(false);
  const changed = ask.trim() !== challenge.ask;
  return (
    <form
      class="board-challenge__ask board-ask-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!changed || busy) return;
        setBusy(true);
        void send({ type: "challenge.edit", challenge_id: challenge.id, ask: ask.trim() }).then(() =>
          setBusy(false),
        );
      }}
    >
      <label for="board-ask-text">
        <strong>{t(mine ? "askYours" : "ask")}</strong>
      </label>
      <textarea
        id="board-ask-text"
        rows={3}
        maxLength={1000}
        value={ask}
        placeholder={t("askPlaceholder")}
        onInput={(e) => setAsk(e.currentTarget.value)}
      />
      <button type="submit" class="button button--small" disabled={!changed || busy}>
        {t("saveAsk")}
      </button>
    </form>
  );
}
