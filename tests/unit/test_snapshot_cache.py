"""The per-process cache of snapshot boards (``rooms.wire._BOARDS``) never changes what a
viewer receives: a snapshot served from the cache equals one built from nothing, for
every kind of viewer, and a write in between is seen by the next snapshot.

The cache only keeps boards read from committed data, outside any caller's transaction,
so these tests commit (``transaction=True``); "built from nothing" is a snapshot taken
inside ``transaction.atomic()``, which neither reads nor fills the cache.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.utils import timezone

from rooms import services, wire
from rooms.models import Action, Challenge, Membership, Role
from rooms.protocol import Snapshot
from rooms.wire import Viewer, snapshot_for

pytestmark = pytest.mark.django_db(transaction=True)


def _fresh(meeting_id: int, v: Viewer) -> tuple[dict, int]:
    with transaction.atomic():
        return snapshot_for(meeting_id, v)


def _json(snapshot: dict) -> dict:
    return json.loads(json.dumps(snapshot))


@pytest.fixture(autouse=True)
def empty_cache():
    wire._BOARDS.clear()
    yield
    wire._BOARDS.clear()


@pytest.fixture
def board(meeting_factory, member_factory):
    """A busy meeting: anonymous and hidden ideas, a removed one, anonymous replies,
    votes, reactions, clusters, actions, a follow-up of an earlier meeting, takeaways."""
    meeting = meeting_factory(format="open", anonymity="optional")
    room = meeting.room
    users = {"owner": Membership.objects.get(room=room, role=Role.OWNER).user}
    users["fac"] = member_factory(room, Role.FACILITATOR, display_name="Fanny Facilitates")
    for name in ("author", "member", "idle"):
        users[name] = member_factory(room, display_name=f"{name.title()} Person")
    earlier = meeting_factory(
        room=room, format="open", state="ended", scheduled_at=timezone.now() - dt.timedelta(days=14)
    )
    old_owner = services.participant_join(meeting=earlier, user=users["author"])
    old_challenge = Challenge.objects.create(meeting=earlier, owner=old_owner, title="Avant")
    Action.objects.create(challenge=old_challenge, owner=old_owner, text="Relancer")
    p = {name: services.participant_join(meeting=meeting, user=u) for name, u in users.items()}
    p["guest"] = services.participant_join(
        meeting=meeting, guest_key=uuid.uuid4(), display_name="Gaby Guest"
    )
    s, fac, author, member, guest = services, p["fac"], p["author"], p["member"], p["guest"]
    s.meeting_start(actor=fac)
    s.phase_set(actor=fac, phase="ideas")
    c1 = s.challenge_post(actor=author, title="Fixer mes prix").result["id"]
    post = s.idea_post
    i1 = post(actor=author, challenge_id=c1, text="anon", anonymous=True).result["id"]
    i2 = post(actor=member, challenge_id=c1, text="named").result["id"]
    i3 = post(actor=guest, challenge_id=c1, text="guest?", kind="question").result["id"]
    s.reply_post(actor=author, idea_id=i2, text="oui", anonymous=True)
    s.reply_post(actor=guest, idea_id=i1, text="et")
    s.reaction_toggle(actor=member, idea_id=i1, emoji="💡")
    s.reaction_toggle(actor=guest, idea_id=i1, emoji="💡")
    s.idea_remove(actor=fac, idea_id=i3, reason="doublon")
    k1 = s.cluster_create(actor=fac, challenge_id=c1, name="Prix").result["id"]
    s.idea_move(actor=fac, idea_id=i2, cluster_id=k1)
    s.meeting_settings(actor=fac, hide_until_reveal=True)
    hidden = post(actor=member, challenge_id=c1, text="secret").result["id"]
    post(actor=author, challenge_id=c1, text="secret anon", anonymous=True)
    s.phase_set(actor=fac, phase="vote")
    s.vote_cast(actor=member, idea_id=i1)
    s.vote_cast(actor=author, idea_id=i2)
    s.vote_cast(actor=guest, idea_id=i1)
    s.phase_set(actor=fac, phase="wrapup")
    s.action_post(actor=author, challenge_id=c1, text="Go", idea_ids=[i1, i2])
    s.takeaway_post(actor=author, text="Oser", anonymous=True)
    s.takeaway_post(actor=guest, text="Merci")
    viewers = {name: Viewer.for_participant(x) for name, x in p.items()}
    return meeting, users, p, viewers, {"c1": c1, "i1": i1, "i2": i2, "hidden": hidden}


def _assert_cache_equals_fresh(meeting_id: int, viewers: dict[str, Viewer]) -> dict:
    """Every viewer's snapshot, served from the cache, equals the one built from nothing."""
    hits = wire._BOARDS.hits
    out = {}
    for name, v in viewers.items():
        cached, seq = snapshot_for(meeting_id, v)
        fresh, fresh_seq = _fresh(meeting_id, v)
        assert seq == fresh_seq
        Snapshot.model_validate(cached)
        assert _json(cached) == _json(fresh), name
        out[name] = cached
    # The first read of this seq built the board; every other one was served from it.
    assert wire._BOARDS.hits - hits >= len(viewers) - 1
    return out


