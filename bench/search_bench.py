"""Archive search latency on PostgreSQL with 10,000 archived ideas in one room.

    .venv/bin/python -m bench.search_bench [--ideas 10000] [--queries 100]
        [--database-url postgres://postgres@127.0.0.1:5432/pause_bench_search]

Creates (or reuses) its own database, migrates it, fills one room with ended, published
meetings holding ``--ideas`` ideas (plus replies and challenges) written from a French and
English vocabulary, then times ``rooms.search.search`` — the whole call a page makes:
scope by the archive policy, full-text match and rank, ``ts_headline`` snippets, loading
the hits — for ``--queries`` queries of two to four words, as a member of the room.
Prints p50, p95 and max in milliseconds. The issue's target is a p95 under 100 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/pause_bench_search"

WORDS_FR = [
    "tarif",
    "prix",
    "client",
    "cliente",
    "clientes",
    "vente",
    "ventes",
    "boutique",
    "atelier",
    "site",
    "réseau",
    "réseaux",
    "newsletter",
    "abonnement",
    "forfait",
    "annuel",
    "mensuel",
    "devis",
    "facture",
    "marge",
    "coût",
    "coûts",
    "stratégie",
    "visibilité",
    "salon",
    "marché",
    "instagram",
    "partenariat",
    "recrutement",
    "stagiaire",
    "associée",
    "banque",
    "prêt",
    "subvention",
    "comptable",
    "temps",
    "organisation",
    "priorité",
    "délégation",
    "fournisseur",
    "stock",
    "livraison",
    "emballage",
    "photo",
    "vidéo",
    "blog",
    "conférence",
    "atelier",
    "formation",
    "accompagnement",
    "céramique",
    "couture",
    "bijoux",
    "librairie",
    "café",
    "restaurant",
    "coaching",
    "conseil",
    "design",
]
WORDS_EN = [
    "pricing",
    "price",
    "strategy",
    "customers",
    "sales",
    "growth",
    "marketing",
    "funding",
    "hiring",
    "delegation",
    "branding",
    "website",
    "online",
    "community",
    "partnership",
    "workshop",
    "training",
]
GLUE = [
    "le",
    "la",
    "les",
    "des",
    "une",
    "un",
    "pour",
    "avec",
    "sans",
    "sur",
    "et",
    "ou",
    "mais",
    "donc",
    "de",
    "du",
    "en",
    "à",
]


def sentence(rng: random.Random, n: int) -> str:
    words = []
    for _ in range(n):
        pool = rng.random()
        if pool < 0.55:
            words.append(rng.choice(WORDS_FR))
        elif pool < 0.65:
            words.append(rng.choice(WORDS_EN))
        else:
            words.append(rng.choice(GLUE))
    return " ".join(words).capitalize()


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def fill(n_ideas: int, rng: random.Random):
    from django.db import connection
    from django.utils import timezone

    from rooms.models import (
        Challenge,
        Idea,
        Meeting,
        Membership,
        Participant,
        Reply,
        Role,
        Room,
        Summary,
        User,
    )

    room = Room.objects.filter(name="Bench search").first()
    if room and Idea.objects.filter(meeting__room=room).count() >= n_ideas:
        return room, Membership.objects.filter(room=room, role=Role.MEMBER).first().user
    if room:
        room.delete()
    room = Room.objects.create(name="Bench search")
    users = []
    for i in range(20):
        email = f"bench-search-{i}@example.org"
        User.objects.filter(email=email).delete()
        users.append(User.objects.create_user(email=email, display_name=f"Membre {i}"))
    Membership.objects.create(room=room, user=users[0], role=Role.OWNER)
    for u in users[1:]:
        Membership.objects.create(room=room, user=u, role=Role.MEMBER)
    per_meeting = 250
    now = timezone.now()
    made = 0
    m_index = 0
    while made < n_ideas:
        m_index += 1
        at = now - timezone.timedelta(days=14 * m_index)
        meeting = Meeting.objects.create(
            room=room,
            title=f"Pause {m_index}",
            scheduled_at=at,
            state="ended",
            started_at=at,
            ended_at=at + timezone.timedelta(hours=2),
        )
        parts = Participant.objects.bulk_create(
            Participant(meeting=meeting, user=u, display_name=u.display_name) for u in users
        )
        challenges = [
            Challenge.objects.create(
                meeting=meeting,
                owner=parts[k],
                title=sentence(rng, 5),
                ask=sentence(rng, 10),
                context=sentence(rng, 40),
                position=k,
                consent=rng.choice(["full", "full", "full", "anonymised", "summary", "private"]),
            )
            for k in range(3)
        ]
        count = min(per_meeting, n_ideas - made)
        ideas = Idea.objects.bulk_create(
            Idea(
                meeting=meeting,
                challenge=rng.choice(challenges),
                author=rng.choice(parts),
                text=sentence(rng, rng.randint(6, 30)),
                anonymous=rng.random() < 0.2,
            )
            for _ in range(count)
        )
        Reply.objects.bulk_create(
            Reply(idea=rng.choice(ideas), author=rng.choice(parts), text=sentence(rng, 10))
            for _ in range(count // 4)
        )
        Summary.objects.create(meeting=meeting, data={}, published_at=at)
        made += count
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return room, users[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ideas", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pause.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-not-for-production-77a1")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    ensure_database(args.database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from rooms.models import Idea
    from rooms.search import search

    call_command("migrate", verbosity=0)
    rng = random.Random(6)
    t0 = time.perf_counter()
    room, user = fill(args.ideas, rng)
    n = Idea.objects.filter(meeting__room=room).count()
    print(f"archive: {n} ideas in room {room.pk} (ready in {time.perf_counter() - t0:.1f} s)")

    qrng = random.Random(7)  # the same queries whether the archive was filled now or before
    queries = [
        " ".join(qrng.choice(WORDS_FR + WORDS_EN) for _ in range(qrng.randint(2, 4)))
        for _ in range(args.queries)
    ]
    for q in queries[:5]:  # warm the caches and the connection
        search(user=user, query=q)
    timings, hits = [], []
    for q in queries:
        start = time.perf_counter()
        results = search(user=user, query=q)
        timings.append((time.perf_counter() - start) * 1000)
        hits.append(len(results.hits))
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, PostgreSQL {pg}"
    )
    print(
        f"queries: {len(queries)} of 2-4 words, first page (20 hits), "
        f"mean hits {statistics.mean(hits):.1f}"
    )
    print(f"search latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {timings[-1]:.1f} ms")
    # Other processes on the machine weigh on every figure: say how busy it was.
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0 if p95 < 100 else 1


if __name__ == "__main__":
    sys.exit(main())
