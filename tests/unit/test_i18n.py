"""French and English: pages are translated, the language comes from the user's
preference, the cookie or the browser, and the switcher remembers the choice."""

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_default_language_is_french(client):
    """With no preference, cookie or browser hint, pages are in French."""
    html = client.get(reverse("rooms:home")).content.decode()
    assert '<html lang="fr">' in html
    assert "Apportez un défi." in html


def test_browser_language_english(client):
    """A browser that asks for English gets the landing page in English."""
    html = client.get(reverse("rooms:home"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9").content
    assert b'<html lang="en">' in html
    assert b"Bring a challenge." in html


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [("fr", "Mes salons", "My rooms"), ("en", "My rooms", "Mes salons")],
)
def test_user_preference_wins(client, room_factory, language, expected, absent):
    """A logged-in user's language preference decides, whatever the browser asks."""
    room = room_factory()
    owner = room.memberships.get().user
    owner.language = language
    owner.save(update_fields=["language"])
    client.force_login(owner)
    other = "fr" if language == "en" else "en"
    for url in (reverse("rooms:home"), room.get_absolute_url()):
        html = client.get(url, HTTP_ACCEPT_LANGUAGE=other).content.decode()
        assert f'<html lang="{language}">' in html
        assert expected in html and absent not in html


def test_switcher_sets_the_cookie_and_remembers_the_choice(client, user_factory):
    """Switching language sets the cookie and, when logged in, the user's preference."""
    user = user_factory(language="fr")
    client.force_login(user)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    user.refresh_from_db()
    assert user.language == "en"
    assert b"My rooms" in client.get(reverse("rooms:home")).content


def test_switcher_for_anonymous_visitors_uses_the_cookie(client):
    """An anonymous visitor's choice is kept in the cookie."""
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert b"Bring a challenge." in client.get(reverse("rooms:home")).content
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert "Apportez un défi." in client.get(reverse("rooms:home")).content.decode()


def test_account_pages_in_both_languages(client):
    """allauth's pages follow the language too."""
    assert "Connexion" in client.get(reverse("account_login")).content.decode()
    html = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sign In" in html


def test_signup_stores_the_language_of_the_page(client):
    """A new account keeps the language it signed up in."""
    from rooms.models import User

    client.post(
        reverse("account_signup"),
        {
            "email": "anna@example.org",
            "display_name": "Anna",
            "password1": "un-Mot-de-passe-solide-1",
            "password2": "un-Mot-de-passe-solide-1",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert User.objects.get(email="anna@example.org").language == "en"