def test_a_cached_snapshot_equals_a_fresh_one_for_every_viewer(board):
    """Facilitators, the author of anonymous and hidden ideas, members, a guest and a
    participant who did nothing each get from the cache exactly what a fresh build gives:
    their own votes, reactions, hidden and anonymous ideas, and nobody else's."""
    meeting, _users, p, viewers, ids = board
    snaps = _assert_cache_equals_fresh(meeting.pk, viewers)
    by_id = {name: {i["id"]: i for i in s["ideas"]} for name, s in snaps.items()}
    # What the cache shares between viewers did not leak one viewer's part to another.
    assert by_id["author"][ids["i1"]]["author"]["id"] == p["author"].pk
    assert by_id["member"][ids["i1"]]["author"] is None
    assert by_id["member"][ids["i1"]]["my_vote"] is True
    assert by_id["idle"][ids["i1"]]["my_vote"] is False
    assert by_id["member"][ids["hidden"]]["text"] == "secret"
    assert by_id["guest"][ids["hidden"]]["text"] == ""
    assert by_id["idle"][ids["i1"]]["my_reactions"] == []
    assert by_id["guest"][ids["i1"]]["my_reactions"] == ["💡"]
    removed = [i for i in snaps["fac"]["ideas"] if i["removed"]]
    assert [i["removed_reason"] for i in removed] == ["doublon"]
    assert [i for i in snaps["member"]["ideas"] if i["removed"]] == []
    assert [i["removed_reason"] for i in snaps["guest"]["ideas"] if i["removed"]] == ["doublon"]
    assert len(snaps["owner"]["followups"]) == 1


def test_an_always_anonymous_meeting_from_the_cache(meeting_factory, member_factory):
    """In a meeting where every post is anonymous, the cache names no author to anyone
    but that author."""
    meeting = meeting_factory(format="open", anonymity="always")
    room = meeting.room
    owner = Membership.objects.get(room=room, role=Role.OWNER).user
    users = [owner] + [member_factory(room) for _ in range(2)]
    ps = [services.participant_join(meeting=meeting, user=u) for u in users]
    services.meeting_start(actor=ps[0])
    services.phase_set(actor=ps[0], phase="ideas")
    c = services.challenge_post(actor=ps[1], title="Recruter").result["id"]
    for n, x in enumerate(ps):
        idea = services.idea_post(actor=x, challenge_id=c, text=f"idée {n}").result["id"]
        services.reply_post(actor=ps[(n + 1) % 3], idea_id=idea, text="et")
    viewers = {f"p{n}": Viewer.for_participant(x) for n, x in enumerate(ps)}
    snaps = _assert_cache_equals_fresh(meeting.pk, viewers)
    for name, x in zip(viewers, ps, strict=True):
        named = [i["author"]["id"] for i in snaps[name]["ideas"] if i["author"] is not None]
        assert named == [x.pk]
        replies = [r for i in snaps[name]["ideas"] for r in i["replies"]]
        assert [r["author"]["id"] for r in replies if r["author"] is not None] == [x.pk]


