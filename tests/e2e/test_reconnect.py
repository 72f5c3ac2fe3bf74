"""A crash of the web process mid-meeting: the boards say so, come back by themselves, and
an idea typed while the server was down is posted exactly once."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import meeting_path, wait_live

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # Restarting forks daphne from a process where Playwright runs threads; the child only
    # runs the server, which is what the reconnect needs.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]


def status(page):
    return page.locator(".board-status >> visible=true").first


def test_killed_server_boards_reconnect_and_offline_post_is_applied_once(
    open_page, live_meeting, board_server
):
    """daphne is killed (SIGKILL) and started again on the same port: both pages show
    "reconnecting", A's post typed meanwhile waits in the queue, then both pages go live
    again, B sees the post, and the database holds it once."""
    from rooms.models import Idea

    path = meeting_path(live_meeting["meeting"])
    a = open_page(live_meeting["a"], path)
    b = open_page(live_meeting["b"], path)
    wait_live(a)
    wait_live(b)
    before = "Posted before the crash"
    a.get_by_role("textbox", name="Your idea").fill(before)
    a.get_by_role("button", name="Post", exact=True).click()
    expect(b.locator(".board-idea", has_text=before)).to_be_visible()

    board_server.kill()
    for page in (a, b):
        expect(status(page)).to_have_attribute("data-status", "reconnecting", timeout=5000)
        expect(status(page)).to_contain_text("Reconnecting")

    offline = "Typed while the server was down"
    a.get_by_role("textbox", name="Your idea").fill(offline)
    a.get_by_role("button", name="Post", exact=True).click()
    expect(status(a).locator(".board-status__queued")).to_have_attribute("data-queued", "1")
    expect(a.locator("[data-pending-ref]", has_text=offline)).to_be_visible()
    assert not Idea.objects.filter(text=offline).exists()

    board_server.restart(down_for=1.0)
    for page in (a, b):
        expect(status(page)).to_have_attribute("data-status", "live", timeout=20_000)
    for page in (a, b):
        expect(page.locator(".board-idea[data-idea-id]", has_text=offline)).to_have_count(1)
        expect(page.locator(".board-idea[data-idea-id]", has_text=before)).to_have_count(1)
    expect(a.locator("[data-pending-ref]")).to_have_count(0)

    # Give a duplicate every chance to show up before counting.
    a.wait_for_timeout(1000)
    assert Idea.objects.filter(text=offline).count() == 1
    assert Idea.objects.filter(text=before).count() == 1
    # The queue persisted in sessionStorage is empty once acked.
    assert a.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('pause.board'))") == []

    # Both stores converged on the server's state: same ideas, same seq.
    from rooms.models import Meeting

    meeting = Meeting.objects.get(pk=live_meeting["meeting"].pk)
    ids = sorted(Idea.objects.filter(meeting=meeting).values_list("id", flat=True))
    for page in (a, b):
        state = page.evaluate(
            "() => { const s = window.pauseBoard.store;"
            " return { seq: s.seq.value, ids: s.snapshot.value.ideas.map(i => i.id) }; }"
        )
        assert sorted(state["ids"]) == ids
        assert state["seq"] == meeting.last_seq
    assert a.errors == [] and b.errors == []
