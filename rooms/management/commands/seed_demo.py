"""Seed the demo room "Pause entrepreneuses": a facilitator, three members, an upcoming, a
live and an ended meeting with real-looking challenges, ideas, votes, actions, takeaways.

Rooms and members are written with ``rooms.services.rooms``; everything inside a meeting
goes through the meeting services, exactly as the live board would, so the event log,
the summary and the archive of the demo are the real thing.

    manage.py seed_demo          # (re)create the demo room from scratch
    manage.py seed_demo --once   # do nothing if the demo room already exists (make run)
"""

from __future__ import annotations

import datetime as dt

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from rooms import services
from rooms.models import IdeaKind, Meeting, MeetingFormat, Role, Room, Summary, User
from rooms.summaries import summary_build

DEMO_ROOM = "Pause entrepreneuses"
DEMO_PASSWORD = "pause-demo"
DEMO_URL = "http://127.0.0.1:8000/"
DEMO_DESCRIPTION = (
    "Deux lundis par mois, un temps d'échange et de brainstorming collectif entre "
    "entrepreneuses : chacune peut apporter un défi de son activité, les autres questionnent, "
    "proposent et votent. On met en commun nos idées et nos atouts au service des autres, "
    "dans la coopération et la sororité."
)
# (email, display name, role in the room, what she does)
DEMO_PEOPLE = [
    ("animatrice@pause.example", "Camille", Role.OWNER),
    ("claire@pause.example", "Claire", Role.MEMBER),
    ("ines@pause.example", "Inès", Role.MEMBER),
    ("sophie@pause.example", "Sophie", Role.MEMBER),
]

ROLE_NOTES = {Role.OWNER: "owner and facilitator", Role.MEMBER: "member"}


