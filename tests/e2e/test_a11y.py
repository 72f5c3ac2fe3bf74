"""Accessibility: an axe-core scan of the live board (light and dark, phone and desktop,
member and facilitator) and of the main pages finds no serious or critical violation."""

import os

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.conftest import meeting_path, off_loop, wait_live

pytestmark = pytest.mark.django_db(transaction=True)

BLOCKING = {"serious", "critical"}


def blocking_violations(page) -> list[str]:
    results = Axe().run(page)
    if os.environ.get("AXE_DEBUG"):  # every violation, minor ones included
        for v in results.response["violations"]:
            print("AXE", page.url, v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]])
    found = []
    for v in results.response["violations"]:
        if v.get("impact") in BLOCKING:
            targets = [", ".join(n["target"]) for n in v["nodes"][:3]]
            found.append(f"{v['id']} ({v['impact']}): {v['help']} at {targets}")
    return found


@pytest.fixture
def board_with_content(live_meeting):
    """The live meeting with a few ideas, a reply and a reaction, in the vote phase."""
    from rooms import services
    from rooms.models import Participant

    meeting = live_meeting["meeting"]
    pa = Participant.objects.get(meeting=meeting, user=live_meeting["a"])
    pb = Participant.objects.get(meeting=meeting, user=live_meeting["b"])
    cid = live_meeting["challenge_id"]

    def fill():
        first = services.idea_post(actor=pb, challenge_id=cid, text="Partner with a bakery.")
        services.idea_post(actor=pa, challenge_id=cid, kind="question", text="Which clients?")
        services.idea_post(actor=pb, challenge_id=cid, text="Anonymous one", anonymous=True)
        services.reply_post(actor=pa, idea_id=first.result["id"], text="Yes, and a shared flyer")
        services.reaction_toggle(actor=pa, idea_id=first.result["id"], emoji="💡")
        services.phase_set(actor=pa, phase="vote")
        services.timer_start(actor=pa, seconds=300)

    off_loop(fill)
    return live_meeting


@pytest.mark.parametrize(
    ("who", "width", "scheme"),
    [("a", 1280, "light"), ("b", 375, "light"), ("a", 1280, "dark"), ("b", 375, "dark")],
)
def test_live_board_has_no_serious_accessibility_violation(
    open_page, board_with_content, who, width, scheme
):
    """The board, with ideas, replies, reactions, a running timer and (for A) the
    facilitator's controls open, passes axe-core without serious or critical issues."""
    page = open_page(
        board_with_content[who],
        meeting_path(board_with_content["meeting"]),
        width=width,
        scheme=scheme,
    )
    wait_live(page)
    expect(page.locator(".board-idea")).to_have_count(3)
    expect(page.locator(".board-timer")).to_be_visible()
    if who == "a":
        page.locator(".board-facilitator__settings summary").click()
        page.locator(".board-idea__mod summary").first.click()
    assert blocking_violations(page) == []


def test_board_is_operable_by_keyboard(open_page, board_with_content):
    """Tab reaches the vote button of the first idea, and Enter casts the vote."""
    page = open_page(board_with_content["b"], meeting_path(board_with_content["meeting"]))
    wait_live(page)
    vote = page.locator("button.board-vote").first
    for _ in range(60):
        page.keyboard.press("Tab")
        if vote.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the vote button is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(vote).to_have_attribute("aria-pressed", "true")
    expect(vote).to_have_attribute("data-votes", "1")


def test_main_pages_have_no_serious_accessibility_violation(open_page, live_meeting):
    """Home, the room page, the meeting page and the login page pass axe-core without
    serious or critical issues."""
    room = live_meeting["room"]
    pages = {
        "home": (live_meeting["a"], reverse("rooms:home")),
        "room": (live_meeting["a"], room.get_absolute_url()),
        "meeting": (live_meeting["b"], meeting_path(live_meeting["meeting"])),
        "login": (None, reverse("account_login")),
    }
    problems = {}
    for name, (user, path) in pages.items():
        page = open_page(user, path)
        page.wait_for_load_state("networkidle")
        found = blocking_violations(page)
        if found:
            problems[name] = found
    assert problems == {}
