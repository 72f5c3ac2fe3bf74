"""Search across the archive: challenges, ideas, replies and takeaways of ended meetings.

Who may find what is decided by ``rooms.archive_policy`` (meetings the user may open,
challenges whose texts or names they may see); this module only matches and ranks.

- PostgreSQL: full-text search with two text search configurations, ``pause_french`` and
  ``pause_english`` (copies of ``french`` and ``english`` that also strip accents with
  ``unaccent`` when the extension is available), and on each searched table a stored
  generated tsvector column ``pause_search`` with a GIN index (migration 0002). A document
  matches when the French or the English reading of the query matches; ``ts_rank``
  orders, ``ts_headline`` gives the snippets.
- SQLite: an FTS5 table (``rooms_search_fts``, ``unicode61 remove_diacritics 2``) that
  holds the words of each archived item after a small French/English plural stripping
  (``normalise_word``); ``summary_build`` keeps it in sync when a meeting ends.

Snippets are built safely: the text is escaped first, then the matched terms are wrapped
in ``<mark>``; user text is never marked safe as is.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass, field

from django.db import connection
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from rooms.archive_policy import archived_meetings, author_shown, challenge_access
from rooms.models import Challenge, ChallengeStatus, Idea, Meeting, Reply, Takeaway

KINDS = ("challenge", "idea", "reply", "takeaway")
PAGE_SIZE = 20
QUERY_MAX = 200
SNIPPET_WORDS = 30
_START, _STOP = "\x02", "\x03"
_WORD_RE = re.compile(r"\w+", re.UNICODE)


# --------------------------------------------------------------------------- words


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalise_word(word: str) -> str:
    """Lower case, no accents, and the commonest French/English plural endings removed,
    so "Tarifs" and "tarif", "stratégies" and "strategy" meet (SQLite only)."""
    w = _fold(word)
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("aux", "eux", "oux")):
        return w[:-1]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def normalise_text(text: str) -> str:
    return " ".join(normalise_word(w) for w in _WORD_RE.findall(text))


# --------------------------------------------------------------------------- results


@dataclass
class Hit:
    kind: str
    id: int
    rank: float
    snippet: SafeString
    meeting: Meeting
    challenge_title: str = ""
    author: str | None = None
    url: str = ""


@dataclass
class Results:
    query: str
    hits: list[Hit] = field(default_factory=list)
    page: int = 1
    has_next: bool = False


@dataclass(frozen=True)
class Scope:
    """What the user may search, as id lists computed by the archive policy."""

    meeting_ids: list[int]
    text_challenge_ids: list[int]  # ideas and replies of these challenges
    challenge_ids: list[int]  # the challenges themselves
    takeaways: bool = True


def _scope(user, *, room_id=None, date_from=None, date_to=None, owner_id=None) -> Scope:

    meetings = archived_meetings(user)
    if room_id:
        meetings = meetings.filter(room_id=room_id)
    if date_from:
        meetings = meetings.filter(scheduled_at__date__gte=date_from)
    if date_to:
        meetings = meetings.filter(scheduled_at__date__lte=date_to)
    meeting_ids = list(meetings.values_list("pk", flat=True))
    rows = Challenge.objects.filter(
        meeting_id__in=meeting_ids, status=ChallengeStatus.ACTIVE
    ).values_list("pk", "consent", "owner__user_id")
    visible, texts = [], []
    for pk, consent, owner_user_id in rows:
        access = challenge_access(consent=consent, owner_user_id=owner_user_id, user=user)
        if not access.visible:
            continue
        # Filtering by owner would reveal the owner of an anonymised challenge: only
        # challenges whose names the viewer may see can match.
        if owner_id and (owner_user_id != owner_id or not access.names):
            continue
        visible.append(pk)
        if access.texts:
            texts.append(pk)
    return Scope(
        meeting_ids=meeting_ids,
        text_challenge_ids=texts,
        challenge_ids=visible,
        takeaways=not owner_id,
    )


def search(
    *,
    user,
    query: str,
    room_id: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    owner_id: int | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Results:
    """The archive items matching ``query`` that ``user`` may see, best first."""
    query = (query or "").strip()[:QUERY_MAX]
    page = max(1, page)
    results = Results(query=query, page=page)
    if not query or not _WORD_RE.search(query):
        return results
    scope = _scope(user, room_id=room_id, date_from=date_from, date_to=date_to, owner_id=owner_id)
    if not scope.meeting_ids:
        return results
    offset = (page - 1) * page_size
    if connection.vendor == "postgresql":
        rows = _search_postgres(query, scope, limit=page_size + 1, offset=offset)
    else:
        rows = _search_sqlite(query, scope, limit=page_size + 1, offset=offset)
    results.has_next = len(rows) > page_size
    results.hits = _hydrate(rows[:page_size], user, scope, query)
    return results


# --------------------------------------------------------------------------- PostgreSQL

# Each searched table has a stored generated column ``pause_search`` with a GIN index
# (migration 0002): the French and the English tsvector of its text.
_CHALLENGE_DOC = "(c.title || ' ' || c.ask || ' ' || c.context)"
_TSQUERY = (
    "(websearch_to_tsquery('pause_french'::regconfig, %(q)s)"
    " || websearch_to_tsquery('pause_english'::regconfig, %(q)s))"
)
_HEADLINE_OPTIONS = (
    f"StartSel={_START}, StopSel={_STOP}, MaxWords={SNIPPET_WORDS}, MinWords=10, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)


def _postgres_sql() -> str:
    idea_v, reply_v, take_v, chal_v = (
        "i.pause_search",
        "r.pause_search",
        "t.pause_search",
        "c.pause_search",
    )
    # Only constants are formatted in; every value is a query parameter. "challenge_id + 0"
    # keeps the planner off the challenge index (it scanned every idea of the room there)
    # and on the full-text GIN index.
    return f"""
    WITH hits AS (
        SELECT 'idea' AS kind, i.id, ts_rank({idea_v}, {_TSQUERY}) AS rank, i.text AS body
        FROM rooms_idea i
        WHERE {idea_v} @@ {_TSQUERY} AND NOT i.removed AND i.challenge_id + 0 = ANY(%(texts)s)
      UNION ALL
        SELECT 'reply', r.id, ts_rank({reply_v}, {_TSQUERY}), r.text
        FROM rooms_reply r JOIN rooms_idea i ON i.id = r.idea_id
        WHERE {reply_v} @@ {_TSQUERY} AND NOT i.removed AND i.challenge_id = ANY(%(texts)s)
      UNION ALL
        SELECT 'challenge', c.id, ts_rank({chal_v}, {_TSQUERY}) * 1.5, {_CHALLENGE_DOC}
        FROM rooms_challenge c
        WHERE {chal_v} @@ {_TSQUERY} AND c.id = ANY(%(challenges)s)
      UNION ALL
        SELECT 'takeaway', t.id, ts_rank({take_v}, {_TSQUERY}), t.text
        FROM rooms_takeaway t
        WHERE %(takeaways)s AND {take_v} @@ {_TSQUERY} AND t.meeting_id = ANY(%(meetings)s)
    ), page AS (
        SELECT * FROM hits ORDER BY rank DESC, kind, id DESC LIMIT %(limit)s OFFSET %(offset)s
    )
    SELECT kind, id, rank,
        CASE WHEN to_tsvector('pause_french'::regconfig, body)
                  @@ websearch_to_tsquery('pause_french'::regconfig, %(q)s)
             THEN ts_headline('pause_french'::regconfig, translate(body, %(marks)s, ''),
                  websearch_to_tsquery('pause_french'::regconfig, %(q)s), %(options)s)
             ELSE ts_headline('pause_english'::regconfig, translate(body, %(marks)s, ''),
                  websearch_to_tsquery('pause_english'::regconfig, %(q)s), %(options)s)
        END AS headline
    FROM page ORDER BY rank DESC, kind, id DESC
    """  # noqa: S608


def _search_postgres(query: str, scope: Scope, *, limit: int, offset: int) -> list[tuple]:
    params = {
        "q": query,
        "texts": scope.text_challenge_ids,
        "challenges": scope.challenge_ids,
        "meetings": scope.meeting_ids,
        "takeaways": scope.takeaways,
        "limit": limit,
        "offset": offset,
        "marks": _START + _STOP,
        "options": _HEADLINE_OPTIONS,
    }
    with connection.cursor() as cursor:
        cursor.execute(_postgres_sql(), params)
        return [(kind, pk, rank, _marked(headline)) for kind, pk, rank, headline in cursor]


def _marked(headline: str) -> SafeString:
    """Escape the snippet, then turn the ts_headline markers into <mark> elements."""
    html = escape(headline.replace("\n", " "))
    html = html.replace(_START, "<mark>").replace(_STOP, "</mark>")
    return mark_safe(html)  # noqa: S308 - escaped above; only our own tags added


# --------------------------------------------------------------------------- SQLite

FTS_TABLE = "rooms_search_fts"
FTS_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "body, kind UNINDEXED, obj_id UNINDEXED, meeting_id UNINDEXED, challenge_id UNINDEXED, "
    "tokenize = 'unicode61 remove_diacritics 2')"
)


def _fts_available() -> bool:
    return connection.vendor == "sqlite" and FTS_TABLE in connection.introspection.table_names()


def index_rows(meeting_id: int, challenges, ideas, replies, takeaways):
    """Rows of the FTS table for one meeting (the models may be historical ones)."""
    for c in challenges:
        doc = " ".join((c.title, c.ask, c.context))
        yield normalise_text(doc), "challenge", c.pk, meeting_id, c.pk
    for i in ideas:
        yield normalise_text(i.text), "idea", i.pk, meeting_id, i.challenge_id
    for r in replies:
        yield normalise_text(r.text), "reply", r.pk, meeting_id, r.idea.challenge_id
    for t in takeaways:
        yield normalise_text(t.text), "takeaway", t.pk, meeting_id, None


def index_meeting(meeting: Meeting) -> None:
    """(Re)index an ended meeting in the SQLite FTS table; PostgreSQL needs nothing (its
    indexes are on the tables themselves)."""
    if not _fts_available():
        return
    rows = index_rows(
        meeting.pk,
        meeting.challenges.filter(status=ChallengeStatus.ACTIVE),
        meeting.ideas.filter(removed=False, challenge__status=ChallengeStatus.ACTIVE),
        Reply.objects.filter(
            idea__meeting=meeting,
            idea__removed=False,
            idea__challenge__status=ChallengeStatus.ACTIVE,
        ).select_related("idea"),
        meeting.takeaways.all(),
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE meeting_id = %s", [meeting.pk])  # noqa: S608
        cursor.executemany(
            f"INSERT INTO {FTS_TABLE} (body, kind, obj_id, meeting_id, challenge_id) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s)",
            list(rows),
        )


def _fts_query(query: str) -> str:
    words = [normalise_word(w) for w in _WORD_RE.findall(query)]
    # Every word quoted: the user's text never reaches FTS5's query syntax.
    return " ".join('"{}"'.format(w.replace('"', "")) for w in words if w)


def _search_sqlite(query: str, scope: Scope, *, limit: int, offset: int) -> list[tuple]:
    if not _fts_available():
        return []
    sql = f"""
        SELECT kind, obj_id, -bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE}
        WHERE {FTS_TABLE} MATCH %s AND (
            (kind IN ('idea', 'reply') AND challenge_id IN (SELECT value FROM json_each(%s)))
            OR (kind = 'challenge' AND obj_id IN (SELECT value FROM json_each(%s)))
            OR (kind = 'takeaway' AND %s AND meeting_id IN (SELECT value FROM json_each(%s)))
        )
        ORDER BY rank DESC, kind, obj_id DESC LIMIT %s OFFSET %s
    """  # noqa: S608
    params = [
        _fts_query(query),
        json.dumps(scope.text_challenge_ids),
        json.dumps(scope.challenge_ids),
        1 if scope.takeaways else 0,
        json.dumps(scope.meeting_ids),
        limit,
        offset,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(kind, pk, rank, None) for kind, pk, rank in cursor.fetchall()]


def highlight(text: str, query: str, words: int = SNIPPET_WORDS) -> SafeString:
    """A snippet of ``text`` around the first matched word, escaped, terms in <mark>."""
    wanted = {normalise_word(w) for w in _WORD_RE.findall(query)}
    tokens = list(_WORD_RE.finditer(text))
    first = next((n for n, m in enumerate(tokens) if normalise_word(m.group()) in wanted), 0)
    start_tok = max(0, first - words // 3)
    end_tok = min(len(tokens), start_tok + words)
    if not tokens:
        return mark_safe(escape(text[:200]))  # noqa: S308
    begin = tokens[start_tok].start() if start_tok else 0
    end = tokens[end_tok - 1].end() if end_tok < len(tokens) else len(text)
    out, pos = [], begin
    for m in tokens[start_tok:end_tok]:
        out.append(escape(text[pos : m.start()]))
        piece = escape(m.group())
        out.append(f"<mark>{piece}</mark>" if normalise_word(m.group()) in wanted else piece)
        pos = m.end()
    out.append(escape(text[pos:end]))
    prefix = "… " if begin else ""
    suffix = " …" if end < len(text) else ""
    return mark_safe(prefix + "".join(out).replace("\n", " ") + suffix)  # noqa: S308


# --------------------------------------------------------------------------- results


def _summary_url(meeting: Meeting, anchor: str) -> str:
    url = reverse("archive:summary", args=[meeting.room_id, meeting.pk])
    return f"{url}#{anchor}"


def _hydrate(rows, user, scope: Scope, query: str) -> list[Hit]:
    """Load the matched objects and pass each through the archive policy once more."""

    ids: dict[str, list[int]] = {k: [] for k in KINDS}
    for kind, pk, _rank, _snippet in rows:
        ids[kind].append(pk)
    objects = {
        "idea": Idea.objects.select_related("meeting__room", "challenge__owner", "author"),
        "reply": Reply.objects.select_related(
            "idea__meeting__room", "idea__challenge__owner", "author"
        ),
        "challenge": Challenge.objects.select_related("meeting__room", "owner"),
        "takeaway": Takeaway.objects.select_related("meeting__room", "author"),
    }
    loaded = {k: objects[k].in_bulk(ids[k]) for k in KINDS}
    meetings = set(scope.meeting_ids)
    hits = []
    for kind, pk, rank, snippet in rows:
        obj = loaded[kind].get(pk)
        if obj is None:
            continue  # deleted since it was indexed
        if kind == "takeaway":
            meeting, challenge = obj.meeting, None
        elif kind == "challenge":
            meeting, challenge = obj.meeting, obj
        elif kind == "idea":
            meeting, challenge = obj.meeting, obj.challenge
        else:
            meeting, challenge = obj.idea.meeting, obj.idea.challenge
        if meeting.pk not in meetings:
            continue
        access = None
        if challenge is not None:
            access = challenge_access(
                consent=challenge.consent, owner_user_id=challenge.owner.user_id, user=user
            )
            if not access.visible or (kind in ("idea", "reply") and not access.texts):
                continue
        author = None
        if kind == "challenge":
            author = obj.owner.display_name if access.names else None
        elif author_shown(anonymous=obj.anonymous, meeting_anonymity=meeting.anonymity) and (
            access is None or access.names
        ):
            author = obj.author.display_name
        if kind == "challenge":
            text, anchor = f"{obj.title}\n{obj.ask}\n{obj.context}", f"challenge-{obj.pk}"
        elif kind == "idea":
            text, anchor = obj.text, f"idea-{obj.pk}"
        elif kind == "reply":
            text, anchor = obj.text, f"idea-{obj.idea_id}"
        else:
            text, anchor = obj.text, f"takeaway-{obj.pk}"
        hits.append(
            Hit(
                kind=kind,
                id=pk,
                rank=float(rank),
                snippet=snippet if snippet is not None else highlight(text, query),
                meeting=meeting,
                challenge_title=challenge.title if challenge else "",
                author=author,
                url=_summary_url(meeting, anchor),
            )
        )
    return hits
