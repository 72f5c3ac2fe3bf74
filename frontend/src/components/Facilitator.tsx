/* The facilitator's controls: meeting start / end, phases, timer, reveal, lock, themes and
 * settings. Shown only to facilitators and the room owner (the server checks anyway). */
import { useState } from "preact/hooks";
import { useBoard } from "../context";
import { t } from "../i18n";
import type { MeetingSettings } from "../types";
import { phaseLabel } from "./Header";

export function Facilitator() {
  const { store, send } = useBoard();
  const meeting = store.meeting.value;
  const challenge = store.currentChallenge.value;
  const [minutes, setMinutes] = useState("5");
  const [theme, setTheme] = useState("");
  const [confirmEnd, setConfirmEnd] = useState(false);
  const [settingsOpen, setSettingsOpen] = useState(false);
  if (!meeting || !store.isFacilitator.value) return null;
  const live = meeting.state === "live";
  const index = meeting.phases.indexOf(meeting.phase);
  const timer = meeting.timer;
  const hidden = store.currentIdeas.value.filter((i) => i.hidden && !i.removed).length;

  return (
    <section class="board-panel board-facilitator" aria-labelledby="board-facilitator-title">
      <h2 id="board-facilitator-title" class="board-panel__title">
        {t("facilitation")}
      </h2>

      {meeting.state === "scheduled" && (
        <button type="button" class="button button--primary" onClick={() => send({ type: "meeting.start" })}>
          {t("start")}
        </button>
      )}
      {live && (
        <>
          <div class="board-facilitator__row" role="group" aria-label={t("phase")}>
            <button
              type="button"
              class="button button--ghost button--small"
              disabled={index <= 0 && meeting.format === "open"}
              onClick={() => send({ type: "phase.prev" })}
            >
              ← {t("prevPhase")}
            </button>
            <button
              type="button"
              class="button button--primary button--small"
              onClick={() => send({ type: "phase.next" })}
            >
              {t("nextPhase")} →
            </button>
          </div>
          <div class="board-field">
            <label for="board-phase-select">{t("phase")}</label>
            <select
              id="board-phase-select"
              value={meeting.phase}
              onChange={(e) =>
                send({
                  type: "phase.set",
                  phase: e.currentTarget.value as typeof meeting.phase,
                  challenge_id: meeting.active_challenge_id ?? challenge?.id ?? null,
                })
              }
            >
              {meeting.phases.map((p) => (
                <option key={p} value={p}>
                  {phaseLabel(p)}
                </option>
              ))}
            </select>
          </div>

          <form
            class="board-facilitator__timer"
            onSubmit={(e) => {
              e.preventDefault();
              const seconds = Math.round(Number(minutes) * 60);
              if (seconds > 0) void send({ type: "timer.start", seconds });
            }}
          >
            <div class="board-field board-field--inline">
              <label for="board-timer-minutes">{t("minutes")}</label>
              <input
                id="board-timer-minutes"
                type="number"
                min="0.5"
                max="240"
                step="0.5"
                inputMode="numeric"
                value={minutes}
                onInput={(e) => setMinutes(e.currentTarget.value)}
              />
              <button type="submit" class="button button--small">
                {t("timerStart")}
              </button>
            </div>
            {(timer.ends_at || timer.remaining_ms !== null) && (
            <div class="board-facilitator__row">
              {timer.ends_at && (
                <button type="button" class="button button--ghost button--small" onClick={() => send({ type: "timer.pause" })}>
                  {t("timerPause")}
                </button>
              )}
              {!timer.ends_at && timer.remaining_ms !== null && (
                <button type="button" class="button button--ghost button--small" onClick={() => send({ type: "timer.resume" })}>
                  {t("timerResume")}
                </button>
              )}
              {(timer.ends_at || timer.remaining_ms !== null) && (
                <>
                  <button
                    type="button"
                    class="button button--ghost button--small"
                    onClick={() => send({ type: "timer.add", seconds: 60 })}
                  >
                    {t("timerAdd")}
                  </button>
                  <button type="button" class="button button--ghost button--small" onClick={() => send({ type: "timer.clear" })}>
                    {t("timerClear")}
                  </button>
                </>
              )}
            </div>
            )}
          </form>

          <div class="board-facilitator__row">
            {challenge && (meeting.hide_until_reveal || hidden > 0) && (
              <button
                type="button"
                class="button button--small"
                disabled={hidden === 0}
                data-hidden={hidden}
                onClick={() => send({ type: "ideas.reveal", challenge_id: challenge.id })}
              >
                {hidden > 0 ? t("revealCount", { count: hidden }) : t("reveal")}
              </button>
            )}
            <button
              type="button"
              class="button button--ghost button--small"
              aria-pressed={meeting.locked}
              onClick={() => send({ type: "board.lock", locked: !meeting.locked })}
            >
              {meeting.locked ? t("unlock") : t("lock")}
            </button>
          </div>

          {challenge && (
            <form
              class="board-field board-field--inline"
              onSubmit={(e) => {
                e.preventDefault();
                const name = theme.trim();
                if (!name) return;
                setTheme("");
                void send({ type: "cluster.create", challenge_id: challenge.id, name });
              }}
            >
              <label for="board-theme-name">{t("newCluster")}</label>
              <input
                id="board-theme-name"
                type="text"
                maxLength={80}
                value={theme}
                onInput={(e) => setTheme(e.currentTarget.value)}
              />
              <button type="submit" class="button button--small">
                {t("addCluster")}
              </button>
            </form>
          )}
        </>
      )}

      {meeting.state !== "ended" && (
        // Keyed by the settings: a change made elsewhere (another facilitator) shows here.
        <Settings
          key={`${meeting.anonymity}:${meeting.vote_budget}:${meeting.hide_until_reveal}`}
          open={settingsOpen}
          onToggle={setSettingsOpen}
        />
      )}
      {live && (
      <div class="board-facilitator__row board-facilitator__end">
        {live && !confirmEnd && (
          <button type="button" class="button button--danger button--small" onClick={() => setConfirmEnd(true)}>
            {t("end")}
          </button>
        )}
        {live && confirmEnd && (
          <div class="board-confirm" role="group" aria-labelledby="board-confirm-end">
            <p id="board-confirm-end">{t("confirmEnd")}</p>
            <button
              type="button"
              class="button button--danger button--small"
              autoFocus
              onClick={() => {
                setConfirmEnd(false);
                void send({ type: "meeting.end" });
              }}
            >
              {t("end")}
            </button>
            <button type="button" class="button button--ghost button--small" onClick={() => setConfirmEnd(false)}>
              {t("cancel")}
            </button>
          </div>
        )}
      </div>
      )}
    </section>
  );
}

