"""The Django admin: every model is registered and its list loads; anonymous authors stay
hidden from staff who are not superusers."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse

from rooms.models import Idea, User

pytestmark = pytest.mark.django_db

ROOM_MODELS = list(apps.get_app_config("rooms").get_models())


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(capsys):
    call_command("seed_demo", "--once")
    capsys.readouterr()


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(email="root@example.org", password="x")


@pytest.fixture
def staff(db):
    """Support staff: may view everything, is not a superuser."""
    user = User.objects.create_user(email="support@example.org", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


@pytest.mark.parametrize("model", ROOM_MODELS, ids=lambda m: m.__name__)
def test_every_model_is_in_the_admin(model):
    """Every model of rooms/models.py has an admin page."""
    assert admin.site.is_registered(model)


def _pages(client, model, *, search: bool):
    name = model._meta.model_name
    url = reverse(f"admin:rooms_{name}_changelist")
    statuses = {url: client.get(url).status_code}
    if search:
        statuses[url + "?q=Pause"] = client.get(url, {"q": "Pause"}).status_code
    obj = model.objects.first()
    if obj is not None:
        change = reverse(f"admin:rooms_{name}_change", args=[obj.pk])
        statuses[change] = client.get(change).status_code
    return statuses


def test_changelists_and_change_pages_load(client, demo, superuser):
    """For every model, the list (with and without a search) and one object's page load."""
    client.force_login(superuser)
    statuses = {}
    for model in ROOM_MODELS:
        statuses.update(_pages(client, model, search=True))
    assert len(statuses) > 2 * len(ROOM_MODELS)
    assert {url: s for url, s in statuses.items() if s != 200} == {}


def test_changelists_load_for_support_staff(client, demo, staff):
    """Staff with view rights open every list and object page too."""
    client.force_login(staff)
    statuses = {}
    for model in ROOM_MODELS:
        statuses.update(_pages(client, model, search=False))
    assert {url: s for url, s in statuses.items() if s != 200} == {}


def test_anonymous_authors_are_hidden_from_non_superusers(client, demo, staff, superuser):
    """An anonymous idea shows "anonymous" to support staff, its author to a superuser."""
    idea = Idea.objects.filter(anonymous=True).select_related("author").first()
    author = idea.author.display_name
    url = reverse("admin:rooms_idea_changelist")
    change = reverse("admin:rooms_idea_change", args=[idea.pk])

    client.force_login(staff)
    rows = client.get(url, {"anonymous__exact": "1"}).content.decode()
    assert "anonymous" in rows or "anonyme" in rows
    assert author not in rows
    assert author not in client.get(change).content.decode()
    # Searching by the author's name finds nothing of hers.
    assert idea.text[:30] not in client.get(url, {"q": author}).content.decode()

    client.force_login(superuser)
    assert author in client.get(url, {"anonymous__exact": "1"}).content.decode()


def test_event_log_actors_are_hidden_from_non_superusers(client, demo, staff):
    """The event log, which names every author, shows no actor or payload to support."""
    client.force_login(staff)
    html = client.get(reverse("admin:rooms_meetingevent_changelist")).content.decode()
    assert "idea.posted" in html
    assert "column-actor" not in html