class Command(BaseCommand):
    help = "Create the demo room 'Pause entrepreneuses' with its people and meetings."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="Do nothing if the demo room already exists.",
        )

    def handle(self, *args, once: bool = False, **options):
        existing = Room.objects.filter(name=DEMO_ROOM)
        if existing.exists():
            if once:
                self.stdout.write("The demo room already exists: nothing to do.")
                self._print_logins()
                return
            existing.delete()
        with transaction.atomic():
            people = self._people()
            room = self._room(people)
        # Meetings run outside the outer transaction: each service commits on its own,
        # as it does on the live board.
        self._ended_meeting(room, people)
        self._live_meeting(room, people)
        self._upcoming_meeting(room, people)
        self.stdout.write(self.style.SUCCESS(f"Demo room “{DEMO_ROOM}” created."))
        self._print_logins()

    # ------------------------------------------------------------------ people and room

    def _people(self) -> dict[str, User]:
        people = {}
        for email, name, _role in DEMO_PEOPLE:
            user, _created = User.objects.get_or_create(email=email)
            user.display_name = name
            user.language = "fr"
            user.set_password(DEMO_PASSWORD)
            user.save()
            EmailAddress.objects.update_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            people[email.split("@")[0]] = user
        return people

    def _room(self, people: dict[str, User]) -> Room:
        owner = people["animatrice"]
        room = services.room_create(user=owner, name=DEMO_ROOM, description=DEMO_DESCRIPTION)
        invite = services.invite_create(actor=owner, room=room)
        for email, _name, role in DEMO_PEOPLE[1:]:
            user = people[email.split("@")[0]]
            membership, _created = services.invite_accept(user=user, token=invite.token)
            if role != Role.MEMBER:
                services.membership_set_role(actor=owner, membership=membership, role=role)
        return room

    def _print_logins(self) -> None:
        self.stdout.write(f"Open {DEMO_URL} and log in with one of these accounts:")
        for email, name, role in DEMO_PEOPLE:
            self.stdout.write(f"  {email:<28} {DEMO_PASSWORD}   {name}, {ROLE_NOTES[role]}")

    # ------------------------------------------------------------------ meetings

    def _meeting(self, room, people, *, title, when, format) -> tuple[Meeting, dict]:
        meeting = services.meeting_schedule(
            actor=people["animatrice"], room=room, title=title, scheduled_at=when, format=format
        )
        participants = {
            key: services.participant_join(meeting=meeting, user=user)
            for key, user in people.items()
        }
        return meeting, participants

    def _ended_meeting(self, room, people) -> None:
        when = _monday(days=-14)
        meeting, p = self._meeting(
            room,
            people,
            title="Pause du lundi : prix et fréquentation",
            when=when,
            format=MeetingFormat.OPEN,
        )
        host = p["animatrice"]
        pricing = _id(
            services.challenge_post(
                actor=p["claire"],
                title="Fixer le prix de ma nouvelle collection textile",
                context=(
                    "Je lance une collection de foulards en lin teints à la main dans mon "
                    "atelier. Mon coût de revient est d'environ 28 € la pièce et je n'ose pas "
                    "dépasser 45 €."
                ),
                ask=(
                    "Comment fixer un prix juste, sans brader mon travail ni faire fuir mes "
                    "clientes ?"
                ),
            )
        )
        footfall = _id(
            services.challenge_post(
                actor=p["sophie"],
                title="Remplir mon café-coworking en semaine",
                context=(
                    "Le samedi, c'est complet. Du mardi au jeudi après-midi, je n'ai que trois "
                    "ou quatre personnes pour quarante places."
                ),
                ask="Quelles idées pour attirer du monde en semaine sans baisser mes prix ?",
            )
        )
        services.meeting_start(actor=host)
        services.phase_set(actor=host, phase="ideas")
        ideas = {
            "taux": _idea_post(
                actor=p["sophie"],
                challenge_id=pricing,
                text="Pars d'un taux horaire que tu t'accordes vraiment, puis compare au "
                "marché : pas l'inverse.",
            ),
            "edition": _idea_post(
                actor=p["ines"],
                challenge_id=pricing,
                text="Une édition numérotée à 65 € : la rareté rend le prix évident.",
            ),
            "coulisses": _idea_post(
                actor=host,
                challenge_id=pricing,
                text="Montre les coulisses (teinture, coupe) sur Instagram avant le lancement.",
            ),
            "marches": _idea_post(
                actor=p["sophie"],
                challenge_id=pricing,
                anonymous=True,
                text="Teste deux prix sur deux marchés de créatrices et compare les ventes.",
            ),
            "question": _idea_post(
                actor=p["ines"],
                challenge_id=pricing,
                kind="question",
                text="As-tu demandé à tes clientes fidèles ce qu'elles seraient prêtes à payer ?",
            ),
            "mardi": _idea_post(
                actor=p["claire"],
                challenge_id=footfall,
                text="Un « mardi des indépendantes » : le café est offert à la deuxième venue "
                "de la semaine.",
            ),
            "reseaux": _idea_post(
                actor=p["ines"],
                challenge_id=footfall,
                text="Propose ta salle aux réseaux pros et aux associations pour leurs "
                "réunions du jeudi.",
            ),
            "ecole": _idea_post(
                actor=host,
                challenge_id=footfall,
                text="Un partenariat avec l'école de design voisine pour des sessions de "
                "travail d'étudiantes.",
            ),
            "dejeuner": _idea_post(
                actor=p["claire"],
                challenge_id=footfall,
                anonymous=True,
                text="Des ateliers courts à l'heure du déjeuner, animés par des membres du réseau.",
            ),
        }
        ideas = {key: _id(outcome) for key, outcome in ideas.items()}
        services.phase_set(actor=host, phase="vote")
        ballots = {
            "animatrice": ["taux", "reseaux"],
            "claire": ["taux", "edition", "reseaux", "ecole"],
            "ines": ["taux", "coulisses", "mardi", "reseaux"],
            "sophie": ["edition", "coulisses", "dejeuner"],
        }
        for key, chosen in ballots.items():
            for idea in chosen:
                services.vote_cast(actor=p[key], idea_id=ideas[idea])
        services.phase_set(actor=host, phase="wrapup")
        services.action_post(
            actor=p["claire"],
            challenge_id=pricing,
            text="Recalculer mon prix avec un taux horaire de 25 € et l'afficher à 52 €.",
            due_date=(when + dt.timedelta(days=7)).date(),
            idea_ids=[ideas["taux"]],
        )
        services.action_post(
            actor=p["claire"],
            challenge_id=pricing,
            text="Publier trois vidéos des coulisses avant le lancement.",
            due_date=(when + dt.timedelta(days=21)).date(),
            idea_ids=[ideas["coulisses"]],
        )
        services.action_post(
            actor=p["sophie"],
            challenge_id=footfall,
            text="Contacter deux réseaux pros pour accueillir leurs réunions mensuelles.",
            due_date=(when + dt.timedelta(days=14)).date(),
            idea_ids=[ideas["reseaux"]],
        )
        services.action_post(
            actor=p["sophie"],
            challenge_id=footfall,
            text="Tester le « mardi des indépendantes » pendant un mois.",
            idea_ids=[ideas["mardi"]],
        )
        services.takeaway_post(
            actor=p["claire"],
            text="Je sous-estimais la valeur de mon temps : elle doit se voir dans mon prix.",
        )
        services.takeaway_post(
            actor=p["sophie"],
            text="Des partenariats peuvent remplir les creux sans que je baisse mes prix.",
        )
        services.takeaway_post(
            actor=p["ines"],
            anonymous=True,
            text="Ça fait du bien de voir que les autres doutent aussi de leurs prix.",
        )
        services.meeting_end(actor=host)
        # The demo's history happened two weeks ago, not during the seed.
        Meeting.objects.filter(pk=meeting.pk).update(
            started_at=when, ended_at=when + dt.timedelta(hours=2)
        )
        meeting.refresh_from_db()
        summary = summary_build(meeting=meeting)
        # Published so the demo's archive and search have something to show; the demo
        # accounts' mailboxes do not exist, so the summary email is marked as sent.
        Summary.objects.filter(pk=summary.pk).update(emailed_at=timezone.now())
        summary.refresh_from_db()
        services.summary_publish(summary=summary, user=host.user)

    def _live_meeting(self, room, people) -> None:
        when = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=20)
        _meeting, p = self._meeting(
            room,
            people,
            title="Pause hot-seat : premiers clients",
            when=when,
            format=MeetingFormat.HOT_SEAT,
        )
        host = p["animatrice"]
        b2b = _id(
            services.challenge_post(
                actor=p["ines"],
                title="Trouver mes premiers clients B2B",
                context=(
                    "J'ai lancé mon activité de conseil en communication interne il y a six "
                    "mois. Jusqu'ici, mes clients sont des associations et quelques "
                    "indépendantes."
                ),
                ask="Par où commencer la prospection en entreprise quand on n'a pas encore "
                "de références ?",
            )
        )
        services.challenge_post(
            actor=p["claire"],
            title="Trouver un atelier partagé pour produire plus",
            context="Mon atelier de 12 m² ne suffit plus depuis que je vends en boutique.",
            ask="Vos pistes pour mutualiser un local de production à Lyon ?",
        )
        services.meeting_start(actor=host)
        services.phase_set(actor=host, phase="clarify", challenge_id=b2b)
        _idea_post(
            actor=p["claire"],
            challenge_id=b2b,
            kind="question",
            text="Quel type d'entreprise vises-tu : PME locales ou grands groupes ?",
        )
        _idea_post(
            actor=p["sophie"],
            challenge_id=b2b,
            kind="question",
            text="As-tu déjà un cas client, même associatif, à montrer ?",
        )
        services.phase_set(actor=host, phase="ideas", challenge_id=b2b)
        _idea_post(
            actor=host,
            challenge_id=b2b,
            text="Propose un diagnostic gratuit de 30 minutes à cinq PME du quartier : "
            "c'est ta porte d'entrée.",
        )
        _idea_post(
            actor=p["sophie"],
            challenge_id=b2b,
            text="Un club d'entrepreneurs se réunit au café le jeudi : viens y présenter ton "
            "approche en dix minutes.",
        )
        _idea_post(
            actor=p["claire"],
            challenge_id=b2b,
            anonymous=True,
            text="Transforme ta mission associative en étude de cas d'une page.",
        )

    def _upcoming_meeting(self, room, people) -> None:
        when = _monday(days=20)
        _meeting, p = self._meeting(
            room,
            people,
            title="Pause du lundi : fidéliser ses clientes",
            when=when,
            format=MeetingFormat.HOT_SEAT,
        )
        services.challenge_post(
            actor=p["sophie"],
            title="Fidéliser les participantes de mes ateliers",
            ask="Comment donner envie de revenir après un premier atelier ?",
        )


def _monday(*, days: int, hour: int = 18, minute: int = 30) -> dt.datetime:
    """The Monday on or before today + ``days``, at the given local time: the Pause
    entrepreneuses meet on Mondays."""
    local = timezone.localtime() + dt.timedelta(days=days)
    local -= dt.timedelta(days=local.weekday())
    return local.replace(hour=hour, minute=minute, second=0, microsecond=0)


def _idea_post(*, kind: str = IdeaKind.IDEA, **kwargs):
    # The kind is always passed: the phase rules tell ideas from questions by it.
    return services.idea_post(kind=kind, **kwargs)


def _id(outcome) -> int:
    return outcome.result["id"]
