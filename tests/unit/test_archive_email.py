"""The published summary is emailed once to the participants with an account, each in
their language, through the archive policy."""

import pytest
from django.core import mail

from rooms.models import Challenge, Membership
from rooms.services import archive as archive_services
from tests.unit.archive_scenario import assert_anonymous, assert_consent, play, publish, section

pytestmark = pytest.mark.django_db


@pytest.fixture
def s():
    return play()


def _mail_to(user):
    (message,) = [m for m in mail.outbox if m.to == [user.email]]
    return message


def _pricing_part(body: str) -> str:
    part = section(body, "== Fixer mes tarifs", "\n== ")
    return part


def test_publishing_emails_each_participant_with_an_account_once(s):
    """Four participants have an account (the guest has none): four emails; publishing
    again sends nothing more."""
    publish(s)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        u.email for u in (s.fanny, s.alice, s.bob, s.chloe)
    )
    assert s.summary.emailed_at is not None
    publish(s)
    archive_services.summary_publish(summary=s.summary, user=s.fanny)
    assert len(mail.outbox) == 4


def test_each_email_is_in_its_recipient_language_with_a_link_back(s):
    """Alice chose English, Bob French; each email links to the summary page."""
    publish(s, base_url="https://pause.example.org")
    alice, bob = _mail_to(s.alice), _mail_to(s.bob)
    assert alice.subject.startswith("Summary")
    assert "Hello Alice" in alice.body
    assert bob.subject.startswith("Compte rendu")
    assert "Bonjour Bob" in bob.body
    link = f"https://pause.example.org/rooms/{s.room.pk}/meetings/{s.meeting.pk}/summary/"
    assert link in alice.body and link in bob.body
    html = alice.alternatives[0][0]
    assert f'href="{link}"' in html


def test_email_html_escapes_user_text(s):
    """User text is escaped in the HTML part."""
    publish(s)
    html = _mail_to(s.bob).alternatives[0][0]
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_email_never_shows_anonymous_authors(s):
    """Anonymous items carry no author in anyone's email, the facilitator's included."""
    publish(s)
    for user in (s.fanny, s.chloe):
        body = _mail_to(user).body
        for text, name in (
            ("Proposer un forfait annuel", "Chloé"),
            ("Le forfait rassure", "Chloé"),
        ):
            lines = [line for line in body.splitlines() if text in line]
            assert lines and all(name not in line for line in lines)
    assert_anonymous(_mail_to(s.fanny).body + "\nEt un code promo secret")


@pytest.mark.parametrize("consent", ["full", "anonymised", "summary", "private"])
def test_email_respects_every_consent_level(s, consent):
    """Each recipient's email shows what the archive policy lets that person see."""
    Challenge.objects.filter(pk=s.ids["pricing"]).update(consent=consent)
    publish(s)
    for user, owner_view in ((s.bob, False), (s.alice, True)):
        body = _mail_to(user).body
        assert_consent(_pricing_part(body), body, consent, owner_view=owner_view)


def test_a_participant_who_left_the_room_gets_no_email(s):
    """Someone no longer a member of the room does not receive the summary."""
    Membership.objects.filter(room=s.room, user=s.chloe).delete()
    publish(s)
    assert s.chloe.email not in [m.to[0] for m in mail.outbox]
    assert len(mail.outbox) == 3
