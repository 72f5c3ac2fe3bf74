"""Two members in two browsers on one live board see each other's posts, votes, reactions
and replies as they happen."""

import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import meeting_path, off_loop, screenshot_board, wait_live

pytestmark = pytest.mark.django_db(transaction=True)


def idea_card(page, text):
    return page.locator(".board-idea", has_text=text)


def test_two_members_see_posts_votes_reactions_and_replies_live(open_page, live_meeting):
    """A posts an idea and B sees it within 1 s; B reacts and replies, A sees both; after
    the facilitator opens the vote, B votes and A sees the count."""
    path = meeting_path(live_meeting["meeting"])
    a = open_page(live_meeting["a"], path)
    b = open_page(live_meeting["b"], path)
    wait_live(a)
    wait_live(b)
    # Presence: each sees the other.
    expect(a.locator(".board-presence__item", has_text="Bea Member")).to_be_visible()
    expect(b.locator(".board-presence__item", has_text="Ada Facilitator")).to_be_visible()

    text = "Offer a free 30-minute diagnosis to five shops nearby"
    a.get_by_role("textbox", name="Your idea").fill(text)
    started = time.monotonic()
    a.get_by_role("button", name="Post", exact=True).click()
    expect(idea_card(b, text)).to_be_visible(timeout=1000)
    seen_after = time.monotonic() - started
    assert seen_after < 1.0
    expect(idea_card(b, text).locator(".board-idea__author")).to_have_text("Ada Facilitator")
    expect(idea_card(a, text).locator(".board-idea__author")).to_have_text("Ada Facilitator (you)")

    # B reacts with 💡 and replies.
    card_b = idea_card(b, text)
    card_b.get_by_role("button", name="Add a reaction").click()
    card_b.locator('.board-reaction[data-emoji="💡"]').click()
    expect(idea_card(a, text).locator('.board-reaction[data-emoji="💡"]')).to_have_attribute(
        "data-count", "1"
    )
    expect(card_b.locator('.board-reaction[data-emoji="💡"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    card_b.get_by_role("button", name="Reply").click()
    card_b.get_by_role("textbox", name="Reply").fill("Yes, and bring printed cards")
    card_b.get_by_role("button", name="Send reply").click()
    for page in (a, b):
        expect(idea_card(page, text).locator(".board-reply")).to_contain_text(
            "Yes, and bring printed cards"
        )
    expect(idea_card(a, text).locator(".board-reply__author")).to_have_text("Bea Member")

    # The facilitator moves to the vote phase from the board; B votes.
    a.get_by_role("button", name="Next phase").click()
    expect(b.locator(".board-phase")).to_have_attribute("data-phase", "vote")
    expect(b.locator(".board-votes-left")).to_have_attribute("data-votes-left", "3")
    idea_card(b, text).locator("button.board-vote").click()
    expect(idea_card(a, text).locator(".board-vote")).to_have_attribute("data-votes", "1")
    expect(b.locator(".board-votes-left")).to_have_attribute("data-votes-left", "2")
    expect(idea_card(b, text).locator("button.board-vote")).to_have_attribute(
        "aria-pressed", "true"
    )

    assert a.errors == [] and b.errors == []


def test_board_screenshots_at_phone_and_desktop_widths(open_page, live_meeting):
    """The board renders at 375 px and 1280 px (screenshots in docs/screenshots/), with no
    horizontal scroll on the phone and the composer on screen."""
    from rooms import services
    from rooms.models import Participant

    meeting = live_meeting["meeting"]
    pa = Participant.objects.get(meeting=meeting, user=live_meeting["a"])
    pb = Participant.objects.get(meeting=meeting, user=live_meeting["b"])
    cid = live_meeting["challenge_id"]
    samples = [
        (pb, "idea", "Ask your accountant who else she works with: warm introductions."),
        (pa, "question", "Who already bought from you, even once?"),
        (pb, "idea", "Run a free workshop at the chamber of commerce."),
        (pa, "idea", "Post one customer story a week on LinkedIn."),
    ]

    def post_samples():
        for actor, kind, text in samples:
            services.idea_post(actor=actor, challenge_id=cid, text=text, kind=kind)

    off_loop(post_samples)

    phone = open_page(live_meeting["b"], meeting_path(meeting), width=375, height=812)
    wait_live(phone)
    expect(phone.locator(".board-idea")).to_have_count(4)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    expect(phone.locator(".board-composer")).to_be_in_viewport()
    screenshot_board(phone, "board-375")

    desk = open_page(live_meeting["a"], meeting_path(meeting), width=1280, height=1000)
    wait_live(desk)
    expect(desk.locator(".board-idea")).to_have_count(4)
    path = screenshot_board(desk, "board-1280")
    assert path.stat().st_size > 10_000
