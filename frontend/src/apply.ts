/* How one event changes the snapshot: the TypeScript twin of rooms/state.py
 * (`apply_event(snapshot, frame)`), which the server's tests check against real events.
 *
 * Pure and structurally shared: an event returns a new snapshot in which only what changed
 * is a new object, so memoised components (one idea card among 500) re-render only when
 * their own data changed. */
import type {
  ActionWire,
  EventFrame,
  IdeaWire,
  MeetingWire,
  Snapshot,
} from "./types";

type WithId = { id: number };

function upsert<T extends WithId>(list: T[], item: T): T[] {
  const i = list.findIndex((x) => x.id === item.id);
  if (i === -1) return [...list, item];
  const next = list.slice();
  next[i] = item;
  return next;
}

function updateIdea(
  snapshot: Snapshot,
  ideaId: number,
  change: (idea: IdeaWire) => IdeaWire,
): Snapshot {
  const i = snapshot.ideas.findIndex((x) => x.id === ideaId);
  const idea = snapshot.ideas[i];
  if (!idea) return snapshot;
  const ideas = snapshot.ideas.slice();
  ideas[i] = change(idea);
  return { ...snapshot, ideas };
}

function withMeeting(snapshot: Snapshot, meeting: MeetingWire): Snapshot {
  return { ...snapshot, meeting };
}

function byPosition(a: { position: number; id: number }, b: { position: number; id: number }) {
  return a.position - b.position || a.id - b.id;
}

function upsertAction(snapshot: Snapshot, action: ActionWire): Snapshot {
  const inFollowups = snapshot.followups.some((a) => a.id === action.id);
  return {
    ...snapshot,
    // Actions of this meeting; an earlier meeting's action only updates the follow-ups.
    actions:
      action.meeting_id === snapshot.meeting.id
        ? upsert(snapshot.actions, action)
        : snapshot.actions,
    followups: inFollowups ? upsert(snapshot.followups, action) : snapshot.followups,
  };
}

/** Python's sorted() order for strings (by code point), so both sides agree. */
function codepointOrder(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** Returns the snapshot after `frame`; the caller checks the seq order. */
export function applyEvent(snapshot: Snapshot, frame: EventFrame): Snapshot {
  switch (frame.name) {
    case "meeting.started":
    case "meeting.ended":
    case "phase.changed":
    case "timer.changed":
    case "settings.changed":
    case "board.locked":
    case "idea.spotlighted":
      return withMeeting(snapshot, frame.data);

    case "participant.joined":
    case "participant.updated":
      return { ...snapshot, participants: upsert(snapshot.participants, frame.data) };

    case "challenge.posted":
    case "challenge.edited":
    case "challenge.withdrawn":
      return {
        ...snapshot,
        challenges: upsert(snapshot.challenges, frame.data).sort(byPosition),
      };

    case "challenge.reordered": {
      const position = new Map(frame.data.challenge_ids.map((id, i) => [id, i]));
      const challenges = snapshot.challenges
        .map((c) => {
          const p = position.get(c.id);
          return p === undefined || p === c.position ? c : { ...c, position: p };
        })
        .sort(byPosition);
      return { ...snapshot, challenges };
    }

    case "idea.posted":
      return { ...snapshot, ideas: upsert(snapshot.ideas, frame.data) };

    case "idea.edited": {
      // Only what an edit changes: counts and the viewer's own votes stay as they are.
      const { text, edited, author } = frame.data;
      return updateIdea(snapshot, frame.data.id, (idea) => ({ ...idea, text, edited, author }));
    }

    case "idea.deleted": {
      const gone = frame.data.idea_id;
      // Actions built from it lose the link, as the database drops it with the idea.
      const unlink = (list: ActionWire[]): ActionWire[] =>
        list.some((a) => a.idea_ids.includes(gone))
          ? list.map((a) =>
              a.idea_ids.includes(gone) ? { ...a, idea_ids: a.idea_ids.filter((i) => i !== gone) } : a,
            )
          : list;
      return {
        ...snapshot,
        ideas: snapshot.ideas.filter((x) => x.id !== gone),
        actions: unlink(snapshot.actions),
        followups: unlink(snapshot.followups),
      };
    }

    case "idea.removed": {
      const { idea_id, reason } = frame.data;
      if (reason === null || reason === undefined) {
        return { ...snapshot, ideas: snapshot.ideas.filter((x) => x.id !== idea_id) };
      }
      return updateIdea(snapshot, idea_id, (idea) => ({
        ...idea,
        removed: true,
        removed_reason: reason,
      }));
    }

    case "ideas.revealed": {
      const revealed = new Map(frame.data.ideas.map((r) => [r.id, r]));
      let touched = false;
      const ideas = snapshot.ideas.map((idea) => {
        const r = revealed.get(idea.id);
        if (!r) return idea;
        touched = true;
        return { ...idea, text: r.text, author: r.author, hidden: false };
      });
      return touched ? { ...snapshot, ideas } : snapshot;
    }

    case "idea.moved":
      return updateIdea(snapshot, frame.data.idea_id, (idea) => ({
        ...idea,
        cluster_id: frame.data.cluster_id,
      }));

    case "reply.posted": {
      const reply = frame.data;
      return updateIdea(snapshot, reply.idea_id, (idea) => ({
        ...idea,
        replies: upsert(idea.replies, reply),
      }));
    }

    case "vote.cast":
    case "vote.retracted": {
      const { idea_id, votes, mine } = frame.data;
      return updateIdea(snapshot, idea_id, (idea) => ({
        ...idea,
        votes,
        my_vote: mine === null || mine === undefined ? idea.my_vote : mine,
      }));
    }

    case "reaction.toggled": {
      const { idea_id, emoji, count, mine } = frame.data;
      return updateIdea(snapshot, idea_id, (idea) => {
        const reactions = { ...idea.reactions };
        if (count > 0) reactions[emoji] = count;
        else delete reactions[emoji];
        let my_reactions = idea.my_reactions;
        if (mine === true && !my_reactions.includes(emoji)) {
          my_reactions = [...my_reactions, emoji].sort(codepointOrder);
        }
        if (mine === false) my_reactions = my_reactions.filter((e) => e !== emoji);
        return { ...idea, reactions, my_reactions };
      });
    }

    case "cluster.created":
    case "cluster.renamed":
      return { ...snapshot, clusters: upsert(snapshot.clusters, frame.data) };

    case "cluster.deleted": {
      const id = frame.data.cluster_id;
      return {
        ...snapshot,
        clusters: snapshot.clusters.filter((c) => c.id !== id),
        ideas: snapshot.ideas.map((idea) =>
          idea.cluster_id === id ? { ...idea, cluster_id: null } : idea,
        ),
      };
    }

    case "action.posted":
    case "action.updated":
      return upsertAction(snapshot, frame.data);

    case "takeaway.posted":
      return { ...snapshot, takeaways: upsert(snapshot.takeaways, frame.data) };

    default: {
      // A newer server may send events this client does not know: keep the state.
      const unknown: never = frame;
      void unknown;
      return snapshot;
    }
  }
}
