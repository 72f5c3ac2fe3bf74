"""Every page of the project obeys the strict Content-Security-Policy, and every form is
protected against cross-site request forgery.

The pages come from the URL configuration (a new page cannot escape), each rendered as
someone who may see it: the owner of a room with an ended, published meeting and a live
one (room, meeting, board, archive, summary, search pages), a staff member (admin), a
guest with their cookie (guest pages) and an anonymous visitor (landing and account
pages). ``manage.py check --deploy`` is tested in tests/unit/test_settings.py.
"""

from __future__ import annotations

import uuid
from urllib.parse import urljoin, urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from rooms import guests, services
from rooms.models import Invite, Membership, User
from tests.security.html_checks import Page
from tests.unit import archive_scenario

pytestmark = pytest.mark.django_db

FALLBACK_VALUES = ("x", "1", "rooms", "abc123", "0-x")
NOT_HTML = {"healthz", "archive:calendar", "archive:export", "set_language"}
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json", "importmap"}


def _patterns(patterns=None, namespace=""):
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _patterns(p.url_patterns, ns)
        elif isinstance(p, URLPattern) and p.name:
            converters = getattr(p.pattern, "converters", None)
            names = list(converters) if converters else list(p.pattern.regex.groupindex)
            yield f"{namespace}{p.name}", names


@pytest.fixture
def site(db, meeting_factory):
    """The people and objects every page needs, and one logged-in client per viewer."""
    s = archive_scenario.play(prefix="w-")
    archive_scenario.publish(s)
    live = meeting_factory(room=s.room, title="Live one", format="hot-seat")
    fac = services.participant_join(meeting=live, user=s.fanny)
    services.meeting_start(actor=fac)
    guest_link = services.guest_invite_create(actor=s.fanny, meeting=live)
    invite = services.invite_create(actor=s.fanny, room=s.room)
    key = uuid.uuid4()
    services.guest_join(token=guest_link.token, display_name="Gaby", guest_key=key)
    owner = Client()
    owner.force_login(s.fanny)
    staff = Client()
    staff.force_login(
        User.objects.create_superuser(email="staff@example.org", password=None, display_name="S")
    )
    guest = Client()
    guest.cookies[guests.COOKIE] = signing.dumps({str(live.pk): str(key)}, salt=guests.SALT)
    known = {
        "room_id": s.room.pk,
        "challenge_id": s.ids["pricing"],
        "invite_id": invite.pk,
        "membership_id": Membership.objects.get(room=s.room, user=s.alice).pk,
    }
    tokens = {
        "rooms:join": invite.token,
        "guests:join": guest_link.token,
        "guests:board": guest_link.token,
    }
    return {
        "s": s,
        "meetings": (s.meeting.pk, live.pk),
        "known": known,
        "tokens": tokens,
        "clients": {"owner": owner, "staff": staff, "guest": guest, "anonymous": Client()},
        "invite": invite,
    }


def _pages(site) -> list[tuple[str, str]]:
    """(viewer, URL) of every HTML page, as the viewers who may see it."""
    s = site["s"]
    pages: list[tuple[str, str]] = []
    for name, args in _patterns():
        if name in NOT_HTML:
            continue
        kwargs = {a: site["known"][a] for a in args if a in site["known"]}
        if "token" in args and name in site["tokens"]:
            kwargs["token"] = site["tokens"][name]
        if name.startswith("admin:") and "object_id" in args:
            kwargs["object_id"] = s.room.pk if "room" in name else 1
        variants = [{"meeting_id": m} for m in site["meetings"]] if "meeting_id" in args else [{}]
        for variant in variants:
            full = {**kwargs, **variant}
            unknown = [a for a in args if a not in full]
            url = None
            for value in FALLBACK_VALUES if unknown else (None,):
                try:
                    url = reverse(name, kwargs={**full, **dict.fromkeys(unknown, value)})
                    break
                except NoReverseMatch:
                    continue
            assert url is not None, name
            if name.startswith("admin:"):
                pages.append(("staff", url))
            elif name.startswith("guests:"):
                pages += [("guest", url), ("anonymous", url)]
            else:
                pages += [("owner", url), ("anonymous", url)]
    pages += [
        ("owner", reverse("archive:search") + "?q=tarifs+prix"),
        ("owner", reverse("archive:search") + "?q=blog"),
        ("anonymous", "/does-not-exist/"),
    ]
    return pages


