"""A new user's first steps, in a real browser against a real daphne process: sign up,
verify the email, log in, create a room, invite a second member by link, schedule a
meeting and open it (issue 2, "what it must show").

The server of this file sends its emails to files (the filebased backend) instead of the
console: the daphne process shares the test database with this process, not its memory,
so the confirmation email is read from the files it writes.
"""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy
from pathlib import Path

import pytest
from django.conf import settings
from django.test.utils import override_settings
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import SCREENSHOTS, LiveServer, off_loop, wait_live

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # pause/settings.py still configures email with EMAIL_BACKEND, so this server does too.
    pytest.mark.filterwarnings("ignore:The EMAIL_FILE_PATH setting is deprecated"),
    # When an earlier test started the browser, the server forks from a process where
    # Playwright runs threads; the child only runs daphne.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

NEW_EMAIL = "camille@example.org"
NEW_NAME = "Camille Durand"
NEW_PASSWORD = "tulip-harbour-73-lantern"
MAIL_SEPARATOR = b"-" * 79


@pytest.fixture(scope="module")
def mail_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mail")


@pytest.fixture(scope="module")
def mail_server(django_db_setup, django_db_blocker, board_build, mail_dir):
    """Like conftest's ``board_server`` (plain http, the board's build served as static
    files), with emails written to ``mail_dir`` and links in them on http."""
    dirs = list(settings.STATICFILES_DIRS)
    if ("board", settings.FRONTEND_DIST) not in dirs:
        dirs.append(("board", settings.FRONTEND_DIST))
    overrides = override_settings(
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        SECURE_SSL_REDIRECT=False,
        SECURE_HSTS_SECONDS=0,
        ACCOUNT_DEFAULT_HTTP_PROTOCOL="http",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_dir),
        STATICFILES_DIRS=dirs,
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    )
    overrides.enable()
    server = LiveServer()
    try:
        with django_db_blocker.unblock():
            server.start()  # forks: the server process gets the settings above
            yield server
    finally:
        server.kill()
        overrides.disable()


def sent_emails(mail_dir: Path) -> list[email.message.EmailMessage]:
    """Every message the server wrote, oldest first."""
    messages = []
    for path in sorted(mail_dir.glob("*.log")):
        for raw in path.read_bytes().split(MAIL_SEPARATOR):
            if raw.strip():
                messages.append(email.message_from_bytes(raw.lstrip(), policy=policy.default))
    return messages


def body_text(message) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


def new_context(browser, *, locale: str):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        color_scheme="light",
        locale=locale,
        reduced_motion="reduce",
    )
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return context, page


def log_in(page, address: str, password: str) -> None:
    """Fill allauth's login form on the current page and send it."""
    page.locator("input[name=login]").fill(address)
    page.locator("input[name=password]").fill(password)
    page.locator("form:has(input[name=login]) button[type=submit]").click()


