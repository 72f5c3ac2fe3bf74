/* One idea as a note: author, text, votes, reactions, replies, and the facilitator's
 * moderation menu. Memoised: a card re-renders only when its idea object (replaced by the
 * store on each change of that idea) or one of its flags changes. */
import { memo } from "../memo";
import { useState } from "preact/hooks";
import { useBoard } from "../context";
import { t } from "../i18n";
import { EMOJIS, type ClusterWire, type IdeaWire } from "../types";
import { dragIdea } from "../ui";
import { ConfirmInline } from "./ConfirmInline";

export interface IdeaCardProps {
  idea: IdeaWire;
  canVote: boolean;
  /** The vote phase: the vote button shows (elsewhere only the count). */
  voting: boolean;
  facilitator: boolean;
  spotlighted: boolean;
  fresh: boolean;
  clusters: ClusterWire[];
  canReply: boolean;
  /** The viewer may edit and delete it now (its author, or a facilitator). */
  editable: boolean;
  /** A facilitator can drag it onto a theme. */
  draggable: boolean;
}

function authorName(author: IdeaWire["author"], mine: boolean): string {
  const name = author?.name ?? t("anonymous");
  return mine ? `${name} (${t("you")})` : name;
}

export const IdeaCard = memo(function IdeaCard(props: IdeaCardProps) {
  const { idea, canVote, facilitator, spotlighted, fresh } = props;
  const { send } = useBoard();
  const note = `board-idea--note-${(idea.id % 6) + 1}`;
  const classes = [
    "board-idea",
    note,
    idea.kind === "question" ? "board-idea--question" : "",
    spotlighted ? "board-idea--spotlight" : "",
    idea.removed ? "board-idea--removed" : "",
    fresh ? "board-idea--fresh" : "",
  ]
    .filter(Boolean)
    .join(" ");
  const titleId = `idea-${idea.id}-author`;
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);

  if (idea.removed) {
    return (
      <li class={classes} data-idea-id={idea.id}>
        <p class="board-idea__removed">
          {idea.removed_reason ? t("removedReason", { reason: idea.removed_reason }) : t("removed")}
        </p>
        {idea.text && <p class="board-idea__text board-text">{idea.text}</p>}
      </li>
    );
  }

  const hidden = idea.hidden && !idea.text;
  const dragProps = props.draggable
    ? {
        draggable: true,
        onDragStart: (e: DragEvent) => {
          e.dataTransfer?.setData("text/plain", String(idea.id));
          if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
          dragIdea.value = idea.id;
        },
        onDragEnd: () => {
          dragIdea.value = null;
        },
      }
    : {};
  return (
    <li
      class={`${classes}${props.draggable ? " board-idea--draggable" : ""}`}
      data-idea-id={idea.id}
      aria-labelledby={titleId}
      {...dragProps}
    >
      <article class="board-idea__body">
        <header class="board-idea__head">
          <span id={titleId} class="board-idea__author">
            {authorName(idea.author, idea.mine)}
          </span>
          {idea.kind === "question" && <span class="badge board-idea__kind">{t("question")}</span>}
          {spotlighted && <span class="badge badge--format">{t("spotlighted")}</span>}
          {idea.edited && <span class="board-idea__edited">{t("edited")}</span>}
        </header>
        {hidden ? (
          <p class="board-idea__hidden">{t("hiddenIdea")}</p>
        ) : editing ? (
          <EditIdea idea={idea} onDone={() => setEditing(false)} />
        ) : (
          <p class="board-idea__text board-text">{idea.text}</p>
        )}
        {idea.hidden && idea.mine && idea.text && (
          <p class="board-idea__hidden">{t("hiddenYours")}</p>
        )}
        {props.editable && !editing && (
          <div class="board-idea__own">
            {!hidden && (
              <button type="button" class="link-button" onClick={() => setEditing(true)}>
                {t("editIdea")}
              </button>
            )}
            {deleting ? (
              <ConfirmInline
                label={t("confirmDelete")}
                confirm={t("confirmDelete")}
                onConfirm={() => {
                  setDeleting(false);
                  void send({ type: "idea.delete", idea_id: idea.id });
                }}
                onCancel={() => setDeleting(false)}
              />
            ) : (
              <button type="button" class="link-button" onClick={() => setDeleting(true)}>
                {t("deleteIdea")}
              </button>
            )}
          </div>
        )}
        <div class="board-idea__bar">
          {props.voting ? (
          <button
            type="button"
            class={`board-vote${idea.my_vote ? " is-on" : ""}`}
            aria-pressed={idea.my_vote}
            aria-label={t(idea.my_vote ? "unvoteFor" : "voteFor", { count: idea.votes })}
            disabled={!idea.my_vote && !canVote}
            data-votes={idea.votes}
            onClick={() =>
              send({ type: idea.my_vote ? "vote.retract" : "vote.cast", idea_id: idea.id })
            }
          >
            <span aria-hidden="true" class="board-vote__dot" />
            <span aria-hidden="true" class="board-vote__count">
              {idea.votes}
            </span>
          </button>
          ) : (
            idea.votes > 0 && (
              <span class="board-vote board-vote--count" data-votes={idea.votes}>
                {t("votes", { count: idea.votes })}
              </span>
            )
          )}
          <Reactions idea={idea} />
        </div>
        <Replies idea={idea} canReply={props.canReply} />
        {facilitator && <Moderation idea={idea} spotlighted={spotlighted} clusters={props.clusters} />}
      </article>
    </li>
  );
});

