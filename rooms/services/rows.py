"""The write path's fixed statements in plain SQL (``run_calls``, group commit).

Each transaction of commands runs these once: lock the meetings, read the actors with
their roles, look up the receipts, then save the events, the receipts and the meetings'
``last_seq``. Built by the ORM they cost ~0.4–0.7 ms of CPU each on a small machine,
mostly in compiling the query; written here once they cost a tenth of that. Everything
else (the commands themselves) stays on the ORM. Portable between PostgreSQL and SQLite:
values go through each field's own database preparation. The statements are built from
the models' table and column names and ``%s`` placeholders only (hence the S608 waivers).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model

from rooms.models import CommandReceipt, Meeting, Membership, Participant


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def lock_meetings(ids: Iterable[int]) -> dict[int, Meeting]:
    """The meetings, locked in id order (every writer locks in that order)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = (
        f"SELECT * FROM {_qn(Meeting._meta.db_table)} WHERE {_qn('id')} IN ({_marks(len(ids))})"  # noqa: S608
        f" ORDER BY {_qn('id')}{lock}"
    )
    return {m.pk: m for m in Meeting.objects.raw(sql, ids)}


def participants_with_roles(ids: Iterable[int]) -> list[Participant]:
    """The participants, each with ``member_role``: their role in the meeting's room, or
    None (a guest, or no longer a member)."""
    ids = sorted(set(ids))
    if not ids:
        return []
    p, m, ms = Participant._meta, Meeting._meta, Membership._meta
    sql = (
        f"SELECT p.*, ms.{_qn('role')} AS member_role FROM {_qn(p.db_table)} p"  # noqa: S608
        f" JOIN {_qn(m.db_table)} mt ON mt.{_qn('id')} = p.{_qn('meeting_id')}"
        f" LEFT JOIN {_qn(ms.db_table)} ms ON ms.{_qn('room_id')} = mt.{_qn('room_id')}"
        f" AND ms.{_qn('user_id')} = p.{_qn('user_id')}"
        f" WHERE p.{_qn('id')} IN ({_marks(len(ids))})"
    )
    return list(Participant.objects.raw(sql, ids))


def receipts(pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], dict]:
    """The stored result of each (participant id, ref) already answered."""
    if not pairs:
        return {}
    table = _qn(CommandReceipt._meta.db_table)
    pids = sorted({pid for pid, _ref in pairs})
    refs = sorted({ref for _pid, ref in pairs})
    sql = (
        f"SELECT {_qn('participant_id')}, {_qn('ref')}, {_qn('result')} FROM {table}"  # noqa: S608
        f" WHERE {_qn('participant_id')} IN ({_marks(len(pids))})"
        f" AND {_qn('ref')} IN ({_marks(len(refs))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*pids, *refs])
        rows = cursor.fetchall()
    return {(pid, ref): json.loads(r) if isinstance(r, str) else r for pid, ref, r in rows}


def insert(objs: Sequence[Model], fields: Sequence[str]) -> None:
    """One INSERT of ``objs`` (all of one model), columns ``fields``; no ids returned."""
    if not objs:
        return
    meta = objs[0]._meta
    columns = [meta.get_field(name) for name in fields]
    row = f"({_marks(len(columns))})"
    sql = (
        f"INSERT INTO {_qn(meta.db_table)} ({', '.join(_qn(c.column) for c in columns)})"  # noqa: S608
        f" VALUES {', '.join([row] * len(objs))}"
    )
    params = [c.get_db_prep_save(getattr(o, c.attname), connection) for o in objs for c in columns]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def save_last_seq(meeting: Meeting) -> None:
    table = _qn(Meeting._meta.db_table)
    sql = f"UPDATE {table} SET {_qn('last_seq')} = %s WHERE {_qn('id')} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [meeting.last_seq, meeting.pk])