def test_new_user_signs_up_verifies_creates_room_invites_and_schedules(
    mail_server, mail_dir, browser, user_factory
):
    """A visitor signs up (email, display name, password twice), gets exactly one email
    whose link confirms the address, logs in, creates a room, creates an invite link that
    a second (French-speaking) user opens and joins, then schedules a meeting whose page
    shows the agenda and the board."""
    from rooms.models import Meeting, Membership, Role, Room, User

    base = mail_server.url
    ctx_a, a = new_context(browser, locale="en-US")

    # Sign up through the real allauth form.
    a.goto(base + "/accounts/signup/")
    a.get_by_label("Email").fill(NEW_EMAIL)
    a.get_by_label("Display name").fill(NEW_NAME)
    a.get_by_label("Password:", exact=True).fill(NEW_PASSWORD)
    a.get_by_label("Password (again)").fill(NEW_PASSWORD)
    a.get_by_role("button", name="Sign Up").click()
    expect(a).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    user = User.objects.get(email=NEW_EMAIL)
    assert user.display_name == NEW_NAME and user.language == "en"
    assert not user.emailaddress_set.get().verified

    # One email, to the new address, with the confirmation link on this server.
    mails = sent_emails(mail_dir)
    assert len(mails) == 1
    assert mails[0]["To"] == NEW_EMAIL and mails[0]["Subject"].startswith("[Pause]")
    links = re.findall(r"http://\S+/accounts/confirm-email/[^\s/]+/", body_text(mails[0]))
    assert len(links) == 1 and links[0].startswith(base), links

    # The link confirms the address; then the user logs in.
    a.goto(links[0])
    a.get_by_role("button", name="Confirm").click()
    expect(a).to_have_url(re.compile(r"/accounts/login/$"))
    expect(a.locator(".messages")).to_contain_text(f"You have confirmed {NEW_EMAIL}")
    assert user.emailaddress_set.get().verified
    log_in(a, NEW_EMAIL, NEW_PASSWORD)
    expect(a.get_by_role("heading", level=1)).to_have_text(f"Hello, {NEW_NAME}")
    expect(a.get_by_text("You are not in any room yet")).to_be_visible()

    # Create a room.
    a.get_by_role("link", name="Create a room").first.click()
    a.get_by_label("Name of the room").fill("Pause entrepreneuses Nantes")
    a.get_by_label("Description").fill("Twice a month, on Monday evenings, at the café Lulu.")
    a.get_by_role("button", name="Create the room").click()
    expect(a.get_by_text("Your room is ready.")).to_be_visible()
    room = Room.objects.get(name="Pause entrepreneuses Nantes")
    assert Membership.objects.get(room=room, user=user).role == Role.OWNER
    expect(a).to_have_url(base + room.get_absolute_url())

    # Create an invite link and read it from the page.
    a.get_by_role("link", name="Invite people").click()
    a.get_by_role("button", name="Create a link").click()
    expect(a.get_by_text("New invite link created")).to_be_visible()
    invite_url = a.get_by_role("textbox", name="Invite link").input_value()
    assert invite_url.startswith(base + "/join/"), invite_url

    # A second, already verified user opens the link in another browser, in French: asked
    # to log in first, then back on the invitation, joins.
    bea = user_factory(email="bea@example.org", display_name="Béatrice", language="fr")
    ctx_b, b = new_context(browser, locale="fr-FR")
    b.goto(invite_url)
    expect(b).to_have_url(re.compile(r"/accounts/login/\?next=/join/"))
    expect(b.locator(".messages")).to_contain_text("Pause entrepreneuses Nantes")
    log_in(b, bea.email, PASSWORD)
    expect(b.get_by_role("heading", level=1)).to_have_text("Pause entrepreneuses Nantes")
    expect(b.get_by_text("Vous êtes invitée")).to_be_visible()
    b.get_by_role("button", name="Rejoindre le salon").click()
    expect(b).to_have_url(base + room.get_absolute_url())
    assert Membership.objects.get(room=room, user=bea).role == Role.MEMBER
    expect(b.locator(".member-list")).to_contain_text(NEW_NAME)

    # The owner schedules a meeting: title, start time, format.
    # A Monday at 18:30, one to two weeks ahead (the room meets on Monday evenings).
    day = timezone.localdate() + dt.timedelta(days=7)
    day += dt.timedelta(days=(7 - day.weekday()) % 7)
    starts = timezone.make_aware(dt.datetime.combine(day, dt.time(18, 30)))
    a.goto(base + room.get_absolute_url())
    expect(a.locator(".member-list")).to_contain_text("Béatrice")
    a.get_by_role("link", name="Schedule a meeting").first.click()
    a.get_by_label("Title").fill("Monday Pause: first customers")
    a.get_by_label("Starts at").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    a.get_by_label("Open brainstorm").check()
    a.get_by_role("button", name="Schedule", exact=True).click()
    expect(a.locator(".messages")).to_contain_text("The meeting is scheduled.")
    meeting = Meeting.objects.get(room=room)
    assert (meeting.title, meeting.format, meeting.scheduled_at) == (
        "Monday Pause: first customers",
        "open",
        starts,
    )
    expect(a).to_have_url(base + meeting.get_absolute_url())

    # Béatrice brings a challenge (through the service the board's command calls); the
    # meeting page shows it on its agenda and on the board.
    from rooms import services

    def bring_challenge():
        p = services.participant_join(meeting=meeting, user=bea)
        services.challenge_post(actor=p, title="Raise my prices", ask="How do I announce it?")

    off_loop(bring_challenge)
    a.reload()
    expect(a.get_by_role("heading", level=1)).to_have_text("Monday Pause: first customers")
    expect(a.locator(".page-header .badge")).to_have_text("Scheduled")
    expect(a.locator(".facts")).to_contain_text(f"Monday {day.day} ")
    expect(a.locator(".facts")).to_contain_text("18:30")
    agenda = a.locator("#agenda")
    expect(agenda.get_by_role("heading", name="Raise my prices")).to_be_visible()
    expect(agenda).to_contain_text("Brought by Béatrice")
    expect(agenda).to_contain_text("How do I announce it?")
    wait_live(a)
    expect(a.locator(".board-agenda")).to_contain_text("Raise my prices")

    # Screenshots for the README: the room page and the home page.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    a.goto(base + room.get_absolute_url())
    expect(a.locator(".meeting-list")).to_contain_text("Monday Pause: first customers")
    a.screenshot(path=str(SCREENSHOTS / "room.png"))
    a.goto(base + "/")
    expect(a.locator(".card__title")).to_have_text("Pause entrepreneuses Nantes")
    expect(a.locator(".card__footer")).to_contain_text("2 members")
    a.screenshot(path=str(SCREENSHOTS / "home.png"))

    assert a.errors == [] and b.errors == []
    ctx_a.close()
    ctx_b.close()
