"""Accounts with django-allauth: sign up, verify the email, log in, reset the password,
log out, and the profile page (display name, language)."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import mail
from django.urls import reverse

from rooms.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "un-Nouveau-mot-de-passe-2024"


def _link(message) -> str:
    """The first link of a plain-text email, as a path."""
    url = re.search(r"https?://[^\s]+", message.body).group(0)
    return re.sub(r"^https?://[^/]+", "", url)


def test_signup_verify_then_login(client):
    """Sign up sends a verification email; its link verifies the address; then the user
    logs in with email and password and lands on her rooms."""
    response = client.post(
        reverse("account_signup"),
        {
            "email": "nouvelle@example.org",
            "display_name": "Nadia",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="nouvelle@example.org")
    assert user.display_name == "Nadia"
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1 and "nouvelle@example.org" in mail.outbox[0].to

    # Not verified yet: logging in asks for the verification instead.
    client.logout()
    client.post(reverse("account_login"), {"login": user.email, "password": NEW_PASSWORD})
    assert "_auth_user_id" not in client.session

    confirm = _link(mail.outbox[0])
    assert client.get(confirm).status_code == 200
    client.post(confirm)
    assert EmailAddress.objects.get(user=user).verified

    client.logout()
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("rooms:home")
    assert int(client.session["_auth_user_id"]) == user.pk
    assert "Nadia" in client.get(reverse("rooms:home")).content.decode()


def test_signup_requires_a_display_name(client):
    """Without a display name the account is not created."""
    client.post(
        reverse("account_signup"),
        {"email": "x@example.org", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert not User.objects.filter(email="x@example.org").exists()


def test_password_reset_flow(client, user_factory):
    """A reset email carries a link that sets a new password; the old one stops working."""
    user = user_factory()
    client.post(reverse("account_reset_password"), {"email": user.email})
    assert len(mail.outbox) == 1
    link = _link(mail.outbox[0])
    # allauth redirects the key URL to a key-less one, keeping the key in the session.
    response = client.get(link, follow=True)
    assert response.status_code == 200
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(PASSWORD)
    assert client.get(reverse("account_reset_password_from_key_done")).status_code == 200


def test_logout_is_a_post(client, user_factory):
    """The logout page asks first; posting it logs out."""
    client.force_login(user_factory())
    assert client.get(reverse("account_logout")).status_code == 200
    assert "_auth_user_id" in client.session
    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "name",
    [
        "account_login",
        "account_signup",
        "account_reset_password",
        "account_reset_password_done",
        "account_email_verification_sent",
    ],
)
def test_account_pages_use_the_site_layout(client, name):
    """Every allauth page is rendered in Pause's own layout and style sheet."""
    html = client.get(reverse(name)).content.decode()
    assert "css/pause.css" in html
    assert 'class="site-header"' in html and 'id="main"' in html


@pytest.mark.parametrize("name", ["account_email", "account_change_password", "account_logout"])
def test_account_settings_pages_use_the_site_layout(client, user_factory, name):
    """The account settings pages show the site layout with the account navigation."""
    client.force_login(user_factory())
    html = client.get(reverse(name)).content.decode()
    assert "css/pause.css" in html and "settings__nav" in html


def test_profile_page_saves_name_and_language(client, user_factory):
    """The profile saves the display name and the language, which then drives the pages."""
    user = user_factory(language="fr")
    client.force_login(user)
    assert client.get(reverse("rooms:profile")).status_code == 200
    response = client.post(
        reverse("rooms:profile"), {"display_name": "Claire M.", "language": "en"}
    )
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    user.refresh_from_db()
    assert (user.display_name, user.language) == ("Claire M.", "en")
    assert client.get(reverse("rooms:home"))["Content-Language"] == "en"


def test_profile_requires_login(client):
    """Anonymous visitors are sent to log in."""
    response = client.get(reverse("rooms:profile"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
