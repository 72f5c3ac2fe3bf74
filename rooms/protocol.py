"""The live protocol: every frame a client may send and every frame the server sends.

These pydantic models are the contract (DESIGN.md section 4). ``extra="forbid"`` makes an
undeclared field an error where the frame is built or parsed; every text field has a
maximum length. ``python manage.py protocol_schema`` writes the JSON Schema to
``docs/protocol.schema.json``, from which the TypeScript client's types are generated;
a test fails when the committed schema and this module drift.
"""

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from rooms.limits import (
    ACTION_MAX,
    CHALLENGE_ASK_MAX,
    CHALLENGE_CONTEXT_MAX,
    CHALLENGE_TITLE_MAX,
    CLUSTER_NAME_MAX,
    DISPLAY_NAME_MAX,
    EMOJIS,
    IDEA_MAX,
    REASON_MAX,
    REF_MAX,
    REPLY_MAX,
    TAKEAWAY_MAX,
)

PROTOCOL_VERSION = 1


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_characters(value: str) -> str:
    # NUL and other control characters have no place in a post (PostgreSQL refuses NUL).
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


def _text(max_length: int, min_length: int = 1):
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_no_control_characters),
    ]


Ref = Annotated[
    str, StringConstraints(min_length=1, max_length=REF_MAX, pattern=r"^[A-Za-z0-9_.:-]+$")
]
Id = Annotated[int, Field(ge=1, le=2**53)]
Emoji = Literal[EMOJIS]  # type: ignore[valid-type]
Seconds = Annotated[int, Field(ge=1, le=4 * 3600)]

ErrorCode = Literal[
    "invalid", "forbidden", "wrong_phase", "rate_limited", "too_large", "not_found", "conflict"
]
MeetingFormatName = Literal["open", "hot-seat"]
MeetingStateName = Literal["scheduled", "live", "ended"]
AnonymityName = Literal["off", "optional", "always"]
PhaseName = Literal[
    "lobby", "ideas", "vote", "wrapup", "present", "clarify", "ask", "plan", "takeaways"
]
RoleName = Literal["owner", "facilitator", "member", "guest"]
ActionStatusName = Literal["open", "in_progress", "done", "dropped"]


class Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


# --------------------------------------------------------------------------- client → server


class Command(Frame):
    # Strict: "yes" is not a boolean and "5" is not an id.
    model_config = ConfigDict(extra="forbid", strict=True)

    ref: Ref = Field(
        description="Client-made id; a retry with the same ref is answered, not redone."
    )