def test_a_write_in_between_is_seen(board):
    """A write bumps the meeting's seq: the next snapshot is built again and shows it;
    a change with no event in this meeting's log (a role in the room, an earlier
    meeting's action) is read fresh on every snapshot."""
    meeting, users, p, viewers, ids = board
    before = _assert_cache_equals_fresh(meeting.pk, viewers)
    services.phase_set(actor=p["fac"], phase="vote")
    services.vote_cast(actor=p["idle"], idea_id=ids["i2"])
    services.ideas_reveal(actor=p["fac"], challenge_id=ids["c1"])
    after = _assert_cache_equals_fresh(meeting.pk, viewers)
    votes = {
        n: {i["id"]: i["votes"] for i in s["idle"]["ideas"]}
        for n, s in (("b", before), ("a", after))
    }
    assert votes["a"][ids["i2"]] == votes["b"][ids["i2"]] + 1
    idle = {i["id"]: i for i in after["idle"]["ideas"]}
    assert idle[ids["i2"]]["my_vote"] is True
    assert idle[ids["hidden"]]["text"] == "secret"
    # No event in this meeting: a role change in the room, a follow-up closed elsewhere.
    member = Membership.objects.get(room=meeting.room, user=users["member"])
    services.membership_set_role(actor=users["owner"], membership=member, role=Role.FACILITATOR)
    Action.objects.filter(text="Relancer").update(status="done")
    again = _assert_cache_equals_fresh(meeting.pk, viewers)
    roles = {x["id"]: x["role"] for x in again["owner"]["participants"]}
    assert roles[p["member"].pk] == "facilitator"
    assert again["owner"]["followups"] == []


def test_a_snapshot_inside_a_transaction_is_not_kept(board):
    """Inside a caller's transaction a snapshot may see writes that roll back: it is
    neither read from nor stored in the cache."""
    meeting, _users, _p, viewers, _ids = board
    _fresh(meeting.pk, viewers["member"])
    assert wire._BOARDS.hits == wire._BOARDS.misses == 0
    snapshot_for(meeting.pk, viewers["member"])
    assert (wire._BOARDS.hits, wire._BOARDS.misses) == (0, 1)


def test_the_cache_keeps_the_latest_board_of_the_last_few_meetings():
    """Bounded by meetings and by ideas, least recently used first; an older board (a
    reader that started before a write) never replaces a newer one."""

    class M:
        def __init__(self, pk, last_seq, ideas=0):
            self.pk, self.last_seq, self.created_at = pk, last_seq, timezone.now()
            self.ideas = ideas

    def board_of(m: M):
        ideas = [(n, 1, False, {"replies": []}) for n in range(m.ideas)]
        return wire._Board(m, [], ideas, [], [])

    cache = wire._BoardCache(meetings=3, ideas=10)
    ms = [M(n, 5, ideas=2) for n in range(4)]
    for m in ms[:3]:
        cache.put(m.pk, board_of(m))
    assert cache.get(ms[0]) is not None  # now the most recently used
    cache.put(ms[3].pk, board_of(ms[3]))
    assert cache.get(ms[1]) is None  # the least recently used went
    assert all(cache.get(m) is not None for m in (ms[0], ms[2], ms[3]))
    newer = M(0, 6, ideas=2)
    newer.created_at = ms[0].created_at
    cache.put(0, board_of(newer))
    cache.put(0, board_of(ms[0]))
    assert cache.get(ms[0]) is None and cache.get(newer) is not None
    # Least recently used first: ms[2], then ms[3] to keep 10 ideas at most.
    cache.put(9, board_of(M(9, 1, ideas=8)))
    assert [m for m in (newer, ms[2], ms[3]) if cache.get(m) is not None] == [newer]


def test_threads_reading_the_same_state_wait_for_one_build():
    """Sockets that connect together read the same seq: one thread builds the board and
    the others get it, without a build of their own; a failed build does not leave the
    others waiting, they build their own."""
    m = SimpleNamespace(pk=1, last_seq=5, created_at=timezone.now())
    cache = wire._BoardCache(meetings=3, ideas=100)
    started, release = threading.Event(), threading.Event()
    builds = []

    def slow(meeting):
        builds.append("slow")
        started.set()
        release.wait(5)
        return wire._Board(meeting, [], [], [], [])

    def other(meeting):
        builds.append("other")
        return wire._Board(meeting, [], [], [], [])

    got = {}
    first = threading.Thread(target=lambda: got.setdefault("first", cache.get_or_build(m, slow)))
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=lambda: got.setdefault("second", cache.get_or_build(m, other)))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # waiting for the first build
    release.set()
    first.join(5)
    second.join(5)
    assert builds == ["slow"]
    assert got["first"] is got["second"] is cache.get(m)

    def broken(meeting):
        started.set()
        release.wait(5)
        raise RuntimeError("the database went away")

    m2 = SimpleNamespace(pk=2, last_seq=1, created_at=timezone.now())
    started.clear()
    release.clear()
    errors = []

    def run_broken():
        try:
            cache.get_or_build(m2, broken)
        except RuntimeError as e:
            errors.append(e)

    first = threading.Thread(target=run_broken)
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=lambda: got.setdefault("after", cache.get_or_build(m2, other)))
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    assert len(errors) == 1 and got["after"].version == (1, m2.created_at)


