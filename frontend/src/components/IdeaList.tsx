/* The ideas of the challenge on screen, grouped by theme when the facilitator made some.
 *
 * New ideas are appended (or shown in place) and fade in; nothing already on screen moves
 * unless the user picks the "most votes" order. Keys are idea ids and cards are memoised,
 * so a meeting with 500 ideas re-renders one card per change. */
import { useComputed } from "@preact/signals";
import { useMemo, useRef, useState } from "preact/hooks";
import { useBoard } from "../context";
import { t } from "../i18n";
import type { ClusterWire, IdeaPost, IdeaWire } from "../types";
import { can } from "../phases";
import { IdeaCard } from "./IdeaCard";

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
          g.ideas.length === 0 && g.cluster === null ? null : (
            <section key={g.cluster?.id ?? "none"} class="board-theme">
              <h3 class="board-theme__title">{g.cluster?.name ?? t("unclustered")}</h3>
              <ul class="board-grid">{g.ideas.map(card)}</ul>
            </section>
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
