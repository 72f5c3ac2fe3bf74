"""Archive pages: a room's past meetings, the summary page, consent form, my actions."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from rooms.models import Challenge, Consent, Meeting, MeetingState, Summary
from rooms.services import archive as archive_services
from tests.unit.archive_scenario import (
    ANON_PAIRS,
    assert_consent,
    play,
    publish,
    section,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def s():
    return play()


def _page(client, user, s):
    client.force_login(user)
    return client.get(reverse("archive:summary", args=[s.room.pk, s.meeting.pk]))


def test_everything_under_a_room_is_404_for_non_members_and_anonymous_visitors(client, s):
    """A non-member or an anonymous visitor gets 404 on every archive URL of the room."""
    publish(s)
    urls = [
        reverse("archive:room", args=[s.room.pk]),
        reverse("archive:summary", args=[s.room.pk, s.meeting.pk]),
        reverse("archive:export", args=[s.room.pk, s.meeting.pk, "md"]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404
    client.force_login(s.olga)
    for url in urls:
        assert client.get(url).status_code == 404
    post = reverse("archive:summary_publish", args=[s.room.pk, s.meeting.pk])
    assert client.post(post).status_code == 404


def test_a_draft_summary_is_for_facilitators_only(client, s):
    """Before publishing, a member gets 404 and the facilitator sees edit and publish."""
    assert _page(client, s.bob, s).status_code == 404
    page = _page(client, s.fanny, s).content.decode()
    assert 'name="intro"' in page
    assert reverse("archive:summary_publish", args=[s.room.pk, s.meeting.pk]) in page


def test_facilitator_edits_then_publishes_and_members_read_it(client, s):
    """The facilitator's text shows, escaped; after publishing, members read the page."""
    client.force_login(s.fanny)
    edit = reverse("archive:summary_edit", args=[s.room.pk, s.meeting.pk])
    client.post(edit, {"intro": "Merci à toutes <b>!</b>", "conclusion": "À bientôt"})
    client.post(reverse("archive:summary_publish", args=[s.room.pk, s.meeting.pk]))
    assert Summary.objects.get(meeting=s.meeting).published_at is not None
    page = _page(client, s.bob, s).content.decode()
    assert "Merci à toutes &lt;b&gt;!&lt;/b&gt;" in page
    assert "À bientôt" in page
    assert 'name="intro"' not in page
    assert "css/print.css" in page and 'media="print"' in page


def test_summary_page_shows_ranked_ideas_clusters_actions_and_escapes_text(client, s):
    """Ideas in rank order with anchors, the cluster, the action with status, and user
    text escaped."""
    publish(s)
    page = _page(client, s.bob, s).content.decode()
    raise_pos = page.index(f'id="idea-{s.ids["raise"]}"')
    publish_pos = page.index(f'id="idea-{s.ids["publish"]}"')
    ask_pos = page.index(f'id="idea-{s.ids["ask"]}"')
    assert raise_pos < publish_pos < ask_pos
    assert "Prix" in page
    assert f'id="action-{s.ids["action"]}"' in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("consent", [c.value for c in Consent])
def test_summary_page_respects_every_consent_level(client, s, consent):
    """A member sees what the owner consented to; the owner always sees all of it."""
    publish(s)
    Challenge.objects.filter(pk=s.ids["pricing"]).update(consent=consent)
    start = f'id="challenge-{s.ids["pricing"]}"'
    for user, owner_view in ((s.bob, False), (s.alice, True)):
        page = _page(client, user, s).content.decode()
        part = section(page, start, "</section>")
        if part:
            part = "Fixer mes tarifs " + part
        assert_consent(part, page, consent, owner_view=owner_view)


@pytest.mark.parametrize("viewer", ["fanny", "chloe", "bob"])
def test_summary_page_never_shows_anonymous_authors(client, s, viewer):
    """Anonymous ideas, replies and takeaways have no author for anyone, facilitators
    and the author included."""
    publish(s)
    page = _page(client, getattr(s, viewer), s).content.decode()
    for anchor, name in (
        (f'id="idea-{s.ids["yearly"]}"', "Chloé"),
        (f'id="reply-{s.ids["reply_anon"]}"', "Bob"),
        (f'id="takeaway-{s.ids["take_anon"]}"', "Chloé"),
    ):
        item = section(page, anchor, "</li>")
        assert item, anchor
        assert name not in item
    assert all(text in page for text, _ in ANON_PAIRS)


def test_owner_sets_consent_from_the_summary_page(client, s):
    """The consent form is shown to the owner only, and saves her choice."""
    publish(s)
    url = reverse("archive:consent", args=[s.room.pk, s.meeting.pk, s.ids["pricing"]])
    assert url not in _page(client, s.bob, s).content.decode()
    client.post(url, {"consent": "private"})  # Bob, not the owner
    assert Challenge.objects.get(pk=s.ids["pricing"]).consent == "full"
    assert url in _page(client, s.alice, s).content.decode()
    client.post(url, {"consent": "private"})
    assert Challenge.objects.get(pk=s.ids["pricing"]).consent == "private"
    assert "Fixer mes tarifs" not in _page(client, s.bob, s).content.decode()


def test_room_archive_lists_past_meetings_newest_first_and_paginates(client, s):
    """Published meetings, newest first, 20 a page; drafts only for facilitators."""
    publish(s)
    now = timezone.now()
    for n in range(21):
        m = Meeting.objects.create(
            room=s.room,
            title=f"Ancienne séance {n:02d}",
            scheduled_at=now - dt.timedelta(days=30 + n),
            state=MeetingState.ENDED,
            ended_at=now - dt.timedelta(days=30 + n),
        )
        Summary.objects.create(meeting=m, data={}, published_at=now)
    draft = Meeting.objects.create(
        room=s.room, title="Brouillon", scheduled_at=now, state=MeetingState.ENDED, ended_at=now
    )
    Summary.objects.create(meeting=draft, data={})
    client.force_login(s.bob)
    url = reverse("archive:room", args=[s.room.pk])
    first = client.get(url).content.decode()
    assert "Brouillon" not in first
    assert first.index("Pause de janvier") < first.index("Ancienne séance 00")
    assert "Ancienne séance 19" not in first
    assert "Ancienne séance 20" in client.get(url + "?page=2").content.decode()
    client.force_login(s.fanny)
    assert "Brouillon" in client.get(url).content.decode()


def test_my_actions_lists_my_challenges_and_actions_across_rooms(client, s):
    """Alice finds her challenge and her action with its status."""
    client.force_login(s.alice)
    page = client.get(reverse("archive:my_actions")).content.decode()
    assert "Fixer mes tarifs" in page
    assert "Passer mes tarifs à 60 € en janvier" in page
    client.force_login(s.olga)
    page = client.get(reverse("archive:my_actions")).content.decode()
    assert "Fixer mes tarifs" not in page


def test_consent_service_is_refused_to_a_facilitator(s):
    """Even a facilitator cannot choose for the owner (the service says forbidden)."""
    from rooms.errors import Forbidden

    with pytest.raises(Forbidden):
        archive_services.challenge_consent_set(
            challenge=Challenge.objects.get(pk=s.ids["pricing"]), user=s.fanny, consent="private"
        )
