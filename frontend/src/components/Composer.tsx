/* The composer at the bottom of the board (sticky, within thumb reach on a phone): ideas
 * and questions, or takeaways at the end of the meeting. A post made while offline is
 * queued by the socket and sent once the connection is back. */
import { useRef, useState } from "preact/hooks";
import { useBoard } from "../context";
import { can } from "../phases";
import { ConnectionStatus } from "./Header";
import { t } from "../i18n";
import type { Key } from "../i18n";

type Kind = "idea" | "question";

export function Composer() {
  const { store, send, socket } = useBoard();
  const meeting = store.meeting.value;
  const you = store.you.value;
  const challenge = store.currentChallenge.value;
  const [text, setText] = useState("");
  const [chosenKind, setKind] = useState<Kind | null>(null);
  const [anonymous, setAnonymous] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  if (!meeting || !you) return null;

  const takeaway = can(meeting, "takeaway");
  const kinds = (["idea", "question"] as const).filter((k) => can(meeting, k));
  const kind: Kind = chosenKind && kinds.includes(chosenKind) ? chosenKind : (kinds[0] ?? "idea");
  const onlyKind = kinds.length < 2;

  let blocked: Key | null = null;
  if (meeting.state === "scheduled") blocked = "notLive";
  else if (meeting.state === "ended") blocked = "meetingEnded";
  else if (meeting.locked && !you.facilitator) blocked = "locked";
  else if (you.muted) blocked = "mutedYou";
  else if (!takeaway && kinds.length === 0) blocked = "notNow";

  const disabled = blocked !== null || socket.status.value === "closed" || (!takeaway && !challenge);
  const label: Key = takeaway ? "composerTakeaway" : kind === "question" ? "composerQuestion" : "composerIdea";
  const placeholder: Key = takeaway
    ? "placeholderTakeaway"
    : kind === "question"
      ? "placeholderQuestion"
      : "placeholderIdea";

  const submit = (e?: Event) => {
    e?.preventDefault();
    const value = text.trim();
    if (!value || disabled) return;
    setText("");
    const anon = meeting.anonymity === "optional" ? anonymous : false;
    const sent = takeaway
      ? send({ type: "takeaway.post", text: value, anonymous: anon })
      : send({ type: "idea.post", challenge_id: challenge!.id, kind, text: value, anonymous: anon });
    void sent.then((ack) => {
      // Refused (e.g. wrong phase): give the text back rather than lose it.
      if (!ack && area.current && !area.current.value) setText(value);
    });
    area.current?.focus();
  };

  return (
    <form class="board-composer" onSubmit={submit} aria-label={t(label)}>
      {blocked && <p class="board-composer__blocked">{t(blocked)}</p>}
      {!takeaway && !onlyKind && !blocked && (
        <fieldset class="board-composer__kinds">
          <legend class="visually-hidden">{t("kind")}</legend>
          {(["idea", "question"] as const).map((k) => (
            <label key={k} class="board-chip">
              <input
                type="radio"
                name="board-kind"
                value={k}
                checked={kind === k}
                onChange={() => setKind(k)}
              />
              {t(k)}
            </label>
          ))}
        </fieldset>
      )}
      <div class="board-composer__row">
        <label for="board-composer-text" class="visually-hidden">
          {t(label)}
        </label>
        <textarea
          id="board-composer-text"
          ref={area}
          rows={2}
          maxLength={takeaway ? 1000 : 2000}
          placeholder={t(placeholder)}
          value={text}
          disabled={disabled}
          aria-describedby="board-composer-hint"
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submit(e);
          }}
        />
        <button type="submit" class="board-composer__send" disabled={disabled || !text.trim()}>
          {t("post")}
        </button>
      </div>
      <div class="board-composer__foot">
        <span class="board-composer__status">
          <ConnectionStatus />
        </span>
        <span id="board-composer-hint" class="board-composer__hint">
          {t("sendHint")}
        </span>
        {meeting.anonymity === "optional" && !blocked && (
          <label class="board-composer__anon">
            <input
              type="checkbox"
              checked={anonymous}
              onChange={(e) => setAnonymous(e.currentTarget.checked)}
            />
            {t("postAnonymously")}
          </label>
        )}
        {meeting.anonymity === "always" && <span class="board-composer__hint">{t("alwaysAnonymous")}</span>}
      </div>
    </form>
  );
}
