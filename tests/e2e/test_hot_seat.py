"""A whole hot-seat meeting driven from the board, in three browsers: a facilitator, the
member whose challenge is in the hot seat, and a guest who joined through the guest link.

Every step goes through the board's controls (no service call after the setup), and the
database is checked at the end."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import meeting_path, off_loop, wait_live
from tests.e2e.test_a11y import blocking_violations

pytestmark = pytest.mark.django_db(transaction=True)

TITLE = "Price my workshops"
QUESTION = "How much do you charge today?"
ASK = "Help me choose a price for a 2-hour workshop."
GUEST_IDEA = "Offer a pilot price to three clients"
GUEST_IDEA_EDITED = "Offer a pilot price to three loyal clients"
FAC_IDEAS = ("Ask ten clients what they would pay", "Publish the price on your site")
ACTION = "Run a pilot at 150 euros with three loyal clients"


@pytest.fixture
def hot_seat(db, room_factory, member_factory, meeting_factory, user_factory):
    """A scheduled hot-seat meeting: Fay facilitates (room owner), Olga brings a challenge,
    and the meeting has a guest link."""
    from rooms import services
    from rooms.models import Role

    fay = user_factory(display_name="Fay Facilitator", language="en")
    room = room_factory(owner=fay, name="Makers")
    olga = member_factory(room, Role.MEMBER, display_name="Olga Owner", language="en")
    meeting = meeting_factory(room=room, title="Hot seat Pause", format="hot-seat")
    invite = off_loop(lambda: services.guest_invite_create(actor=fay, meeting=meeting))
    return {"fay": fay, "olga": olga, "meeting": meeting, "token": invite.token}


def phase_of(page):
    return page.locator(".board-phase")


def card(page, text):
    return page.locator(".board-idea[data-idea-id]", has_text=text)


def next_phase(fac, pages, phase):
    fac.get_by_role("button", name="Next phase").click()
    for page in pages:
        expect(phase_of(page)).to_have_attribute("data-phase", phase)


def remaining_ms(page) -> int:
    return int(page.locator(".board-timer").get_attribute("data-remaining-ms"))


def test_hot_seat_meeting_from_lobby_to_takeaways(open_page, hot_seat):
    """Facilitator, challenge owner and guest run present → clarify → ask → ideas (hidden
    until reveal) → vote → plan → takeaways from the board: each phase offers only what it
    allows, the guest's idea stays hidden from the owner until the reveal, a drag puts it in
    a theme, the guest votes within the budget, the owner's action comes from that idea,
    the three pages show the same countdown, and the meeting ends with everything stored."""
    from rooms.models import Action, Challenge, Idea, Meeting, Participant, Summary, Vote

    meeting = hot_seat["meeting"]
    fac = open_page(hot_seat["fay"], meeting_path(meeting))
    own = open_page(hot_seat["olga"], meeting_path(meeting))
    guest = open_page(None, f"/g/{hot_seat['token']}/")
    guest.get_by_label("Your name").fill("Gus Guest")
    guest.get_by_role("button", name="Join the meeting").click()
    guest.wait_for_url(f"**/g/{hot_seat['token']}/board/")
    pages = (fac, own, guest)
    for page in pages:
        wait_live(page)

    # Lobby: the facilitator starts and sets the meeting up; the owner puts her challenge
    # on the agenda (a guest cannot propose one).
    fac.get_by_role("button", name="Start the meeting").click()
    for page in pages:
        expect(phase_of(page)).to_have_attribute("data-phase", "lobby")
    settings = fac.locator(".board-facilitator__settings")
    settings.locator("summary").click()
    settings.get_by_label("Votes per person per challenge").fill("2")
    settings.get_by_label("Hide ideas until reveal").check()
    settings.get_by_role("button", name="Save").click()
    expect(settings.get_by_label("Hide ideas until reveal")).to_be_checked()
    expect(guest.get_by_role("button", name="Propose a challenge")).to_have_count(0)
    expect(guest.get_by_role("textbox", name="Challenge")).to_have_count(0)

    own.get_by_role("textbox", name="Challenge").fill(TITLE)
    own.get_by_role("textbox", name="Context").fill("I run pottery workshops for adults.")
    own.get_by_role("button", name="Add to the agenda").click()
    for page in pages:
        expect(page.locator(".board-agenda__item", has_text=TITLE)).to_be_visible()

    # Present: the facilitator puts the challenge in the hot seat; nobody can post.
    fac.get_by_role("button", name="Put in the hot seat").click()
    for page in pages:
        expect(phase_of(page)).to_have_attribute("data-phase", "present")
        expect(page.locator(".board-challenge__title")).to_have_text(TITLE)
    expect(guest.get_by_role("textbox", name="Your idea")).to_be_disabled()

    # Clarify: questions only; the composer does not offer ideas.
    next_phase(fac, pages, "clarify")
    expect(guest.locator('input[name="board-kind"]')).to_have_count(0)
    expect(guest.get_by_role("textbox", name="Your idea")).to_have_count(0)
    guest.get_by_role("textbox", name="Your question").fill(QUESTION)
    guest.get_by_role("button", name="Post", exact=True).click()
    for page in (fac, own):
        expect(card(page, QUESTION).locator(".board-idea__kind")).to_have_text("Question")
        expect(card(page, QUESTION).locator(".board-idea__author")).to_have_text("Gus Guest")

    # Ask: the owner writes the help wanted; everyone reads it.
    next_phase(fac, pages, "ask")
    own.get_by_role("textbox", name="What help do you want from the group?").fill(ASK)
    own.get_by_role("button", name="Save the ask").click()
    expect(guest.locator(".board-challenge__ask")).to_contain_text(ASK)
    # The facilitator may reword it: she gets the same editor, filled in.
    expect(fac.get_by_role("textbox", name="Help wanted")).to_have_value(ASK)

    # Ideas, hidden until the reveal: the owner sees a hidden card, not its text.
    next_phase(fac, pages, "ideas")
    guest.get_by_role("textbox", name="Your idea").fill(GUEST_IDEA)
    guest.get_by_role("button", name="Post", exact=True).click()
    expect(card(guest, GUEST_IDEA)).to_be_visible()
    for text in FAC_IDEAS:
        fac.get_by_role("textbox", name="Your idea").fill(text)
        fac.get_by_role("button", name="Post", exact=True).click()
        expect(card(fac, text)).to_be_visible()
    hidden_cards = own.locator(".board-idea", has_text="Hidden until the facilitator reveals")
    expect(hidden_cards).to_have_count(3)
    expect(own.get_by_text(GUEST_IDEA)).to_have_count(0)
    owner_texts = own.evaluate("window.pauseBoard.store.snapshot.value.ideas.map(i => i.text)")
    assert GUEST_IDEA not in owner_texts
    fac.get_by_role("button", name="Reveal ideas (3 hidden)").click()
    expect(card(own, GUEST_IDEA)).to_be_visible()
    expect(hidden_cards).to_have_count(0)

    # The guest edits her idea; the facilitator drags it onto a new theme.
    mine = guest.locator(
        f'.board-idea[data-idea-id="{card(guest, GUEST_IDEA).get_attribute("data-idea-id")}"]'
    )
    mine.get_by_role("button", name="Edit").click()
    mine.get_by_role("textbox", name="Edit").fill(GUEST_IDEA_EDITED)
    mine.get_by_role("button", name="Save").click()
    for page in pages:
        expect(card(page, GUEST_IDEA_EDITED)).to_be_visible()
    fac.get_by_role("textbox", name="New theme").fill("Pricing")
    fac.get_by_role("button", name="Add theme").click()
    theme = fac.get_by_role("region", name="Pricing")
    expect(theme).to_be_visible()
    card(fac, GUEST_IDEA_EDITED).drag_to(theme)
    for page in pages:
        expect(
            page.get_by_role("region", name="Pricing").locator(
                ".board-idea", has_text=GUEST_IDEA_EDITED
            )
        ).to_be_visible()

    # The new controls (themes, own-idea tools, reveal, ask) pass the accessibility scan.
    for page in (fac, guest):
        assert blocking_violations(page) == []

    # Vote, with a timer every page counts down the same way; the guest has two votes.
    next_phase(fac, pages, "vote")
    fac.get_by_role("spinbutton", name="Minutes").fill("3")
    fac.get_by_role("button", name="Start timer").click()
    for page in pages:
        expect(page.locator(".board-timer")).to_be_visible()
    left = [remaining_ms(page) for page in pages]
    assert max(left) - min(left) <= 2000, left
    # Each page estimates the server's clock from the welcome's server_time, which was
    # stamped a few ms before the page read it: the countdown may show a bit over 3 min.
    assert 170_000 < min(left) <= 181_000, left
    expect(guest.locator(".board-votes-left")).to_have_attribute("data-votes-left", "2")
    card(guest, GUEST_IDEA_EDITED).locator("button.board-vote").click()
    expect(guest.locator(".board-votes-left")).to_have_attribute("data-votes-left", "1")
    card(guest, FAC_IDEAS[0]).locator("button.board-vote").click()
    expect(guest.locator(".board-votes-left")).to_have_attribute("data-votes-left", "0")
    expect(card(guest, FAC_IDEAS[1]).locator("button.board-vote")).to_be_disabled()
    expect(card(own, GUEST_IDEA_EDITED).locator(".board-vote")).to_have_attribute("data-votes", "1")
    fac.get_by_role("button", name="Pause", exact=True).click()
    for page in pages:
        expect(page.locator(".board-timer__paused")).to_be_visible()
    paused = [remaining_ms(page) for page in pages]
    assert len(set(paused)) == 1, paused

    # Plan: the owner writes an action from the guest's idea.
    next_phase(fac, pages, "plan")
    for page in pages:
        expect(page.locator(".board-timer")).to_have_count(0)
    own.get_by_role("checkbox", name=GUEST_IDEA_EDITED).check()
    own.get_by_role("textbox", name="Next step").fill(ACTION)
    own.get_by_role("button", name="Add action").click()
    for page in pages:
        action = page.locator(".board-action", has_text=ACTION)
        expect(action).to_contain_text(GUEST_IDEA_EDITED)

    # Takeaways: everyone posts one.
    next_phase(fac, pages, "takeaways")
    for page, text in zip(
        pages,
        ("Timers keep us honest", "Test a price before fixing it", "Pilots first"),
        strict=True,
    ):
        page.get_by_role("textbox", name="What you take away").fill(text)
        page.get_by_role("button", name="Post", exact=True).click()
    for page in pages:
        expect(page.locator("[data-takeaway-id]")).to_have_count(3)

    # The facilitator ends the meeting.
    fac.get_by_role("button", name="End the meeting").click()
    fac.locator(".board-confirm").get_by_role("button", name="End the meeting").click()
    for page in pages:
        expect(page.locator(".board-header .badge")).to_have_attribute("data-state", "ended")

    meeting = Meeting.objects.get(pk=meeting.pk)
    assert meeting.state == "ended"
    assert Summary.objects.filter(meeting=meeting).exists()
    challenge = Challenge.objects.get(meeting=meeting)
    assert challenge.title == TITLE and challenge.ask == ASK
    assert challenge.owner.user == hot_seat["olga"]
    gus = Participant.objects.get(meeting=meeting, display_name="Gus Guest")
    assert gus.user is None
    question = Idea.objects.get(meeting=meeting, kind="question")
    assert (question.text, question.author) == (QUESTION, gus)
    idea = Idea.objects.get(meeting=meeting, author=gus, kind="idea")
    assert idea.text == GUEST_IDEA_EDITED and not idea.hidden
    assert idea.cluster is not None and idea.cluster.name == "Pricing"
    assert Idea.objects.filter(meeting=meeting, kind="idea").count() == 3
    assert Vote.objects.filter(participant=gus).count() == 2
    action = Action.objects.get(challenge=challenge)
    assert action.text == ACTION
    assert list(action.source_ideas.all()) == [idea]
    assert sorted(meeting.takeaways.values_list("author__display_name", flat=True)) == [
        "Fay Facilitator",
        "Gus Guest",
        "Olga Owner",
    ]
    for page in pages:
        assert page.errors == []


def test_facilitator_removes_the_guest_from_the_board(open_page, hot_seat):
    """The facilitator removes the guest from "who is here" (after a confirmation): the
    guest's board says so and stops, and the guest link no longer lets her back in."""
    from rooms.models import Participant

    meeting = hot_seat["meeting"]
    fac = open_page(hot_seat["fay"], meeting_path(meeting))
    guest = open_page(None, f"/g/{hot_seat['token']}/")
    guest.get_by_label("Your name").fill("Gus Guest")
    guest.get_by_role("button", name="Join the meeting").click()
    wait_live(fac)
    wait_live(guest)
    fac.get_by_role("button", name="Start the meeting").click()
    expect(guest.locator(".board-phase")).to_have_attribute("data-phase", "lobby")

    row = fac.locator(".board-presence__item", has_text="Gus Guest")
    row.locator("summary").click()
    row.get_by_role("button", name="Remove from meeting").click()
    expect(row.get_by_text("Remove Gus Guest from this meeting?")).to_be_visible()
    row.get_by_role("button", name="Remove from meeting").click()

    expect(guest.locator(".board-closed")).to_have_attribute("data-reason", "removed")
    expect(guest.locator(".board-closed")).to_contain_text("You were removed from this meeting.")
    expect(guest.locator(".board-status >> visible=true").first).to_have_attribute(
        "data-status", "closed"
    )
    expect(fac.locator(".board-presence__item", has_text="Gus Guest")).to_have_count(0)
    assert Participant.objects.get(meeting=meeting, display_name="Gus Guest").removed
    response = guest.goto(guest.url)
    assert response.status == 404
    assert fac.errors == []