class Sync(Frame):
    """Ask for a fresh snapshot (the client saw a gap)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["sync"]


class ChallengePost(Command):
    type: Literal["challenge.post"]
    title: _text(CHALLENGE_TITLE_MAX)
    context: _text(CHALLENGE_CONTEXT_MAX, 0) = ""
    ask: _text(CHALLENGE_ASK_MAX, 0) = ""


class ChallengeEdit(Command):
    type: Literal["challenge.edit"]
    challenge_id: Id
    title: _text(CHALLENGE_TITLE_MAX) | None = None
    context: _text(CHALLENGE_CONTEXT_MAX, 0) | None = None
    ask: _text(CHALLENGE_ASK_MAX, 0) | None = None


class ChallengeWithdraw(Command):
    type: Literal["challenge.withdraw"]
    challenge_id: Id


class ChallengeReorder(Command):
    type: Literal["challenge.reorder"]
    challenge_ids: Annotated[list[Id], Field(min_length=1, max_length=200)]


class IdeaPost(Command):
    type: Literal["idea.post"]
    challenge_id: Id
    kind: Literal["idea", "question"] = "idea"
    text: _text(IDEA_MAX)
    anonymous: bool = False


class IdeaEdit(Command):
    type: Literal["idea.edit"]
    idea_id: Id
    text: _text(IDEA_MAX)


class IdeaDelete(Command):
    type: Literal["idea.delete"]
    idea_id: Id


class ReplyPost(Command):
    type: Literal["reply.post"]
    idea_id: Id
    text: _text(REPLY_MAX)
    anonymous: bool = False


class VoteCast(Command):
    type: Literal["vote.cast"]
    idea_id: Id


class VoteRetract(Command):
    type: Literal["vote.retract"]
    idea_id: Id


class ReactionToggle(Command):
    type: Literal["reaction.toggle"]
    idea_id: Id
    emoji: Emoji


class MeetingStart(Command):
    type: Literal["meeting.start"]


class MeetingEnd(Command):
    type: Literal["meeting.end"]


class PhaseSet(Command):
    type: Literal["phase.set"]
    phase: PhaseName
    challenge_id: Id | None = None


class PhaseNext(Command):
    type: Literal["phase.next"]


class PhasePrev(Command):
    type: Literal["phase.prev"]


class TimerStart(Command):
    type: Literal["timer.start"]
    seconds: Seconds


class TimerPause(Command):
    type: Literal["timer.pause"]


class TimerResume(Command):
    type: Literal["timer.resume"]


class TimerAdd(Command):
    type: Literal["timer.add"]
    seconds: Seconds


class TimerClear(Command):
    type: Literal["timer.clear"]


class IdeasReveal(Command):
    type: Literal["ideas.reveal"]
    challenge_id: Id


class BoardLock(Command):
    type: Literal["board.lock"]
    locked: bool


class IdeaRemove(Command):
    type: Literal["idea.remove"]
    idea_id: Id
    reason: _text(REASON_MAX, 0) = ""


class IdeaSpotlight(Command):
    type: Literal["idea.spotlight"]
    idea_id: Id | None = None


class ParticipantMute(Command):
    type: Literal["participant.mute"]
    participant_id: Id
    muted: bool


class ParticipantRemove(Command):
    type: Literal["participant.remove"]
    participant_id: Id


class MeetingSettings(Command):
    type: Literal["meeting.settings"]
    anonymity: AnonymityName | None = None
    vote_budget: Annotated[int, Field(ge=0, le=50)] | None = None
    hide_until_reveal: bool | None = None


class ClusterCreate(Command):
    type: Literal["cluster.create"]
    challenge_id: Id
    name: _text(CLUSTER_NAME_MAX)


class ClusterRename(Command):
    type: Literal["cluster.rename"]
    cluster_id: Id
    name: _text(CLUSTER_NAME_MAX)


class ClusterDelete(Command):
    type: Literal["cluster.delete"]
    cluster_id: Id


class IdeaMove(Command):
    type: Literal["idea.move"]
    idea_id: Id
    cluster_id: Id | None = None


class ActionPost(Command):
    type: Literal["action.post"]
    challenge_id: Id
    text: _text(ACTION_MAX)
    due_date: Annotated[date | None, Field(strict=False)] = None
    idea_ids: Annotated[list[Id], Field(max_length=50)] = []


class ActionStatusSet(Command):
    type: Literal["action.status"]
    action_id: Id
    status: ActionStatusName
    note: _text(REASON_MAX, 0) = ""


class TakeawayPost(Command):
    type: Literal["takeaway.post"]
    text: _text(TAKEAWAY_MAX)
    anonymous: bool = False


COMMANDS: tuple[type[Command], ...] = (
    ChallengePost,
    ChallengeEdit,
    ChallengeWithdraw,
    ChallengeReorder,
    IdeaPost,
    IdeaEdit,
    IdeaDelete,
    ReplyPost,
    VoteCast,
    VoteRetract,
    ReactionToggle,
    MeetingStart,
    MeetingEnd,
    PhaseSet,
    PhaseNext,
    PhasePrev,
    TimerStart,
    TimerPause,
    TimerResume,
    TimerAdd,
    TimerClear,
    IdeasReveal,
    BoardLock,
    IdeaRemove,
    IdeaSpotlight,
    ParticipantMute,
    ParticipantRemove,
    MeetingSettings,
    ClusterCreate,
    ClusterRename,
    ClusterDelete,
    IdeaMove,
    ActionPost,
    ActionStatusSet,
    TakeawayPost,
)
COMMAND_TYPES: dict[str, type[Command]] = {
    c.model_fields["type"].annotation.__args__[0]: c
    for c in COMMANDS  # type: ignore[union-attr]
}

ClientFrame = Annotated[Union[Sync, *COMMANDS], Field(discriminator="type")]  # type: ignore[valid-type]
client_frame_adapter: TypeAdapter = TypeAdapter(ClientFrame)


# --------------------------------------------------------------------------- wire objects


class Author(Frame):
    id: int
    name: _text(DISPLAY_NAME_MAX)


class TimerWire(Frame):
    """Running: ``ends_at`` is set. Paused: only ``remaining_ms`` is set. Off: both null."""

    ends_at: datetime | None = None
    remaining_ms: int | None = None


class MeetingWire(Frame):
    id: int
    room_id: int
    title: str
    format: MeetingFormatName
    state: MeetingStateName
    phase: PhaseName
    phases: list[PhaseName]
    active_challenge_id: int | None = None
    anonymity: AnonymityName
    vote_budget: int
    hide_until_reveal: bool
    locked: bool
    spotlight_idea_id: int | None = None
    timer: TimerWire
    scheduled_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None


class ParticipantWire(Frame):
    id: int
    name: str
    role: RoleName
    muted: bool = False
    removed: bool = False


class ChallengeWire(Frame):
    id: int
    title: str
    context: str
    ask: str
    owner: Author
    position: int
    status: Literal["active", "withdrawn"]


class ReplyWire(Frame):
    id: int
    idea_id: int
    text: str
    author: Author | None = Field(description="null when anonymous (to everyone but the author)")
    mine: bool = False
    at: datetime


class IdeaWire(Frame):
    id: int
    challenge_id: int
    kind: Literal["idea", "question"]
    text: str = Field(description="empty while hidden until reveal (except for its author)")
    author: Author | None
    anonymous: bool
    mine: bool = False
    hidden: bool = False
    removed: bool = False
    removed_reason: str | None = None
    cluster_id: int | None = None
    votes: int = 0
    my_vote: bool = False
    reactions: dict[str, int] = {}
    my_reactions: list[str] = []
    replies: list[ReplyWire] = []
    at: datetime
    edited: bool = False


class ClusterWire(Frame):
    id: int
    challenge_id: int
    name: str
    position: int


class ActionWire(Frame):
    id: int
    challenge_id: int
    owner: Author
    text: str
    due_date: Annotated[date | None, Field(strict=False)] = None
    idea_ids: list[int] = []
    status: ActionStatusName
    status_note: str = ""
    meeting_id: int = Field(description="the meeting the action was decided in")


class TakeawayWire(Frame):
    id: int
    text: str
    author: Author | None
    mine: bool = False
    at: datetime


class Snapshot(Frame):
    meeting: MeetingWire
    participants: list[ParticipantWire]
    challenges: list[ChallengeWire]
    ideas: list[IdeaWire]
    clusters: list[ClusterWire]
    actions: list[ActionWire]
    followups: list[ActionWire] = Field(
        default=[], description="open actions of the room's earlier meetings"
    )
    takeaways: list[TakeawayWire]


class You(Frame):
    participant_id: int
    name: str
    role: RoleName
    facilitator: bool
    muted: bool = False


# --------------------------------------------------------------------------- event payloads


class ChallengeOrder(Frame):
    challenge_ids: list[int]


class IdeaRef(Frame):
    idea_id: int


class IdeaRemoved(Frame):
    idea_id: int
    reason: str | None = Field(default=None, description="only to its author and facilitators")


class RevealedIdea(Frame):
    id: int
    text: str
    author: Author | None


class IdeasRevealed(Frame):
    challenge_id: int
    ideas: list[RevealedIdea]


class IdeaMoved(Frame):
    idea_id: int
    cluster_id: int | None


class VoteChanged(Frame):
    idea_id: int
    votes: int
    mine: bool | None = Field(default=None, description="only to the voter")


class ReactionChanged(Frame):
    idea_id: int
    emoji: Emoji
    count: int
    mine: bool | None = Field(default=None, description="only to who reacted")


class ClusterRef(Frame):
    cluster_id: int


EVENT_DATA: dict[str, type[Frame]] = {
    "meeting.started": MeetingWire,
    "meeting.ended": MeetingWire,
    "phase.changed": MeetingWire,
    "timer.changed": MeetingWire,
    "settings.changed": MeetingWire,
    "board.locked": MeetingWire,
    "idea.spotlighted": MeetingWire,
    "participant.joined": ParticipantWire,
    "participant.updated": ParticipantWire,
    "challenge.posted": ChallengeWire,
    "challenge.edited": ChallengeWire,
    "challenge.withdrawn": ChallengeWire,
    "challenge.reordered": ChallengeOrder,
    "idea.posted": IdeaWire,
    "idea.edited": IdeaWire,
    "idea.deleted": IdeaRef,
    "idea.removed": IdeaRemoved,
    "ideas.revealed": IdeasRevealed,
    "idea.moved": IdeaMoved,
    "reply.posted": ReplyWire,
    "vote.cast": VoteChanged,
    "vote.retracted": VoteChanged,
    "reaction.toggled": ReactionChanged,
    "cluster.created": ClusterWire,
    "cluster.renamed": ClusterWire,
    "cluster.deleted": ClusterRef,
    "action.posted": ActionWire,
    "action.updated": ActionWire,
    "takeaway.posted": TakeawayWire,
}
EventName = Literal[tuple(EVENT_DATA)]  # type: ignore[valid-type]


# --------------------------------------------------------------------------- server → client


class Welcome(Frame):
    type: Literal["welcome"]
    protocol: int = PROTOCOL_VERSION
    you: You
    seq: int = Field(description="the state after this seq: the snapshot's, or the resume cursor")
    server_time: datetime
    resumed: bool = Field(description="true: snapshot is null and the events after seq follow")
    snapshot: Snapshot | None


class Resync(Frame):
    type: Literal["resync"]
    reason: Literal["cursor_unknown", "cursor_too_old", "requested", "lagging"]
    seq: int
    server_time: datetime
    snapshot: Snapshot


def _event_frame(name: str, data: type[Frame]) -> type[Frame]:
    return type(
        "Event_" + name.replace(".", "_"),
        (Frame,),
        {
            "__annotations__": {
                "type": Literal["event"],
                "seq": int,
                "name": Literal[name],  # type: ignore[valid-type]
                "at": datetime,
                "actor": int | None,
                "data": data,
            },
            "__doc__": f"Event {name}.",
        },
    )


EVENT_FRAMES = {name: _event_frame(name, data) for name, data in EVENT_DATA.items()}
EventFrame = Annotated[Union[tuple(EVENT_FRAMES.values())], Field(discriminator="name")]  # noqa: UP007  # type: ignore[valid-type]


class Ack(Frame):
    type: Literal["ack"]
    ref: str
    seq: int | None = Field(description="seq of the last event the command wrote, if any")
    result: dict[str, Any] = {}


class Error(Frame):
    type: Literal["error"]
    ref: str | None = None
    code: ErrorCode
    message: str
    field: str | None = None


class PresenceEntry(Frame):
    id: int
    name: str
    role: RoleName


class Presence(Frame):
    type: Literal["presence"]
    participants: list[PresenceEntry]


class Closing(Frame):
    """Sent just before the server closes the socket on purpose."""

    type: Literal["closing"]
    reason: Literal[
        "logged_out", "removed", "slow_consumer", "meeting_deleted", "forbidden", "role_changed"
    ]


ServerFrame = Union[Welcome, Resync, EventFrame, Ack, Error, Presence, Closing]  # noqa: UP007  # type: ignore[valid-type]
server_frame_adapter: TypeAdapter = TypeAdapter(ServerFrame)


def json_schema() -> dict:
    """The JSON Schema of both directions, as committed in docs/protocol.schema.json."""
    client = client_frame_adapter.json_schema(mode="validation")
    server = server_frame_adapter.json_schema(mode="serialization")
    defs = {**client.pop("$defs", {}), **server.pop("$defs", {})}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Pause live protocol",
        "description": __doc__.strip().splitlines()[0],
        "version": PROTOCOL_VERSION,
        "$defs": {**defs, "ClientFrame": client, "ServerFrame": server},
    }