function Settings(props: { open: boolean; onToggle: (open: boolean) => void }) {
  const { store, send } = useBoard();
  const meeting = store.meeting.value!;
  const [anonymity, setAnonymity] = useState(meeting.anonymity);
  const [budget, setBudget] = useState(String(meeting.vote_budget));
  const [hide, setHide] = useState(meeting.hide_until_reveal);
  return (
    <details
      class="board-facilitator__settings"
      open={props.open}
      onToggle={(e) => props.onToggle((e.currentTarget as HTMLDetailsElement).open)}
    >
      <summary>{t("settings")}</summary>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const body: Omit<MeetingSettings, "ref"> = {
            type: "meeting.settings",
            anonymity,
            vote_budget: Math.max(0, Math.min(50, Number(budget) || 0)),
            hide_until_reveal: hide,
          };
          void send(body);
        }}
      >
        <div class="board-field">
          <label for="board-anonymity">{t("anonymity")}</label>
          <select
            id="board-anonymity"
            value={anonymity}
            onChange={(e) => setAnonymity(e.currentTarget.value as typeof anonymity)}
          >
            <option value="off">{t("anonymityOff")}</option>
            <option value="optional">{t("anonymityOptional")}</option>
            <option value="always">{t("anonymityAlways")}</option>
          </select>
        </div>
        <div class="board-field">
          <label for="board-budget">{t("voteBudget")}</label>
          <input
            id="board-budget"
            type="number"
            min="0"
            max="50"
            inputMode="numeric"
            value={budget}
            onInput={(e) => setBudget(e.currentTarget.value)}
          />
        </div>
        <div class="board-field">
          <label class="board-check">
            <input type="checkbox" checked={hide} onChange={(e) => setHide(e.currentTarget.checked)} />
            {t("hideUntilReveal")}
          </label>
        </div>
        <button type="submit" class="button button--small">
          {t("save")}
        </button>
      </form>
    </details>
  );
}
