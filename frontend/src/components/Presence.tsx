/* Who is connected now (presence), with the facilitator's mute / remove controls; the
 * facilitator also sees who joined the meeting but is not connected, to remove them too. */
import { useState } from "preact/hooks";
import { useBoard } from "../context";
import { t, type Key } from "../i18n";

const ROLE_KEY: Record<string, Key> = {
  owner: "roleOwner",
  facilitator: "roleFacilitator",
  member: "roleMember",
  guest: "roleGuest",
};

function initials(name: string): string {
  const parts = name.trim().split(/\s+/);
  return ((parts[0]?.[0] ?? "") + (parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? "") : "")).toUpperCase();
}

interface Person {
  id: number;
  name: string;
  role: string;
}

export function Presence() {
  const { store } = useBoard();
  const here = store.presence.value;
  const participants = store.participants.value;
  const me = store.you.value;
  // Mute and remove are refused before the meeting starts and after it ends.
  const facilitator = store.isFacilitator.value && store.meeting.value?.state === "live";
  const hereIds = new Set(here.map((p) => p.id));
  const away = facilitator
    ? participants.filter((p) => !p.removed && !hereIds.has(p.id) && p.id !== me?.participant_id)
    : [];
  return (
    <section class="board-panel board-presence" aria-labelledby="board-presence-title">
      <h2 id="board-presence-title" class="board-panel__title">
        {t("whoIsHere")} <span class="board-panel__count">{here.length}</span>
      </h2>
      {here.length === 0 ? (
        <p class="muted small">{t("nobodyHere")}</p>
      ) : (
        <ul class="board-presence__list">
          {here.map((p) => (
            <PersonRow key={p.id} person={p} facilitator={facilitator} />
          ))}
        </ul>
      )}
      {away.length > 0 && (
        <details class="board-presence__away">
          <summary>{t("notConnected", { count: away.length })}</summary>
          <ul class="board-presence__list">
            {away.map((p) => (
              <PersonRow key={p.id} person={p} facilitator={facilitator} />
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}

function PersonRow({ person: p, facilitator }: { person: Person; facilitator: boolean }) {
  const { store, send } = useBoard();
  const [removing, setRemoving] = useState(false);
  const info = store.participants.value.find((x) => x.id === p.id);
  const muted = info?.muted ?? false;
  const self = store.you.value?.participant_id === p.id;
  const removable = p.role === "member" || p.role === "guest";
  return (
    <li class="board-presence__item" data-participant-id={p.id}>
      <span class={`avatar avatar--sm avatar--tone-${(p.id % 5) + 1}`} aria-hidden="true">
        {initials(p.name)}
      </span>
      <span class="board-presence__name">
        {p.name}
        {self && <span class="muted"> ({t("you")})</span>}
      </span>
      {p.role !== "member" && (
        <span class={`badge badge--${p.role === "guest" ? "member" : p.role}`}>
          {t(ROLE_KEY[p.role] ?? "roleMember")}
        </span>
      )}
      {muted && <span class="badge">{t("muted")}</span>}
      {facilitator && !self && p.role !== "owner" && (
        <details class="board-presence__manage">
          <summary aria-label={`${t("facilitation")}: ${p.name}`}>⋯</summary>
          <div class="board-presence__panel">
            <button
              type="button"
              class="button button--ghost button--small"
              onClick={() => send({ type: "participant.mute", participant_id: p.id, muted: !muted })}
            >
              {muted ? t("unmute") : t("mute")}
            </button>
            {removable &&
              (removing ? (
                <div class="board-confirm" role="group" aria-labelledby={`kick-${p.id}`}>
                  <p id={`kick-${p.id}`}>{t("confirmKick", { name: p.name })}</p>
                  <button
                    type="button"
                    class="button button--danger button--small"
                    autoFocus
                    onClick={() => {
                      setRemoving(false);
                      void send({ type: "participant.remove", participant_id: p.id });
                    }}
                  >
                    {t("kick")}
                  </button>
                  <button type="button" class="button button--ghost button--small" onClick={() => setRemoving(false)}>
                    {t("cancel")}
                  </button>
                </div>
              ) : (
                <button type="button" class="button button--danger button--small" onClick={() => setRemoving(true)}>
                  {t("kick")}
                </button>
              ))}
          </div>
        </details>
      )}
    </li>
  );
}
