"""The live board shows an XSS corpus as text in a real browser: posted before the page
opens (snapshot) and while it is open (events), in ideas, replies, challenges, a theme
and display names of a member and a guest. No dialog opens, no script runs, no element
of the corpus appears in the DOM, and the page reports no CSP violation (which is what a
blocked injection would leave behind, since the strict CSP would stop it from running).
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import meeting_path, off_loop, wait_live

pytestmark = pytest.mark.django_db(transaction=True)

CORPUS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "</textarea><svg/onload=alert(1)>",
    "{{7*7}} {% debug %}",
    "<a href=javascript:alert(1)>lien</a>",
    "\u202eexe.txt",
    "'-alert(1)-'",
    "</script><script>alert(1)</script>",
    "&lt;b&gt;escaped&lt;/b&gt;",
)
LIVE = "<img src=x onerror=alert(2)> posted live"

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline")));
"""

INJECTED = (
    "img[src='x'], [onerror], [onload], [onclick], a[href^='javascript:'],"
    " iframe, object, embed, svg[onload]"
)


def _post_corpus(live_meeting):
    """A member and a guest named after the corpus post it everywhere they can."""
    from rooms import services
    from rooms.models import Membership, Participant, Role, User

    meeting = live_meeting["meeting"]
    room = live_meeting["room"]
    pa = Participant.objects.get(meeting=meeting, user=live_meeting["a"])
    pb = Participant.objects.get(meeting=meeting, user=live_meeting["b"])
    cid = live_meeting["challenge_id"]
    named = User.objects.create_user(
        email=f"x-{uuid.uuid4().hex[:8]}@example.org",
        display_name='"><img src=x onerror=alert(1)>',
        language="en",
    )
    Membership.objects.create(room=room, user=named, role=Role.MEMBER)
    pn = services.participant_join(meeting=meeting, user=named)
    link = services.guest_invite_create(actor=live_meeting["a"], meeting=meeting)
    guest = services.guest_join(
        token=link.token, display_name="<script>alert(1)</script>", guest_key=uuid.uuid4()
    )
    services.challenge_post(actor=pb, title=CORPUS[3], context=CORPUS[0], ask=CORPUS[1])
    first = None
    for n, text in enumerate(CORPUS):
        actor = (pb, pn, guest)[n % 3]
        idea = services.idea_post(actor=actor, challenge_id=cid, text=text, kind="idea")
        first = first or idea.result["id"]
    services.reply_post(actor=guest, idea_id=first, text=CORPUS[1])
    cluster = services.cluster_create(actor=pa, challenge_id=cid, name=CORPUS[0])
    services.idea_move(actor=pa, idea_id=first, cluster_id=cluster.result["id"])


def _watch(page) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.add_init_script(WATCH)
    page.reload()
    return dialogs


def test_the_board_shows_the_corpus_as_text(open_page, live_meeting):
    """Snapshot and live events: every corpus entry shows literally on the cards, for the
    facilitator and for a member; nothing runs."""
    off_loop(_post_corpus, live_meeting)
    path = meeting_path(live_meeting["meeting"])
    a = open_page(live_meeting["a"], path)
    b = open_page(live_meeting["b"], path)
    dialogs = {"a": _watch(a), "b": _watch(b)}
    for page in (a, b):
        wait_live(page)
        expect(page.locator(".board-idea")).to_have_count(len(CORPUS))

    # Posted live, through the composer: rendered from the event, on both boards.
    a.get_by_role("textbox", name="Your idea").fill(LIVE)
    a.get_by_role("button", name="Post", exact=True).click()
    for page in (a, b):
        expect(page.locator(".board-idea", has_text=LIVE)).to_have_count(1)

    for name, page in (("a", a), ("b", b)):
        cards = page.locator(".board-idea").all_inner_texts()
        for text in (*CORPUS, LIVE):
            assert any(text in card for card in cards), (name, text)
        assert page.locator(INJECTED).count() == 0, name
        expect(page.get_by_text('"><img src=x onerror=alert(1)>').first).to_be_visible()
        # The theme and the proposed challenge, named with the corpus, show as text too.
        expect(page.get_by_text(CORPUS[3]).first).to_be_attached()
        assert page.evaluate("window.__csp") == [], name
        assert page.errors == [], name
        assert dialogs[name] == [], name
