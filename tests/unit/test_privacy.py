"""Rooms are private: anyone who is not a member (anonymous visitors included) gets a 404
on the room and on every URL under it, exactly as if it did not exist. The URL list is
read from the URL configuration, so a new page cannot escape.

A view may answer 405 to a method it never accepts (``require_POST``) before looking at
the room: that reveals nothing, as long as a missing room gets the very same answer, and
the view's own method still gets a 404."""

import re

import pytest
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from rooms import services
from rooms.models import Membership

pytestmark = pytest.mark.django_db

# Values tried, in order, for URL arguments the test does not know (e.g. an export format).
FALLBACK_VALUES = ("md", "csv", "json", "1", "x")


def _patterns(patterns=None, namespace=""):
    """(namespaced url name, argument names) of every URL pattern of the project."""
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _patterns(p.url_patterns, ns)
        elif isinstance(p, URLPattern) and p.name:
            converters = getattr(p.pattern, "converters", None)
            names = list(converters) if converters else list(p.pattern.regex.groupindex)
            yield f"{namespace}{p.name}", names


def _room_urls(known: dict) -> list[tuple[str, str]]:
    """(URL in the private room, same URL in a room and meeting that do not exist)."""
    missing = {**known, "room_id": 10**6, "meeting_id": 10**6 + 1}
    urls = []
    for name, args in _patterns():
        if "room_id" not in args and "meeting_id" not in args:
            continue
        kwargs = {a: known[a] for a in args if a in known}
        unknown = [a for a in args if a not in known]
        for value in FALLBACK_VALUES if unknown else (None,):
            extra = dict.fromkeys(unknown, value)
            try:
                url = reverse(name, kwargs={**kwargs, **extra})
            except NoReverseMatch:
                continue
            gone = reverse(name, kwargs={**{a: missing[a] for a in kwargs}, **extra})
            urls.append((url, gone))
            break
        else:
            pytest.fail(f"could not build a URL for {name} {args}")
    return urls


def _assert_hidden(client, urls):
    """Every URL answers as for a missing room, and 404 to at least one method."""
    leaks = {}
    for url, gone in urls:
        statuses = {m: getattr(client, m)(url).status_code for m in ("get", "post")}
        baseline = {m: getattr(client, m)(gone).status_code for m in ("get", "post")}
        if statuses != baseline or 404 not in statuses.values():
            leaks[url] = (statuses, baseline)
        elif set(statuses.values()) - {404, 405}:
            leaks[url] = (statuses, baseline)
    assert leaks == {}


def _page(response) -> bytes:
    """The page without its per-request tokens (CSRF token, CSP nonce)."""
    return re.sub(rb'(value|nonce)="[A-Za-z0-9_+/=-]{16,}"', b"", response.content)


@pytest.fixture
def private_room(room_factory, meeting_factory, member_factory):
    room = room_factory()
    owner = room.memberships.get().user
    meeting = meeting_factory(room=room)
    participant = services.participant_join(meeting=meeting, user=owner)
    challenge_id = services.challenge_post(actor=participant, title="Défi").result["id"]
    invite = services.invite_create(actor=owner, room=room)
    other = Membership.objects.get(room=room, user=member_factory(room))
    known = {
        "room_id": room.pk,
        "meeting_id": meeting.pk,
        "challenge_id": challenge_id,
        "invite_id": invite.pk,
        "membership_id": other.pk,
    }
    return room, owner, _room_urls(known)


def test_every_room_url_is_listed(private_room):
    """The URL walk finds the room pages (so the tests below cannot pass vacuously)."""
    _room, _owner, urls = private_room
    assert len(urls) >= 10
    assert any(u.endswith("/invites/") for u, _gone in urls)
    assert any("/meetings/" in u for u, _gone in urls)


def test_non_member_gets_404_everywhere(client, private_room, user_factory):
    """A logged-in non-member gets 404 on every room and meeting URL."""
    _room, _owner, urls = private_room
    client.force_login(user_factory())
    _assert_hidden(client, urls)


def test_anonymous_visitor_gets_404_everywhere(client, private_room):
    """An anonymous visitor gets 404 too (not a login redirect that confirms the room)."""
    _room, _owner, urls = private_room
    _assert_hidden(client, urls)


def test_my_pages_answer_404_to_every_method(client, private_room, user_factory):
    """The room pages of this module answer 404 even to a method they do not accept."""
    _room, _owner, urls = private_room
    client.force_login(user_factory())
    for url, _gone in urls:
        if "/archive" in url or "/summary" in url or "/export" in url or "guest" in url:
            continue
        if "/consent/" in url:
            continue
        assert client.get(url).status_code == 404, url
        assert client.post(url).status_code == 404, url


def test_unknown_room_and_private_room_look_the_same(client, private_room, user_factory):
    """The 404 page of a private room is the same as for a room that does not exist."""
    room, _owner, _urls = private_room
    client.force_login(user_factory())
    private = client.get(reverse("rooms:room", args=[room.pk]))
    missing = client.get(reverse("rooms:room", args=[room.pk + 1000]))
    assert private.status_code == missing.status_code == 404
    private_url = reverse("rooms:room", args=[room.pk]).encode()
    missing_url = reverse("rooms:room", args=[room.pk + 1000]).encode()
    assert _page(private).replace(private_url, b"URL") == _page(missing).replace(
        missing_url, b"URL"
    )


def test_members_see_the_room_pages(client, private_room):
    """The owner opens the same pages (a positive control for the tests above)."""
    room, owner, _urls = private_room
    client.force_login(owner)
    for name in ("room", "room_edit", "room_leave", "invites", "meeting_create"):
        assert client.get(reverse(f"rooms:{name}", args=[room.pk])).status_code == 200
    meeting = room.meetings.get()
    assert client.get(meeting.get_absolute_url()).status_code == 200


def test_a_meeting_of_another_room_is_not_found(client, private_room, room_factory):
    """A member of room A cannot open a meeting of room B through room A's URL."""
    room, owner, _urls = private_room
    other_room = room_factory(owner=owner)
    meeting = room.meetings.get()
    assert client.get(meeting.get_absolute_url()).status_code == 404  # anonymous
    client.force_login(owner)
    url = reverse("rooms:meeting", args=[other_room.pk, meeting.pk])
    assert client.get(url).status_code == 404
