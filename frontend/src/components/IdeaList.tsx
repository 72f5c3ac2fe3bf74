/* The ideas of the challenge on screen, grouped by theme when the facilitator made some.
 *
 * New ideas are appended (or shown in place) and fade in; nothing already on screen moves
 * unless the user picks the "most votes" order. Keys are idea ids and cards are memoised,
 * so a meeting with 500 ideas re-renders one card per change. */
import { useComputed } from "@preact/signals";
import type { ComponentChildren } from "preact";
import { useMemo, useRef, useState } from "preact/hooks";
import { useBoard } from "../context";
import { t } from "../i18n";
import type { ClusterWire, IdeaPost, IdeaWire } from "../types";
import { can } from "../phases";
import { dragIdea } from "../ui";
import { IdeaCard } from "./IdeaCard";
import { ConfirmInline } from "./ConfirmInline";

type Order = "posted" | "votes";

export function IdeaList() {
  const { store, socket } = useBoard();
  const [order, setOrder] = useState<Order>("posted");
  const ideas = store.currentIdeas.value;
  const challenge = store.currentChallenge.value;
  const meeting = store.meeting.value;
  const facilitator = store.isFacilitator.value;
  const voting = can(meeting, "vote");
  const canVote = voting && store.votesLeft.value > 0;
  const canReply = can(meeting, "reply");
  const canEditOwn = can(meeting, "editOwn") && (facilitator || !meeting?.locked);
  const live = meeting?.state === "live";
  const spotlight = meeting?.spotlight_idea_id ?? null;

  // Ideas present when the board first showed are not "fresh" (no fade-in for them).
  const known = useRef<Set<number> | null>(null);
  if (known.current === null && store.snapshot.peek()) {
    known.current = new Set(store.snapshot.peek()!.ideas.map((i) => i.id));
  }

  const clusters = useComputed(() =>
    store.clusters.value
      .filter((c) => c.challenge_id === store.currentChallenge.value?.id)
      .slice()
      .sort((a, b) => a.position - b.position),
  ).value;

  const sorted = useMemo(() => {
    if (order === "posted") return ideas;
    return ideas.slice().sort((a, b) => b.votes - a.votes || a.id - b.id);
  }, [ideas, order]);

  // While live the post is acked within a blink; the ghost only helps when it has to wait.
  const waiting = socket.status.value !== "live";
  const pending = (waiting ? socket.queue.value : [])
    .map((p) => p.frame)
    .filter((f): f is IdeaPost => f.type === "idea.post" && f.challenge_id === challenge?.id);

  if (!challenge) return null;

  const card = (idea: IdeaWire) => (
    <IdeaCard
      key={idea.id}
      idea={idea}
      canVote={canVote}
      voting={voting}
      facilitator={facilitator}
      spotlighted={spotlight === idea.id}
      fresh={!known.current?.has(idea.id)}
      clusters={clusters}
      canReply={canReply}
      editable={canEditOwn && (idea.mine || facilitator) && !idea.removed}
      draggable={facilitator && live && clusters.length > 0 && !idea.removed}
    />
  );

  const groups: { cluster: ClusterWire | null; ideas: IdeaWire[] }[] = [];
  if (clusters.length > 0) {
    for (const c of clusters) groups.push({ cluster: c, ideas: sorted.filter((i) => i.cluster_id === c.id) });
    const ids = new Set(clusters.map((c) => c.id));
    groups.push({ cluster: null, ideas: sorted.filter((i) => i.cluster_id === null || !ids.has(i.cluster_id)) });
  }

  return (
    <section class="board-ideas" aria-labelledby="board-ideas-title">
      <div class="board-ideas__head">
        <h2 id="board-ideas-title" class="board-ideas__title">
          {t("ideas")} <span class="board-ideas__count">{ideas.length}</span>
        </h2>
        <VotesLeft />
        {ideas.length > 1 && (
          <div class="board-ideas__order" role="group" aria-label={t("sortOrder")}>
            {(["posted", "votes"] as const).map((o) => (
              <button
                key={o}
                type="button"
                class="button button--ghost button--small"
                aria-pressed={order === o}
                onClick={() => setOrder(o)}
              >
                {t(o === "posted" ? "sortPosted" : "sortVotes")}
              </button>
            ))}
          </div>
        )}
      </div>
      {ideas.length === 0 && pending.length === 0 && <p class="board-empty">{t("noIdeas")}</p>}
      {clusters.length === 0 ? (
        <ul class="board-grid" aria-label={t("ideas")}>
          {sorted.map(card)}
        </ul>
      ) : (
        groups.map((g) =>
          g.ideas.length === 0 && g.cluster === null && !(facilitator && live) ? null : (
            <Theme
              key={g.cluster?.id ?? "none"}
              cluster={g.cluster}
              ideas={g.ideas}
              manage={facilitator && live}
            >
              {g.ideas.map(card)}
            </Theme>
          ),
        )
      )}
      {pending.length > 0 && (
        <ul class="board-grid board-grid--pending" aria-label={t("queuedPost")}>
          {pending.map((f) => (
            <li key={f.ref} class="board-idea board-idea--pending" data-pending-ref={f.ref}>
              <p class="board-idea__text board-text">{f.text}</p>
              <p class="board-idea__waiting">{t("queuedPost")}</p>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** A theme (or the "other ideas" bucket): a drop target for a dragged card, with the
 * facilitator's rename and delete. */
function Theme(props: {
  cluster: ClusterWire | null;
  ideas: IdeaWire[];
  manage: boolean;
  children: ComponentChildren;
}) {
  const { cluster, ideas, manage } = props;
  const { send } = useBoard();
  const [over, setOver] = useState(false);
  const [renaming, setRenaming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [name, setName] = useState(cluster?.name ?? "");
  const dragging = dragIdea.value;
  const target = cluster?.id ?? null;
  const accepts = manage && dragging !== null && !ideas.some((i) => i.id === dragging);
  const title = cluster?.name ?? t("unclustered");
  const titleId = `board-theme-${cluster?.id ?? "none"}`;

  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const raw = e.dataTransfer?.getData("text/plain");
    const id = raw ? Number(raw) : dragIdea.value;
    dragIdea.value = null;
    if (!id || ideas.some((i) => i.id === id)) return;
    void send({ type: "idea.move", idea_id: id, cluster_id: target });
  };

  return (
    <section
      class={`board-theme${accepts ? " board-theme--target" : ""}${over && accepts ? " board-theme--over" : ""}`}
      aria-labelledby={titleId}
      data-cluster-id={cluster?.id ?? "none"}
      onDragOver={(e) => {
        if (!manage || dragIdea.value === null) return;
        e.preventDefault();
        if (e.dataTransfer) e.dataTransfer.dropEffect = "move";
        if (!over) setOver(true);
      }}
      onDragLeave={(e) => {
        const next = e.relatedTarget as Node | null;
        if (!next || !(e.currentTarget as Node).contains(next)) setOver(false);
      }}
      onDrop={drop}
    >
      <div class="board-theme__head">
        {renaming && cluster ? (
          <form
            class="board-field board-field--inline"
            onSubmit={(e) => {
              e.preventDefault();
              const value = name.trim();
              if (!value) return;
              setRenaming(false);
              if (value !== cluster.name) void send({ type: "cluster.rename", cluster_id: cluster.id, name: value });
            }}
          >
            <label for={`${titleId}-name`} class="visually-hidden">
              {t("themeName")}
            </label>
            <input
              id={`${titleId}-name`}
              type="text"
              maxLength={80}
              value={name}
              autoFocus
              onInput={(e) => setName(e.currentTarget.value)}
              onKeyDown={(e) => {
                if (e.key === "Escape") setRenaming(false);
              }}
            />
            <button type="submit" class="button button--small">
              {t("save")}
            </button>
            <button type="button" class="button button--ghost button--small" onClick={() => setRenaming(false)}>
              {t("cancel")}
            </button>
          </form>
        ) : (
          <h3 id={titleId} class="board-theme__title">
            {title} <span class="board-ideas__count">{ideas.length}</span>
          </h3>
        )}
        {manage && cluster && !renaming && (
          <span class="board-theme__tools">
            <button
              type="button"
              class="link-button"
              aria-label={t("renameTheme", { name: cluster.name })}
              onClick={() => {
                setName(cluster.name);
                setRenaming(true);
              }}
            >
              {t("rename")}
            </button>
            {deleting ? (
              <ConfirmInline
                label={t("deleteTheme", { name: cluster.name })}
                confirm={t("confirmDeleteTheme")}
                onConfirm={() => {
                  setDeleting(false);
                  void send({ type: "cluster.delete", cluster_id: cluster.id });
                }}
                onCancel={() => setDeleting(false)}
              />
            ) : (
              <button
                type="button"
                class="link-button"
                aria-label={t("deleteTheme", { name: cluster.name })}
                onClick={() => setDeleting(true)}
              >
                {t("delete")}
              </button>
            )}
          </span>
        )}
      </div>
      {ideas.length === 0 && manage && <p class="board-theme__empty muted small">{t("dropHere")}</p>}
      <ul class="board-grid">{props.children}</ul>
    </section>
  );
}

export function VotesLeft() {
  const { store } = useBoard();
  const meeting = store.meeting.value;
  if (!meeting || meeting.vote_budget <= 0) return null;
  return (
    <p class="board-votes-left" data-votes-left={store.votesLeft.value}>
      <span class="board-votes-left__dots" aria-hidden="true">
        {Array.from({ length: Math.min(meeting.vote_budget, 12) }, (_, i) => (
          <span key={i} class={i < store.votesLeft.value ? "is-left" : ""} />
        ))}
      </span>
      {t("votesLeft", { count: store.votesLeft.value, budget: meeting.vote_budget })}
    </p>
  );
}
