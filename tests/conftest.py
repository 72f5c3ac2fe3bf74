"""Shared fixtures: factories that return a function (as django-allauth's tests do)."""

import datetime as dt
import itertools
import os

import pytest
from django.utils import timezone

from rooms.models import Meeting, Membership, Role, Room, User

_counter = itertools.count(1)
PASSWORD = "pause-test-password-42"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_service(name: str, how: str):
    """Skip with a message on a laptop; fail under CI=true, where every service must run."""
    message = f"{name} is not available: {how}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def user_factory(db):
    def make(**overrides) -> User:
        n = next(_counter)
        fields = {"email": f"user{n}@example.org", "display_name": f"User {n}"}
        fields.update(overrides)
        user = User.objects.create_user(password=PASSWORD, **fields)
        from allauth.account.models import EmailAddress

        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        return user

    return make


@pytest.fixture
def room_factory(db, user_factory):
    def make(*, owner=None, **overrides) -> Room:
        owner = owner or user_factory()
        fields = {"name": f"Room {next(_counter)}", "description": "A test room."}
        fields.update(overrides)
        room = Room.objects.create(**fields)
        Membership.objects.create(room=room, user=owner, role=Role.OWNER)
        return room

    return make


@pytest.fixture
def member_factory(db, user_factory):
    def make(room: Room, role: str = Role.MEMBER, **user_fields) -> User:
        user = user_factory(**user_fields)
        Membership.objects.create(room=room, user=user, role=role)
        return user

    return make


@pytest.fixture
def meeting_factory(db, room_factory):
    def make(*, room=None, **overrides) -> Meeting:
        room = room or room_factory()
        fields = {
            "title": f"Meeting {next(_counter)}",
            "scheduled_at": timezone.now() + dt.timedelta(days=1),
            "format": "open",
        }
        fields.update(overrides)
        return Meeting.objects.create(room=room, **fields)

    return make
