"""Search indexes for the archive (rooms/search.py), per database vendor.

PostgreSQL: the ``unaccent`` extension when this server has it (skipped otherwise), two
text search configurations ``pause_french`` and ``pause_english`` (copies of ``french``
and ``english``, accents stripped when ``unaccent`` is there), and on each searched table
a stored generated column ``pause_search`` (the French and the English tsvector of the
text) with a GIN index. The column is unknown to the Django models on purpose: the
database keeps it up to date on every write, and rooms/search.py reads it in raw SQL.
Stored rather than computed at query time: ranking thousands of matches would otherwise
parse every matching text twice per search (measured: p50 150 ms against 10,000 ideas).

SQLite: an FTS5 table filled from the ended meetings; ``summary_build`` keeps it in sync.
"""

from django.db import migrations, transaction

VECTOR = (
    "(to_tsvector('pause_french'::regconfig, {col})"
    " || to_tsvector('pause_english'::regconfig, {col}))"
)
PG_COLUMN = "pause_search"
PG_INDEXES = {
    "rooms_idea_fts": ("rooms_idea", "text"),
    "rooms_reply_fts": ("rooms_reply", "text"),
    "rooms_takeaway_fts": ("rooms_takeaway", "text"),
    "rooms_challenge_fts": ("rooms_challenge", "(title || ' ' || ask || ' ' || context)"),
}
FTS_TABLE = "rooms_search_fts"


def _postgres_forwards(schema_editor):
    cursor = schema_editor.connection.cursor()
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            cursor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        has_unaccent = True
    except Exception:  # noqa: BLE001 - no such extension or no right to create it
        has_unaccent = False
    for lang in ("french", "english"):
        cursor.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS pause_{lang}")
        cursor.execute(f"CREATE TEXT SEARCH CONFIGURATION pause_{lang} (COPY = {lang})")
        if has_unaccent:
            cursor.execute(
                f"ALTER TEXT SEARCH CONFIGURATION pause_{lang} "
                f"ALTER MAPPING FOR hword, hword_part, word WITH unaccent, {lang}_stem"
            )
    for name, (table, column) in PG_INDEXES.items():
        expr = VECTOR.format(col=column)
        cursor.execute(
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {PG_COLUMN} tsvector "
            f"GENERATED ALWAYS AS ({expr}) STORED"
        )
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING GIN ({PG_COLUMN})")


def _postgres_backwards(schema_editor):
    cursor = schema_editor.connection.cursor()
    for name, (table, _column) in PG_INDEXES.items():
        cursor.execute(f"DROP INDEX IF EXISTS {name}")
        cursor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {PG_COLUMN}")
    for lang in ("french", "english"):
        cursor.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS pause_{lang}")


def _sqlite_forwards(apps, schema_editor):
    from rooms.search import FTS_CREATE, index_rows

    cursor = schema_editor.connection.cursor()
    cursor.execute(FTS_CREATE)
    Meeting = apps.get_model("rooms", "Meeting")
    Reply = apps.get_model("rooms", "Reply")
    for meeting in Meeting.objects.filter(state="ended"):
        rows = index_rows(
            meeting.pk,
            meeting.challenges.filter(status="active"),
            meeting.ideas.filter(removed=False, challenge__status="active"),
            Reply.objects.filter(
                idea__meeting=meeting, idea__removed=False, idea__challenge__status="active"
            ).select_related("idea"),
            meeting.takeaways.all(),
        )
        cursor.executemany(
            f"INSERT INTO {FTS_TABLE} (body, kind, obj_id, meeting_id, challenge_id) "
            "VALUES (%s, %s, %s, %s, %s)",
            list(rows),
        )


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _postgres_forwards(schema_editor)
    elif vendor == "sqlite":
        _sqlite_forwards(apps, schema_editor)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _postgres_backwards(schema_editor)
    elif vendor == "sqlite":
        schema_editor.connection.cursor().execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")


class Migration(migrations.Migration):
    dependencies = [("rooms", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
