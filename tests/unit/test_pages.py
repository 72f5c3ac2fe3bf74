"""Every page renders in the site layout, with landmarks and a skip link, and obeys the
strict Content-Security-Policy: no inline style, no inline script."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from rooms import services
from rooms.models import Role

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>")


@pytest.fixture
def pages(client, room_factory, member_factory, meeting_factory):
    """The URLs of every page of this module, seen by the room's owner."""
    room = room_factory(description="Deux lundis par mois.")
    owner = room.memberships.get().user
    member_factory(room, role=Role.FACILITATOR)
    meeting = meeting_factory(room=room)
    invite = services.invite_create(actor=owner, room=room)
    client.force_login(owner)
    return [
        reverse("rooms:home"),
        reverse("rooms:profile"),
        reverse("rooms:room_create"),
        room.get_absolute_url(),
        reverse("rooms:room_edit", args=[room.pk]),
        reverse("rooms:room_leave", args=[room.pk]),
        reverse("rooms:invites", args=[room.pk]),
        reverse("rooms:meeting_create", args=[room.pk]),
        meeting.get_absolute_url(),
        reverse("account_email"),
        reverse("account_change_password"),
        reverse("rooms:join", args=[invite.token]),  # a member: redirected to the room
    ]


def _check_page(html: str) -> list[str]:
    problems = []
    if " style=" in html or "<style" in html:
        problems.append("inline style")
    if INLINE_SCRIPT.search(html):
        problems.append("inline script")
    for needle in ('<html lang="', 'class="skip-link" href="#main"', '<main id="main"', "<nav"):
        if needle not in html:
            problems.append(f"missing {needle}")
    return problems


def test_pages_render_in_the_layout_without_inline_code(client, pages):
    """Each page answers 200 and has the layout, landmarks, no inline style or script."""
    problems = {}
    for url in pages:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        found = _check_page(response.content.decode())
        if found:
            problems[url] = found
    assert problems == {}


def test_anonymous_pages_render_in_the_layout(client):
    """The landing, login, sign-up and password pages have the same layout and rules."""
    problems = {}
    for name in ("rooms:home", "account_login", "account_signup", "account_reset_password"):
        html = client.get(reverse(name)).content.decode()
        if found := [p for p in _check_page(html) if p != "missing <nav"]:
            problems[name] = found
    assert problems == {}


def test_pages_send_a_strict_csp(client):
    """The Content-Security-Policy allows no inline script or style."""
    csp = client.get(reverse("rooms:home"))["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp
    assert "style-src 'self'" in csp and "unsafe-inline" not in csp


def test_the_404_page_is_the_site_404(client):
    """A missing page gets Pause's own 404 with a way back."""
    response = client.get("/rooms/999999/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "css/pause.css" in html and reverse("account_login") in html


def test_design_system_documents_its_variables():
    """pause.css declares its variables once, documents them at the top, and has a dark
    theme that follows the system setting."""
    css = open(finders.find("css/pause.css"), encoding="utf-8").read()
    header = css[: css.index("*/")]
    declared = set(re.findall(r"^\s*(--[a-z0-9-]+):", css, re.M))
    assert {"--color-bg", "--color-primary", "--color-focus", "--note-1"} <= declared
    for name in ("--color-primary", "--color-focus", "--note-1", "--space-1", "--radius"):
        assert name in header
    assert "@media (prefers-color-scheme: dark)" in css
    assert ":focus-visible" in css


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _themes() -> list[dict[str, str]]:
    css = open(finders.find("css/pause.css"), encoding="utf-8").read()
    light = css[css.index(":root {") : css.index("@media (prefers-color-scheme: dark)")]
    dark = css[css.index("@media (prefers-color-scheme: dark)") :]
    dark = dark[: dark.index("\n}\n")]
    pattern = r"(--[a-z0-9-]+):\s*(#[0-9a-f]{6});"
    return [dict(re.findall(pattern, light)), dict(re.findall(pattern, dark))]


@pytest.mark.parametrize(
    ("text", "background"),
    [
        ("--color-text", "--color-bg"),
        ("--color-text", "--color-surface"),
        ("--color-text-muted", "--color-bg"),
        ("--color-text-muted", "--color-surface"),
        ("--color-text-muted", "--color-surface-2"),
        ("--color-primary", "--color-bg"),
        ("--color-primary", "--color-surface"),
        ("--color-on-primary", "--color-primary"),
        ("--color-accent", "--color-accent-soft"),
        ("--color-plum", "--color-plum-soft"),
        ("--color-sun", "--color-sun-soft"),
        ("--color-info", "--color-info-soft"),
        ("--color-live", "--color-danger-soft"),
        ("--color-danger", "--color-surface"),
        ("--color-primary", "--color-primary-soft"),
        ("--note-ink", "--note-1"),
        ("--note-ink", "--note-5"),
    ],
)
def test_colour_pairs_meet_wcag_aa(text, background):
    """Text colours reach WCAG AA contrast (4.5:1) on their backgrounds in both themes."""
    for theme in _themes():
        assert _contrast(theme[text], theme[background]) >= 4.5, (text, background)