def test_arrivals_keep_the_board_and_a_write_after_them_does_not(board, member_factory):
    """A ``participant.joined`` changes nothing a board holds: a meeting filling up serves
    its cached board at each arrival (counted: no rebuild), and the snapshot still lists
    the newcomers as one built from nothing does. Any other event after them builds the
    board again."""
    meeting, _users, p, viewers, _ids = board
    snapshot_for(meeting.pk, viewers["member"])  # the board, cached
    misses = wire._BOARDS.misses
    newcomers = [member_factory(meeting.room, display_name=f"New {n}") for n in range(3)]
    joined = [services.participant_join(meeting=meeting, user=u) for u in newcomers[:2]]
    _got, seq = snapshot_for(meeting.pk, viewers["member"])
    joined.append(services.participant_join(meeting=meeting, user=newcomers[2]))
    again, seq_again = snapshot_for(meeting.pk, viewers["member"])
    assert wire._BOARDS.misses == misses
    assert seq_again == seq + 1
    assert {x.pk for x in joined} <= {x["id"] for x in again["participants"]}
    assert _json(again) == _json(_fresh(meeting.pk, viewers["member"])[0])
    services.phase_set(actor=p["fac"], phase="vote")
    snapshot_for(meeting.pk, viewers["member"])
    assert wire._BOARDS.misses == misses + 1


def test_a_build_at_an_earlier_seq_serves_arrivals_after_it():
    """Sockets arriving together each read the meeting after their own join: a build
    under way at an earlier seq is theirs too when only joins came since (one build),
    not when another event did (a build of its own)."""
    created = timezone.now()
    cache = wire._BoardCache(meetings=3, ideas=100)
    started, release = threading.Event(), threading.Event()
    builds = []

    def slow(meeting):
        builds.append(("slow", meeting.last_seq))
        started.set()
        release.wait(5)
        return wire._Board(meeting, [], [], [], [])

    def other(meeting):
        builds.append(("other", meeting.last_seq))
        return wire._Board(meeting, [], [], [], [])

    got = {}
    at5 = SimpleNamespace(pk=1, last_seq=5, created_at=created)
    first = threading.Thread(target=lambda: got.setdefault(5, cache.get_or_build(at5, slow)))
    first.start()
    assert started.wait(5)
    at7 = SimpleNamespace(pk=1, last_seq=7, created_at=created)
    cache.neutral(at7, range(6, 8))  # two joins committed meanwhile
    second = threading.Thread(target=lambda: got.setdefault(7, cache.get_or_build(at7, other)))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # waiting for the build at seq 5
    release.set()
    first.join(5)
    second.join(5)
    assert builds == [("slow", 5)] and got[5] is got[7]
    assert cache.get(at7) is got[5] and cache.builds == 1  # and kept for seq 7
    at9 = SimpleNamespace(pk=1, last_seq=9, created_at=created)
    cache.neutral(at9, range(9, 10))  # seq 8 was not a join
    assert cache.get(at9) is None
    assert cache.get_or_build(at9, other) is not got[5]
    assert builds[-1] == ("other", 9)
    again = SimpleNamespace(pk=1, last_seq=9, created_at=timezone.now())  # a reused id
    assert cache.get(again) is None


def _board_from_models(meeting) -> dict:
    """The board as the model helpers of ``rooms.wire`` give it, from ORM instances: what
    ``_build_board`` (plain SQL, as columns) must equal."""
    from django.db.models import Count

    from rooms.models import Cluster, Idea, Reaction, Takeaway, Vote

    votes = dict(
        Vote.objects.filter(idea__meeting=meeting)
        .values("idea_id")
        .annotate(n=Count("id"))
        .values_list("idea_id", "n")
        .order_by()
    )
    reactions: dict = {}
    for idea_id, emoji in Reaction.objects.filter(idea__meeting=meeting).values_list(
        "idea_id", "emoji"
    ):
        reactions.setdefault(idea_id, {}).setdefault(emoji, 0)
        reactions[idea_id][emoji] += 1
    ideas = Idea.objects.filter(meeting=meeting).select_related("author").order_by("id")
    return {
        "challenges": [
            wire.challenge_data(c)
            for c in meeting.challenges.select_related("owner").order_by("position", "id")
        ],
        "ideas": [
            wire.idea_data(
                i,
                votes=votes.get(i.pk, 0),
                reactions=reactions.get(i.pk),
                replies=i.replies.select_related("author").order_by("id"),
            )
            for i in ideas
        ],
        "clusters": [
            wire.cluster_data(c)
            for c in Cluster.objects.filter(challenge__meeting=meeting).order_by("id")
        ],
        "takeaways": [
            wire.takeaway_data(t)
            for t in Takeaway.objects.filter(meeting=meeting)
            .select_related("author")
            .order_by("id")
        ],
    }