@pytest.mark.parametrize(
    ("lost", "reason", "message"),
    [
        ("session", "logged_out", "You are logged out"),
        ("membership", "no_access", "You no longer have access to this meeting."),
    ],
)
def test_board_stops_and_says_why_when_access_is_gone(open_page, hot_seat, lost, reason, message):
    """The member's session (or membership) is gone on the server and the browser reports
    going offline and online again: the board reconnects at once, is refused at the
    handshake three times, asks the page, stops retrying and says why, with a login link."""
    from django.conf import settings
    from django.contrib.sessions.models import Session

    from rooms.models import Membership

    meeting = hot_seat["meeting"]
    page = open_page(hot_seat["olga"], meeting_path(meeting))
    wait_live(page)
    if lost == "session":
        name = settings.SESSION_COOKIE_NAME
        cookie = next(c for c in page.context.cookies() if c["name"] == name)
        Session.objects.filter(session_key=cookie["value"]).delete()
    else:
        Membership.objects.filter(room=meeting.room, user=hot_seat["olga"]).delete()

    page.evaluate(
        "window.dispatchEvent(new Event('offline')); window.dispatchEvent(new Event('online'))"
    )
    banner = page.locator(".board-closed")
    expect(banner).to_have_attribute("data-reason", reason, timeout=15_000)
    expect(banner).to_contain_text(message)
    login = banner.get_by_role("link", name="Log in")
    assert login.get_attribute("href").startswith("/accounts/login/?next=")
    status = page.locator(".board-status >> visible=true").first
    expect(status).to_have_attribute("data-status", "closed")
    # No more attempts once it knows.
    attempts = []
    page.on("websocket", lambda ws: attempts.append(ws.url))
    page.wait_for_timeout(3000)
    assert attempts == []
    assert page.errors == []
