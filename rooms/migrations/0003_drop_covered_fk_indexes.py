"""Drop the indexes Django made for three foreign keys that a composite index already
covers (its first column): each was one more index write for every idea, event and
command receipt, the write path's hottest inserts.

The models say ``db_index=False``; the database side is a plain ``DROP INDEX`` (the
names are the ones 0001 created, the same on PostgreSQL and SQLite) instead of Django's
``AlterField``, which drops and re-adds the foreign key constraint (re-checking every row
on PostgreSQL) and rebuilds the table on SQLite.
"""

import django.db.models.deletion
from django.db import migrations, models

COVERED = [
    # (index, table, column): covered by
    ("rooms_idea_meeting_id_0d8af47a", "rooms_idea", "meeting_id"),  # (meeting, challenge)
    (
        "rooms_meetingevent_meeting_id_9a5e974f",
        "rooms_meetingevent",
        "meeting_id",
    ),  # (meeting, seq)
    (
        "rooms_commandreceipt_participant_id_b71644e3",
        "rooms_commandreceipt",
        "participant_id",
    ),  # (participant, ref)
]


class Migration(migrations.Migration):
    dependencies = [
        ("rooms", "0002_search"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="commandreceipt",
                    name="participant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="receipts",
                        to="rooms.participant",
                    ),
                ),
                migrations.AlterField(
                    model_name="idea",
                    name="meeting",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ideas",
                        to="rooms.meeting",
                    ),
                ),
                migrations.AlterField(
                    model_name="meetingevent",
                    name="meeting",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="rooms.meeting",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for name, table, column in COVERED
            ],
        ),
    ]
