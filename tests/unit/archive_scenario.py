"""A scripted meeting for the archive tests, played through the services as a real one.

Room "Pause Lyon": Fanny (room owner, facilitates), Alice (brings the pricing challenge),
Bob (brings the clients challenge), Chloé (member), and a guest, Gaby. Outsider Olga is
a member of another room only.

Alice's challenge "Fixer mes tarifs", ideas ranked:
  1. "Augmenter le prix de 10 % dès janvier" (Chloé) — 3 votes, in cluster "Prix"
  2. "Publier les tarifs sur le site" (Bob) — 1 vote, in cluster "Prix", a named reply by
     Alice and an anonymous reply by Bob
  3. "Proposer un forfait annuel" (Chloé, anonymous) — 0 votes, 1 reaction
  4. "Demander leur avis aux clientes" (Gaby, guest) — unvoted, no reaction
  question: "Quel est ton prix actuel ?" (Bob)
  action: "Passer mes tarifs à 60 € en janvier" (Alice), due 2031-01-15, from idea 1
Bob's challenge "Trouver des clients en ligne": ideas "Une newsletter mensuelle" (Alice)
and "Un blog <script>… sur les tarifs & les prix" (Chloé, markup to escape).
Takeaways: "Oser parler de ses prix" (Bob, named), "Le forfait rassure" (Chloé, anonymous).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.utils import timezone

from rooms import services
from rooms.models import Meeting, Membership, Participant, Role, Room, Summary, User
from rooms.services import archive as archive_services


@dataclass
class Scenario:
    room: Room
    meeting: Meeting
    fanny: User
    alice: User
    bob: User
    chloe: User
    olga: User
    p: dict[str, Participant] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def summary(self) -> Summary:
        return Summary.objects.get(meeting=self.meeting)


def _user(name: str, email: str, language: str = "") -> User:
    return User.objects.create_user(
        # No password: hashing one costs ~2 s here, and the tests log in with force_login.
        email=email,
        password=None,
        display_name=name,
        language=language,
    )


def play(*, prefix: str = "", title: str = "Pause de janvier", ended_ago_days: int = 0):
    """Create the room, play the meeting through the services and end it."""
    fanny = _user("Fanny", f"{prefix}fanny@example.org", "fr")
    alice = _user("Alice", f"{prefix}alice@example.org", "en")
    bob = _user("Bob", f"{prefix}bob@example.org", "fr")
    chloe = _user("Chloé", f"{prefix}chloe@example.org")
    olga = _user("Olga", f"{prefix}olga@example.org")
    room = Room.objects.create(name=f"{prefix}Pause Lyon")
    Membership.objects.create(room=room, user=fanny, role=Role.OWNER)
    for u in (alice, bob, chloe):
        Membership.objects.create(room=room, user=u, role=Role.MEMBER)
    other = Room.objects.create(name=f"{prefix}Other room")
    Membership.objects.create(room=other, user=olga, role=Role.OWNER)

    meeting = Meeting.objects.create(
        room=room,
        title=title,
        scheduled_at=timezone.now() - dt.timedelta(days=ended_ago_days, hours=2),
        format="open",
        created_by=fanny,
    )
    join = services.participant_join
    p = {
        "fanny": join(meeting=meeting, user=fanny),
        "alice": join(meeting=meeting, user=alice),
        "bob": join(meeting=meeting, user=bob),
        "chloe": join(meeting=meeting, user=chloe),
        "gaby": join(meeting=meeting, guest_key=uuid.uuid4(), display_name="Gaby"),
    }
    s = Scenario(room, meeting, fanny, alice, bob, chloe, olga, p)
    ids = s.ids

    services.meeting_start(actor=p["fanny"])
    ids["pricing"] = services.challenge_post(
        actor=p["alice"],
        title="Fixer mes tarifs",
        context="Je suis céramiste et je vends trop peu cher.",
        ask="Comment augmenter mes prix sans perdre mes clientes ?",
    ).result["id"]
    ids["clients"] = services.challenge_post(
        actor=p["bob"], title="Trouver des clients en ligne", ask="Quels canaux ?"
    ).result["id"]
    services.phase_set(actor=p["fanny"], phase="ideas")

    def post(**kwargs):
        # kind passed explicitly: the phase check reads it from the call's arguments.
        kwargs.setdefault("kind", "idea")
        return services.idea_post(**kwargs)

    ids["publish"] = post(
        actor=p["bob"], challenge_id=ids["pricing"], text="Publier les tarifs sur le site"
    ).result["id"]
    ids["raise"] = post(
        actor=p["chloe"],
        challenge_id=ids["pricing"],
        text="Augmenter le prix de 10 % dès janvier",
    ).result["id"]
    ids["yearly"] = post(
        actor=p["chloe"],
        challenge_id=ids["pricing"],
        text="Proposer un forfait annuel",
        anonymous=True,
    ).result["id"]
    ids["ask"] = post(
        actor=p["gaby"], challenge_id=ids["pricing"], text="Demander leur avis aux clientes"
    ).result["id"]
    ids["question"] = post(
        actor=p["bob"],
        challenge_id=ids["pricing"],
        text="Quel est ton prix actuel ?",
        kind="question",
    ).result["id"]
    ids["newsletter"] = post(
        actor=p["alice"], challenge_id=ids["clients"], text="Une newsletter mensuelle"
    ).result["id"]
    ids["blog"] = post(
        actor=p["chloe"],
        challenge_id=ids["clients"],
        text="Un blog <script>alert(1)</script> sur les tarifs & les prix",
    ).result["id"]
    ids["reply_named"] = services.reply_post(
        actor=p["alice"], idea_id=ids["publish"], text="Oui, et ajouter une FAQ des tarifs"
    ).result["id"]
    ids["reply_anon"] = services.reply_post(
        actor=p["bob"], idea_id=ids["publish"], text="Et un code promo secret", anonymous=True
    ).result["id"]
    ids["cluster"] = services.cluster_create(
        actor=p["fanny"], challenge_id=ids["pricing"], name="Prix"
    ).result["id"]
    for idea in ("publish", "raise"):
        services.idea_move(actor=p["fanny"], idea_id=ids[idea], cluster_id=ids["cluster"])

    services.phase_set(actor=p["fanny"], phase="vote")
    for who in ("alice", "bob", "chloe"):
        services.vote_cast(actor=p[who], idea_id=ids["raise"])
    services.vote_cast(actor=p["gaby"], idea_id=ids["publish"])
    services.reaction_toggle(actor=p["bob"], idea_id=ids["yearly"], emoji="💡")

    services.phase_set(actor=p["fanny"], phase="wrapup")
    ids["action"] = services.action_post(
        actor=p["alice"],
        challenge_id=ids["pricing"],
        text="Passer mes tarifs à 60 € en janvier",
        due_date=dt.date(2031, 1, 15),
        idea_ids=[ids["raise"]],
    ).result["id"]
    ids["take_named"] = services.takeaway_post(
        actor=p["bob"], text="Oser parler de ses prix"
    ).result["id"]
    ids["take_anon"] = services.takeaway_post(
        actor=p["chloe"], text="Le forfait rassure", anonymous=True
    ).result["id"]
    services.meeting_end(actor=p["fanny"])
    meeting.refresh_from_db()
    return s


def publish(s: Scenario, base_url: str | None = None) -> Summary:
    return archive_services.summary_publish(summary=s.summary, user=s.fanny, base_url=base_url)


# Texts and names that each rule must hide; tests look for them in every output.
ANONYMOUS_TEXTS = ("Proposer un forfait annuel", "Et un code promo secret", "Le forfait rassure")
PRICING_IDEA_TEXTS = (
    "Augmenter le prix de 10 % dès janvier",
    "Publier les tarifs sur le site",
    "Proposer un forfait annuel",
    "Demander leur avis aux clientes",
    "Quel est ton prix actuel",
    "Oui, et ajouter une FAQ des tarifs",
)


# --------------------------------------------------------------------------- expectations

ANON_PAIRS = (
    # (anonymous text, its author's name): the name must never sit next to the text.
    ("Proposer un forfait annuel", "Chloé"),
    ("Et un code promo secret", "Bob"),
    ("Le forfait rassure", "Chloé"),
)
PRICING_TEXTS = ("Augmenter le prix de 10", "Publier les tarifs sur le site")
PRICING_NAMES = ("Alice", "Chloé", "Gaby")
PRICING_ACTION = "Passer mes tarifs à 60"


def section(text: str, start: str, end: str | None) -> str:
    """The part of ``text`` from ``start`` to ``end`` (or the end); empty if absent."""
    i = text.find(start)
    if i < 0:
        return ""
    j = text.find(end, i + len(start)) if end else -1
    return text[i:] if j < 0 else text[i:j]


def lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def assert_consent(part: str, whole: str, consent: str, *, owner_view: bool = False) -> None:
    """What a member (or the owner) sees of the pricing challenge at each consent level;
    ``part`` is the pricing challenge's part of one output, ``whole`` the whole output."""
    if owner_view or consent == "full":
        assert "Fixer mes tarifs" in part
        assert all(t in part for t in PRICING_TEXTS), part
        assert all(n in part for n in ("Alice", "Chloé")), part
        return
    if consent == "private":
        assert part == ""
        assert "Fixer mes tarifs" not in whole
        assert all(t not in whole for t in PRICING_TEXTS)
        return
    assert "Fixer mes tarifs" in part
    assert PRICING_ACTION in part
    if consent == "anonymised":
        assert all(t in part for t in PRICING_TEXTS), part
        assert all(n not in part for n in PRICING_NAMES), part
    elif consent == "summary":
        assert all(t not in whole for t in PRICING_TEXTS), part
        assert "Alice" in part


def assert_anonymous(text: str) -> None:
    """Every anonymous item is in the output without its author on the same line."""
    for anon_text, name in ANON_PAIRS:
        found = lines_with(text, anon_text)
        assert found, anon_text
        assert all(name not in line for line in found), found