def _csp(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    policy = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            policy[words[0]] = words[1:]
    return policy


def _render_all(site):
    """Every page that answered 200 with HTML: (viewer, url, response, parsed page)."""
    rendered = []
    for viewer, url in _pages(site):
        response = site["clients"][viewer].get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        page = Page()
        page.feed(response.content.decode("utf-8"))
        rendered.append((viewer, url, response, page))
    return rendered


def test_every_page_sends_the_strict_policy_and_has_no_inline_code(site, tally):
    """Every HTML page sends a CSP whose script-src has a nonce and no 'unsafe-inline' or
    'unsafe-eval'; every inline script carries that nonce; no page has an event-handler
    attribute, a style attribute, a <style> element or a javascript: URL."""
    rendered = _render_all(site)
    viewers = {v for v, *_ in rendered}
    assert len(rendered) >= 50 and viewers == {"owner", "staff", "guest", "anonymous"}, viewers
    problems = []
    for viewer, url, response, page in rendered:
        where = f"{viewer} {url}"
        policy = _csp(response)
        script_src = policy.get("script-src", [])
        nonces = [w[len("'nonce-") : -1] for w in script_src if w.startswith("'nonce-")]
        if len(nonces) != 1:
            problems.append(f"{where}: script-src without one nonce: {script_src}")
            continue
        for directive in ("script-src", "style-src", "default-src"):
            bad = {"'unsafe-inline'", "'unsafe-eval'", "*", "data:"} & set(
                policy.get(directive, [])
            )
            if bad:
                problems.append(f"{where}: {directive} allows {bad}")
        if policy.get("object-src") != ["'none'"] or policy.get("frame-ancestors") != ["'none'"]:
            problems.append(f"{where}: object-src/frame-ancestors not 'none'")
        if "base-uri" not in policy:
            problems.append(f"{where}: no base-uri")
        for script in page.scripts:
            attrs = script["attrs"]
            if attrs.get("type") in DATA_SCRIPT_TYPES:
                continue
            if "src" in attrs:
                src = attrs["src"] or ""
                if urlsplit(src).netloc:
                    problems.append(f"{where}: script from another origin {src}")
            elif attrs.get("nonce") != nonces[0]:
                problems.append(f"{where}: inline <script> without the page's nonce")
        problems += [f"{where}: {p}" for p in page.problems]
    good = len(rendered) - len({p.split(":")[0] for p in problems})
    tally.note(f"HTML pages with the strict CSP and no inline code: {good} / {len(rendered)}")
    assert problems == [], "\n".join(problems[:50])


def test_the_page_checker_finds_inline_code():
    """The checker above sees what it must refuse (so its silence means something)."""
    page = Page()
    page.feed(
        '<div style="color:red" onclick="x()"><a href="javascript:alert(1)">a</a>'
        "<script>alert(1)</script><style>p{}</style></div>"
    )
    assert len(page.problems) == 4
    assert page.scripts[0]["attrs"] == {} and "alert" in page.scripts[0]["body"]


def test_every_post_form_carries_the_csrf_token(site, tally):
    """Each <form method="post"> of every page has a csrfmiddlewaretoken field."""
    forms = 0
    missing = []
    for viewer, url, _response, page in _render_all(site):
        for form in page.forms:
            if form["attrs"].get("method", "get").lower() != "post":
                continue
            forms += 1
            names = {i.get("name") for i in form["inputs"]}
            if "csrfmiddlewaretoken" not in names:
                missing.append(f"{viewer} {url} → {form['attrs'].get('action')}")
    assert forms >= 30
    assert missing == [], "\n".join(missing)
    tally.note(f"POST forms with the CSRF token: {forms} / {forms}")


def _form_targets(site) -> dict[tuple[str, str], dict]:
    """(viewer, action URL) → the form's fields, for every POST form of every page."""
    targets = {}
    for viewer, url, _response, page in _render_all(site):
        for form in page.forms:
            if form["attrs"].get("method", "get").lower() != "post":
                continue
            action = urljoin(url, form["attrs"].get("action") or url)
            fields = {
                i["name"]: i.get("value") or ""
                for i in form["inputs"]
                if i.get("name") and i["name"] != "csrfmiddlewaretoken"
            }
            targets.setdefault((viewer, action), fields)
    return targets


def _enforcing(site, viewer: str) -> Client:
    """A client of ``viewer`` that enforces CSRF and already holds the CSRF cookie, as a
    browser would after any page: only the token in the form is missing."""
    client = Client(enforce_csrf_checks=True)
    s = site["s"]
    user = {"owner": s.fanny, "staff": User.objects.get(email="staff@example.org")}.get(viewer)
    if user is not None:
        client.force_login(user)
    client.cookies.update(site["clients"][viewer].cookies)
    client.get(reverse("rooms:home"))  # its language form sets the csrftoken cookie
    assert "csrftoken" in client.cookies
    return client


def test_a_post_without_the_token_is_refused(site, tally):
    """A POST to the action of every form, with the form's fields and the CSRF cookie but
    no token (what a forged cross-site form sends), or with a wrong token, gets 403 and
    changes nothing."""
    targets = _form_targets(site)
    assert len(targets) >= 20
    clients = {viewer: _enforcing(site, viewer) for viewer in site["clients"]}
    before = (Membership.objects.count(), Invite.objects.count())
    wrong = []
    for (viewer, action), fields in targets.items():
        client = clients[viewer]
        for token in (None, "x" * 64):
            data = dict(fields) if token is None else {**fields, "csrfmiddlewaretoken": token}
            status = client.post(action, data).status_code
            if status != 403:
                wrong.append(f"{viewer} POST {action} (token {token and 'wrong'}): {status}")
    assert wrong == [], "\n".join(wrong)
    assert (Membership.objects.count(), Invite.objects.count()) == before
    tally.add("POSTs without (or with a wrong) CSRF token", 2 * len(targets), 2 * len(targets))


def test_a_post_with_the_token_goes_through(site):
    """The positive control: the same client with the page's token is not refused."""
    client = _enforcing(site, "owner")
    token = client.cookies["csrftoken"].value
    response = client.post(
        reverse("rooms:invites", args=[site["s"].room.pk]),
        {"csrfmiddlewaretoken": token, "expires_in": "7"},
    )
    assert response.status_code in (200, 302)
