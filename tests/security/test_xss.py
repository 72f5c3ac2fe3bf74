"""User text is shown as text, never run: an XSS corpus posted in every field people
write (ideas, replies, challenge title, context and ask, display names of members and
guests, takeaways, actions, room names and descriptions, meeting titles, theme names,
the summary's introduction and conclusion) is searched for in every page that shows it,
in the three exports and in the summary email.

"Inert" means: no element, attribute, script or link that the corpus brought appears in
the parsed page; the raw markup is nowhere in the HTML; and the text is still there,
escaped (so the checks cannot pass on a page that simply dropped it). The board, which
renders in the browser, is checked in tests/e2e/test_xss_board.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from markdown_it import MarkdownIt

from rooms import services
from rooms.models import Meeting, Membership, Role, User
from rooms.services import archive as archive_services
from rooms.services import rooms as room_services
from tests.security.html_checks import parse

pytestmark = pytest.mark.django_db

CORPUS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "</textarea><svg/onload=alert(1)>",
    "{{7*7}}",
    "{% debug %}",
    '=HYPERLINK("http://x.example","clic")',
    "\u202eexe.txt",  # right-to-left override: shows as "txt.exe"
    "'-alert(1)-'",
    "<a href=javascript:alert(1)>lien</a>",
    "[lien](javascript:alert(1))",
    "</script><script>alert(1)</script>",
    "+SUM(1,1)",
    "@cmd",
    "-2+3",
    "&lt;b&gt;already escaped&lt;/b&gt;",
    "<!-- comment",
    "`code` *gras* # titre",
)
# Markup that must never reach a page as markup.
RAW = (
    "<script>alert(1)",
    "<img src=x",
    "<svg/onload",
    "<a href=javascript",
    "</textarea><svg",
    "<!-- comment",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(html: str, where: str) -> list[str]:
    """What of the corpus runs or renders as markup in ``html``."""
    page = parse(html)
    problems = [f"{where}: {p}" for p in page.problems if "style" not in p]
    for tag, attrs in page.elements:
        if tag in ("svg", "img") and attrs.get("src", "") in ("x", None):
            problems.append(f"{where}: <{tag}> from the corpus")
        for name, value in attrs.items():
            if (value or "").strip().lower().startswith("javascript:"):
                problems.append(f"{where}: <{tag} {name}=javascript:…>")
    for script in page.scripts:
        if "alert(1)" in script["body"]:
            problems.append(f"{where}: a <script> of the corpus")
    problems += [f"{where}: raw {r!r}" for r in RAW if r in html]
    return problems


def _name(n: int) -> str:
    """A display name of the corpus (60 characters at most)."""
    return CORPUS[n % len(CORPUS)][:60]


@pytest.fixture
def corpus_world(db, user_factory):
    """A room per corpus entry and one meeting where every field holds a corpus entry;
    the live pages are captured before the meeting ends, then it is published."""
    owner = user_factory(display_name='"><img src=x onerror=alert(1)>', language="en")
    rooms = [
        room_services.room_create(user=owner, name=text[:80], description=text) for text in CORPUS
    ]
    room = rooms[0]
    members = [
        user_factory(
            display_name=_name(n), language="en", email=f"m{n}-{uuid.uuid4().hex[:6]}@x.org"
        )
        for n in range(len(CORPUS))
    ]
    for m in members:
        Membership.objects.create(room=room, user=m, role=Role.MEMBER)
    when = timezone.now() + dt.timedelta(days=3)
    for text in CORPUS:
        room_services.meeting_schedule(
            actor=owner, room=room, title=text[:120], scheduled_at=when, format="open"
        )
    meeting = Meeting.objects.create(
        room=room,
        title="</script><script>alert(1)</script>",
        scheduled_at=timezone.now(),
        format="open",
    )
    fac = services.participant_join(meeting=meeting, user=owner)
    services.meeting_start(actor=fac)
    link = services.guest_invite_create(actor=owner, meeting=meeting)
    people = [services.participant_join(meeting=meeting, user=m) for m in members]
    guest_keys = [uuid.uuid4() for _ in CORPUS]
    guests = [
        services.guest_join(token=link.token, display_name=_name(n), guest_key=key)
        for n, key in enumerate(guest_keys)
    ]
    challenges = [
        services.challenge_post(actor=p, title=text[:200], context=text, ask=text).result["id"]
        for p, text in zip(people, CORPUS, strict=True)
    ]
    services.phase_set(actor=fac, phase="ideas")
    for n, text in enumerate(CORPUS):
        idea = services.idea_post(
            actor=people[n], challenge_id=challenges[n], text=text, kind="idea"
        ).result["id"]
        services.idea_post(actor=guests[n], challenge_id=challenges[n], text=text, kind="idea")
        services.reply_post(actor=guests[n], idea_id=idea, text=text)
        cluster = services.cluster_create(
            actor=fac, challenge_id=challenges[n], name=text[:80]
        ).result["id"]
        services.idea_move(actor=fac, idea_id=idea, cluster_id=cluster)

    # The live pages: the meeting page with the board, a guest's board.
    live_pages = {}
    client = Client()
    client.force_login(owner)
    live_pages["meeting page (live)"] = client.get(meeting.get_absolute_url())
    guest = Client()
    guest.post(reverse("guests:join", args=[link.token]), {"display_name": CORPUS[1]})
    live_pages["guest board"] = guest.get(reverse("guests:board", args=[link.token]))

    services.phase_set(actor=fac, phase="wrapup")
    for n, text in enumerate(CORPUS):
        services.action_post(actor=people[n], challenge_id=challenges[n], text=text[:500])
        services.takeaway_post(actor=people[n], text=text)
    services.meeting_end(actor=fac)
    meeting.refresh_from_db()
    summary = meeting.summary
    archive_services.summary_edit(
        summary=summary, user=owner, intro="\n\n".join(CORPUS), conclusion="\n".join(CORPUS)
    )
    mail.outbox.clear()
    archive_services.summary_publish(summary=summary, user=owner, base_url="http://testserver/")
    return {
        "owner": owner,
        "members": members,
        "rooms": rooms,
        "room": room,
        "meeting": meeting,
        "live_pages": live_pages,
        "client": client,
    }


def _pages(w) -> dict[str, object]:
    """Every page that shows corpus text, as someone who may see it."""
    c: Client = w["client"]
    room, meeting = w["room"], w["meeting"]
    pages = dict(w["live_pages"])
    pages["home"] = c.get(reverse("rooms:home"))
    for n, r in enumerate(w["rooms"]):
        pages[f"room {n}"] = c.get(reverse("rooms:room", args=[r.pk]))
    pages["room edit"] = c.get(reverse("rooms:room_edit", args=[room.pk]))
    pages["invites"] = c.get(reverse("rooms:invites", args=[room.pk]))
    pages["leave"] = c.get(reverse("rooms:room_leave", args=[room.pk]))
    pages["profile"] = c.get(reverse("rooms:profile"))
    pages["meeting page (ended)"] = c.get(meeting.get_absolute_url())
    for m in room.meetings.filter(state="scheduled")[:4]:
        pages[f"scheduled meeting {m.pk}"] = c.get(m.get_absolute_url())
    pages["archive"] = c.get(reverse("archive:room", args=[room.pk]))
    pages["summary"] = c.get(reverse("archive:summary", args=[room.pk, meeting.pk]))
    for q in ("alert", "script", "HYPERLINK", "javascript", "debug", "exe", "lien", "comment"):
        pages[f"search {q}"] = c.get(reverse("archive:search") + f"?q={q}")
    member = Client()
    member.force_login(w["members"][1])
    pages["my actions"] = member.get(reverse("archive:my_actions"))
    pages["summary (member)"] = member.get(reverse("archive:summary", args=[room.pk, meeting.pk]))
    return pages


def test_every_page_shows_the_corpus_as_text(corpus_world, tally):
    """Room, meeting (live and ended), guest board, summary (with its edit form), archive,
    search results with highlighting, my actions, invites, profile, home: nothing of the
    corpus runs or renders as markup."""
    pages = _pages(corpus_world)
    problems = []
    for where, response in pages.items():
        assert response.status_code == 200, where
        problems += _inert(response.content.decode(), where)
    assert problems == [], "\n".join(problems[:40])
    summary = parse(pages["summary"].content.decode())
    missing = [text for text in CORPUS if text not in summary.text]
    assert missing == [], "the summary page must show every entry, literally"
    assert "49" not in summary.text.split("{{7*7}}")[0][-5:]  # not evaluated as a template
    hits = [k for k in pages if k.startswith("search") and "<mark>" in pages[k].content.decode()]
    assert len(hits) >= 5, "search results with highlighting were checked"
    tally.note(
        f"pages with the XSS corpus ({len(CORPUS)} entries in every field): "
        f"inert {len(pages)} / {len(pages)}"
    )


def test_the_markdown_export_renders_no_markup_and_no_script_link(corpus_world):
    """The Markdown export, rendered by a CommonMark renderer that lets raw HTML through
    and follows every link, shows the corpus as text: no script, no element of the
    corpus, no javascript: link."""
    w = corpus_world
    url = reverse("archive:export", args=[w["room"].pk, w["meeting"].pk, "md"])
    body = w["client"].get(url).content.decode()
    permissive = MarkdownIt("commonmark", {"html": True})
    permissive.validateLink = lambda url: True  # as a renderer that does not filter links
    html = permissive.render(body)
    assert _inert(html, "markdown export") == []
    text = parse(html).text
    for entry in ("<script>alert(1)</script>", "{{7*7}}", "\u202eexe.txt", "javascript:alert(1)"):
        assert entry in text, entry


def test_the_csv_export_has_no_formula(corpus_world):
    """No cell of the CSV export starts with a character a spreadsheet reads as a
    formula; the text is kept (after a leading apostrophe)."""
    w = corpus_world
    url = reverse("archive:export", args=[w["room"].pk, w["meeting"].pk, "csv"])
    rows = list(csv.reader(io.StringIO(w["client"].get(url).content.decode())))
    cells = [cell for row in rows[1:] for cell in row]
    formulas = [c for c in cells if c.startswith(FORMULA_START)]
    assert formulas == []
    assert '\'=HYPERLINK("http://x.example","clic")' in cells
    assert "'-2+3" in cells and "'+SUM(1,1)" in cells and "'@cmd" in cells


def test_the_json_export_keeps_the_text_as_data(corpus_world):
    """The JSON export is valid JSON served as application/json, the corpus kept exactly."""
    w = corpus_world
    url = reverse("archive:export", args=[w["room"].pk, w["meeting"].pk, "json"])
    response = w["client"].get(url)
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    texts = {i["text"] for ch in data["challenges"] for i in ch["ideas"]}
    assert set(CORPUS) <= texts


def test_the_summary_email_shows_the_corpus_as_text(corpus_world, tally):
    """Each summary email: the HTML part runs nothing; the text part and the subject
    show the text as written (no HTML entities)."""
    messages = list(mail.outbox)
    assert messages, "the publication emailed the participants"
    problems = []
    for message in messages:
        html = next(c for c, t in message.alternatives if t == "text/html")
        problems += _inert(html, f"email to {message.to[0]}")
        if "&lt;script" in message.body or "&quot;&gt;" in message.body:
            problems.append(f"text part to {message.to[0]} has HTML entities")
        if "</script><script>alert(1)</script>" not in message.subject:
            problems.append(f"subject {message.subject!r} does not show the title as written")
    assert problems == [], "\n".join(problems[:20])
    body = messages[0].body
    assert "<script>alert(1)</script>" in body
    tally.note(f"summary emails with the corpus: inert {len(messages)} / {len(messages)}")


def test_the_corpus_checks_see_markup(corpus_world):
    """The checker finds markup when it is there (so its silence means something)."""
    assert _inert("<p><img src=x onerror=alert(1)></p>", "probe")
    assert _inert('<a href="javascript:alert(1)">x</a>', "probe")
    assert _inert("<script>alert(1)</script>", "probe")
    assert User.objects.filter(display_name=CORPUS[1]).exists()