def test_the_board_read_in_plain_sql_equals_the_models_data(board):
    """``_build_board`` reads the board in seven plain statements (one round trip on
    PostgreSQL) as columns: the same challenges, ideas (votes, reactions, replies,
    anonymous, hidden, removed with reasons, clusters, edits), clusters and takeaways as
    the model helpers give from ORM instances; booleans and dates converted as the ORM
    does (SQLite)."""
    from rooms.models import Idea

    meeting, _users, _p, _viewers, ids = board

    Idea.objects.filter(pk=ids["i2"]).update(text="named, edited", edited_at=timezone.now())
    m = wire._reads(meeting.pk, Viewer(0, "member"), True, isolate=False)[0]
    built = wire._build_board(m)
    expected = _board_from_models(meeting)
    assert _json(built.challenges) == _json(expected["challenges"])
    assert _json([d for _id, _author, _removed, d in built.ideas]) == _json(expected["ideas"])
    assert _json(built.clusters) == _json(expected["clusters"])
    assert _json(built.takeaways) == _json(expected["takeaways"])
    assert any(d["edited"] for _i, _a, _r, d in built.ideas)
    assert any(d["removed"] and d["removed_reason"] for _i, _a, _r, d in built.ideas)
    assert all(type(d["anonymous"]) is bool for _i, _a, _r, d in built.ideas)


def test_a_fresh_participants_snapshot_skips_its_votes_and_equals_the_full_one(
    board, member_factory
):
    """A participant created by this connect (``fresh``) has no votes or reactions: its
    snapshot does not read them and is the one a full read gives."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    meeting, _users, _p, _viewers, _ids = board
    newcomer = services.participant_join(
        meeting=meeting, user=member_factory(meeting.room), role=Role.MEMBER
    )
    assert newcomer.first_join is True
    v = Viewer(newcomer.pk, Role.MEMBER, newcomer.user_id)
    full, seq = snapshot_for(meeting.pk, v)
    with CaptureQueriesContext(connection) as fresh_ctx:
        fresh, fresh_seq = snapshot_for(meeting.pk, v, fresh=True)
    with CaptureQueriesContext(connection) as full_ctx:
        snapshot_for(meeting.pk, v)
    assert (fresh_seq, _json(fresh)) == (seq, _json(full))
    from rooms.models import Vote

    # The board is cached by now: only the per-viewer reads run, without the votes'.
    fresh_sql = " ".join(q["sql"] for q in fresh_ctx.captured_queries)
    full_sql = " ".join(q["sql"] for q in full_ctx.captured_queries)
    assert Vote._meta.db_table in full_sql and Vote._meta.db_table not in fresh_sql


def test_a_snapshot_from_the_cache_is_one_round_trip_on_postgresql(meeting_factory, member_factory):
    """With its board cached (and no actions to load), a snapshot is one round trip on
    PostgreSQL, its own repeatable-read transaction included, and leaves the connection
    idle; a meeting that does not exist is refused as before."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rooms.models import Meeting

    meeting = meeting_factory(format="open")
    people = [
        services.participant_join(meeting=meeting, user=member_factory(meeting.room, role))
        for role in (Role.FACILITATOR, Role.MEMBER)
    ]
    services.meeting_start(actor=people[0])
    viewers = [Viewer(p.pk, Role.MEMBER, p.user_id) for p in people]
    snapshot_for(meeting.pk, viewers[0])
    with CaptureQueriesContext(connection) as ctx:
        cached, seq = snapshot_for(meeting.pk, viewers[1])
    fresh, fresh_seq = _fresh(meeting.pk, viewers[1])
    assert (seq, _json(cached)) == (fresh_seq, _json(fresh))
    if connection.vendor == "postgresql":
        assert len(ctx.captured_queries) == 1
        assert ctx.captured_queries[0]["sql"].startswith("BEGIN ISOLATION LEVEL REPEATABLE")
        assert connection.connection.info.transaction_status == 0  # idle
    with pytest.raises(Meeting.DoesNotExist):
        snapshot_for(10**9, viewers[1])
    assert Meeting.objects.filter(pk=meeting.pk).exists()  # the connection still works
