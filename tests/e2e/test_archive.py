"""The archive in a real browser (issue 6): a facilitator ends a meeting from the board and
publishes its summary; another member finds one of its ideas through search, lands on the
idea in the summary and downloads the Markdown export."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.conftest import meeting_path, off_loop, wait_live

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # When an earlier test started the browser, the session server forks from a process
    # where Playwright runs threads; the child only runs daphne.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

BAKERY = "Partner with the neighbourhood bakery for a tasting evening"


@pytest.fixture
def meeting_with_ideas(live_meeting):
    """The live meeting of ``live_meeting`` with two ideas, a question, a reply and a
    vote, in the vote phase."""
    from rooms import services
    from rooms.models import Participant

    meeting = live_meeting["meeting"]
    pa = Participant.objects.get(meeting=meeting, user=live_meeting["a"])
    pb = Participant.objects.get(meeting=meeting, user=live_meeting["b"])
    cid = live_meeting["challenge_id"]

    def fill():
        bakery = services.idea_post(actor=pb, challenge_id=cid, text=BAKERY).result["id"]
        services.idea_post(actor=pa, challenge_id=cid, text="Print a loyalty card.")
        services.idea_post(actor=pa, challenge_id=cid, kind="question", text="Who buys today?")
        services.reply_post(actor=pa, idea_id=bakery, text="Yes, and invite the local press")
        services.phase_set(actor=pa, phase="vote")
        services.vote_cast(actor=pb, idea_id=bakery)
        return bakery

    live_meeting["idea_id"] = off_loop(fill)
    return live_meeting


def test_end_publish_search_and_export(open_page, board_server, meeting_with_ideas):
    """The facilitator ends the meeting with the board's control; the summary is a draft
    that the member cannot open until the facilitator publishes it; then the member's
    search for a word of an idea finds it, the result opens the summary at that idea, and
    the Markdown export contains it."""
    from rooms.models import MeetingState, Summary

    meeting = meeting_with_ideas["meeting"]
    room = meeting_with_ideas["room"]
    idea_id = meeting_with_ideas["idea_id"]
    summary_path = reverse("archive:summary", args=[room.pk, meeting.pk])

    # The facilitator ends the meeting from the board (the control asks to confirm).
    a = open_page(meeting_with_ideas["a"], meeting_path(meeting))
    wait_live(a)
    a.get_by_role("button", name="End the meeting").click()
    a.get_by_role("group", name="End the meeting now for everyone?").get_by_role(
        "button", name="End the meeting"
    ).click()
    expect(a.locator('.board-header .badge[data-state="ended"]')).to_have_text("Ended")
    meeting.refresh_from_db()
    assert meeting.state == MeetingState.ENDED
    assert Summary.objects.get(meeting=meeting).published_at is None

    # Until it is published, the member gets the 404 of a page that does not exist.
    b = open_page(meeting_with_ideas["b"], summary_path)
    assert b.goto(board_server.url + summary_path).status == 404

    # The facilitator goes from the meeting page to its draft summary and publishes it.
    a.reload()
    a.locator(".page-header").get_by_role("link", name="Summary").click()
    expect(a).to_have_url(board_server.url + summary_path)
    expect(a.get_by_text("Draft: only facilitators see it")).to_be_visible()
    expect(a.locator(f"#idea-{idea_id}")).to_contain_text(BAKERY)
    a.get_by_role("button", name="Publish").click()
    expect(a.locator(".messages")).to_contain_text("The summary is published")
    expect(a.get_by_text("Draft: only facilitators see it")).to_have_count(0)
    assert Summary.objects.get(meeting=meeting).published_at is not None

    # The member searches the archive for a word of the idea and follows the result.
    b.goto(board_server.url + "/")
    b.get_by_role("link", name="Search the archive").click()
    b.get_by_label("Words to find").fill("bakery")
    b.get_by_role("button", name="Search", exact=True).click()
    results = b.locator(".search-results > li")
    expect(results).to_have_count(1)
    expect(results.first.locator("mark")).to_have_text("bakery")
    expect(results.first).to_contain_text("Monday Pause")
    results.first.get_by_role("link").click()
    expect(b).to_have_url(f"{board_server.url}{summary_path}#idea-{idea_id}")
    idea = b.locator(f"#idea-{idea_id}")
    expect(idea).to_contain_text(BAKERY)
    expect(idea).to_contain_text("1 vote")
    expect(idea).to_contain_text("Yes, and invite the local press")
    expect(idea).to_be_in_viewport()

    # The member downloads the Markdown export: it holds the idea.
    with b.expect_download() as download_info:
        b.get_by_role("link", name="Markdown").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".md")
    markdown = download.path().read_text(encoding="utf-8")
    assert "Monday Pause" in markdown
    assert BAKERY in markdown
    assert "Print a loyalty card." in markdown

    assert a.errors == [] and b.errors == []