function EditIdea({ idea, onDone }: { idea: IdeaWire; onDone: () => void }) {
  const { send } = useBoard();
  const [text, setText] = useState(idea.text);
  const id = `edit-${idea.id}`;
  const save = (e: Event) => {
    e.preventDefault();
    const value = text.trim();
    if (!value) return;
    if (value === idea.text) {
      onDone();
      return;
    }
    void send({ type: "idea.edit", idea_id: idea.id, text: value }).then((ack) => {
      if (ack) onDone();
    });
  };
  return (
    <form class="board-idea__edit" onSubmit={save}>
      <label for={id} class="visually-hidden">
        {t("editIdea")}
      </label>
      <textarea
        id={id}
        rows={3}
        maxLength={2000}
        value={text}
        autoFocus
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") onDone();
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) save(e);
        }}
      />
      <span class="board-facilitator__row">
        <button type="submit" class="button button--small" disabled={!text.trim()}>
          {t("save")}
        </button>
        <button type="button" class="button button--ghost button--small" onClick={onDone}>
          {t("cancel")}
        </button>
      </span>
    </form>
  );
}

function Reactions({ idea }: { idea: IdeaWire }) {
  const { send } = useBoard();
  const [open, setOpen] = useState(false);
  const shown = EMOJIS.filter((e) => (idea.reactions[e] ?? 0) > 0 || idea.my_reactions.includes(e));
  const toggle = (emoji: (typeof EMOJIS)[number]) =>
    send({ type: "reaction.toggle", idea_id: idea.id, emoji });
  return (
    <div class="board-reactions">
      {(open ? EMOJIS : shown).map((emoji) => {
        const count = idea.reactions[emoji] ?? 0;
        const mine = idea.my_reactions.includes(emoji);
        return (
          <button
            key={emoji}
            type="button"
            class={`board-reaction${mine ? " is-on" : ""}`}
            aria-pressed={mine}
            aria-label={t("react", { emoji, count })}
            data-emoji={emoji}
            data-count={count}
            onClick={() => {
              toggle(emoji);
              setOpen(false);
            }}
          >
            <span aria-hidden="true">{emoji}</span>
            {count > 0 && (
              <span aria-hidden="true" class="board-reaction__count">
                {count}
              </span>
            )}
          </button>
        );
      })}
      <button
        type="button"
        class="board-reaction board-reaction--more"
        aria-expanded={open}
        aria-label={open ? t("cancel") : t("addReaction")}
        onClick={() => setOpen(!open)}
      >
        <span aria-hidden="true">{open ? "×" : "☺+"}</span>
      </button>
    </div>
  );
}

function Replies({ idea, canReply }: { idea: IdeaWire; canReply: boolean }) {
  const { send } = useBoard();
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  const inputId = `reply-${idea.id}`;
  const submit = (e: Event) => {
    e.preventDefault();
    const value = text.trim();
    if (!value) return;
    setText("");
    setOpen(false);
    void send({ type: "reply.post", idea_id: idea.id, text: value }).then((ack) => {
      if (!ack) setText(value);
    });
  };
  return (
    <div class="board-replies">
      {idea.replies.length > 0 && (
        <ul class="board-replies__list" aria-label={t("replies")}>
          {idea.replies.map((r) => (
            <li key={r.id} class="board-reply" data-reply-id={r.id}>
              <span class="board-reply__author">{authorName(r.author, r.mine)}</span>{" "}
              <span class="board-text">{r.text}</span>
            </li>
          ))}
        </ul>
      )}
      {canReply &&
        (open ? (
          <form class="board-replies__form" onSubmit={submit}>
            <label for={inputId} class="visually-hidden">
              {t("reply")}
            </label>
            <input
              id={inputId}
              type="text"
              maxLength={1000}
              value={text}
              placeholder={t("replyPlaceholder")}
              autoFocus
              onInput={(e) => setText(e.currentTarget.value)}
              onKeyDown={(e) => {
                if (e.key === "Escape") setOpen(false);
              }}
            />
            <button type="submit" class="button--small">
              {t("replySend")}
            </button>
          </form>
        ) : (
          <button
            type="button"
            class="link-button board-replies__open"
            aria-expanded="false"
            onClick={() => setOpen(true)}
          >
            {t("reply")}
          </button>
        ))}
    </div>
  );
}

function Moderation(props: { idea: IdeaWire; spotlighted: boolean; clusters: ClusterWire[] }) {
  const { idea, spotlighted, clusters } = props;
  const { send } = useBoard();
  const [reason, setReason] = useState("");
  const reasonId = `remove-${idea.id}`;
  const moveId = `move-${idea.id}`;
  return (
    <details class="board-idea__mod">
      <summary>{t("facilitation")}</summary>
      <div class="board-idea__mod-panel">
        <button
          type="button"
          class="button button--ghost button--small"
          onClick={() => send({ type: "idea.spotlight", idea_id: spotlighted ? null : idea.id })}
        >
          {spotlighted ? t("unspotlight") : t("spotlight")}
        </button>
        {clusters.length > 0 && (
          <div class="board-field">
            <label for={moveId}>{t("moveTo")}</label>
            <select
              id={moveId}
              value={idea.cluster_id ?? ""}
              onChange={(e) => {
                const v = e.currentTarget.value;
                void send({ type: "idea.move", idea_id: idea.id, cluster_id: v ? Number(v) : null });
              }}
            >
              <option value="">{t("noCluster")}</option>
              {clusters.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </div>
        )}
        <form
          class="board-idea__remove"
          onSubmit={(e) => {
            e.preventDefault();
            void send({ type: "idea.remove", idea_id: idea.id, reason: reason.trim() });
          }}
        >
          <label for={reasonId}>{t("removeReason")}</label>
          <input
            id={reasonId}
            type="text"
            maxLength={300}
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
          <button type="submit" class="button button--danger button--small">
            {t("confirmRemove")}
          </button>
        </form>
      </div>
    </details>
  );
}
