"""The write path's fixed statements in plain SQL (``run_calls``, group commit).

Each transaction of commands runs these once: lock the meetings, read the actors with
their roles, look up the receipts, then save the events, the receipts and the meetings'
``last_seq``; the commonest command, ``idea.post``, also reads its challenge and inserts
its idea here. Built by the ORM they cost ~0.3–0.9 ms of CPU each on a small machine,
mostly in compiling the query and building the rows; written here once they cost a
tenth of that (``python -m bench.micro rows`` measures both). Everything else (the rarer
commands) stays on the ORM. Portable between PostgreSQL and SQLite: values go in through
each field's own database preparation and come out through the same converters the ORM
applies (``_converters``), into instances made by ``Model.from_db``. The statements are
built from the models' table and column names and ``%s`` placeholders only (hence the
S608 waivers).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model

from rooms.models import Challenge, CommandReceipt, Meeting, Membership, Participant


@functools.cache
def _qn(name: str) -> str:
    # Cached: a process talks to one database, and going through ``connection`` (a
    # per-context proxy) for each name was a tenth of a command's CPU.
    return connection.ops.quote_name(name)


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


@functools.cache
def _columns(model: type[Model], alias: str) -> str:
    """``alias.col1, alias.col2, …``: the model's columns in ``from_db`` order."""
    return ", ".join(f"{alias}.{_qn(f.column)}" for f in model._meta.concrete_fields)


@functools.cache
def _converters(model: type[Model], vendor: str) -> tuple:
    """(index, expression, converters) of each column whose value the ORM converts on
    the way out (SQLite's dates and booleans, JSON fields…), as ``SQLCompiler`` does."""
    out = []
    for i, field in enumerate(model._meta.concrete_fields):
        col = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if found:
            out.append((i, col, tuple(found)))
    return tuple(out)


def _instances(model: type[Model], rows: Iterable[Sequence]) -> list:
    """Model instances from rows holding the model's columns first, in ``from_db``
    order; each row's other values, if any, are set as ``extra`` attribute."""
    n = len(model._meta.concrete_fields)
    names = [f.attname for f in model._meta.concrete_fields]
    converters = _converters(model, connection.vendor)
    out = []
    for row in rows:
        values = list(row[:n])
        for i, col, funcs in converters:
            for func in funcs:
                values[i] = func(values[i], col, connection)
        obj = model.from_db(connection.alias, names, values)
        obj.extra = row[n:]
        out.append(obj)
    return out


def _fetch(sql: str, params: Sequence) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def lock_meetings(ids: Iterable[int]) -> dict[int, Meeting]:
    """The meetings, locked in id order (every writer locks in that order)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = (
        f"SELECT {_columns(Meeting, 'm')} FROM {_qn(Meeting._meta.db_table)} m"  # noqa: S608
        f" WHERE m.{_qn('id')} IN ({_marks(len(ids))}) ORDER BY m.{_qn('id')}{lock}"
    )
    return {m.pk: m for m in _instances(Meeting, _fetch(sql, ids))}


def challenges(ids: Iterable[int], meeting_ids: Iterable[int]) -> dict[int, Challenge]:
    """The challenges of ``ids`` that belong to one of ``meeting_ids``, each with its
    owner (as ``select_related("owner")``)."""
    ids, meeting_ids = sorted(set(ids)), sorted(set(meeting_ids))
    if not ids or not meeting_ids:
        return {}
    c, p = Challenge._meta, Participant._meta
    sql = (
        f"SELECT {_columns(Challenge, 'c')}, {_columns(Participant, 'p')}"  # noqa: S608
        f" FROM {_qn(c.db_table)} c JOIN {_qn(p.db_table)} p"
        f" ON p.{_qn('id')} = c.{_qn('owner_id')}"
        f" WHERE c.{_qn('id')} IN ({_marks(len(ids))})"
        f" AND c.{_qn('meeting_id')} IN ({_marks(len(meeting_ids))})"
    )
    found = {}
    for challenge in _instances(Challenge, _fetch(sql, [*ids, *meeting_ids])):
        (owner,) = _instances(Participant, [challenge.extra])
        del challenge.extra, owner.extra
        Challenge.owner.field.set_cached_value(challenge, owner)
        found[challenge.pk] = challenge
    return found


def participants_with_roles(ids: Iterable[int]) -> list[Participant]:
    """The participants, each with ``member_role``: their role in the meeting's room, or
    None (a guest, or no longer a member)."""
    ids = sorted(set(ids))
    if not ids:
        return []
    p, m, ms = Participant._meta, Meeting._meta, Membership._meta
    sql = (
        f"SELECT {_columns(Participant, 'p')}, ms.{_qn('role')}"  # noqa: S608
        f" FROM {_qn(p.db_table)} p"
        f" JOIN {_qn(m.db_table)} mt ON mt.{_qn('id')} = p.{_qn('meeting_id')}"
        f" LEFT JOIN {_qn(ms.db_table)} ms ON ms.{_qn('room_id')} = mt.{_qn('room_id')}"
        f" AND ms.{_qn('user_id')} = p.{_qn('user_id')}"
        f" WHERE p.{_qn('id')} IN ({_marks(len(ids))})"
    )
    found = _instances(Participant, _fetch(sql, ids))
    for participant in found:
        (participant.member_role,) = participant.extra
        del participant.extra
    return found


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


def create(obj: Model) -> Model:
    """Insert ``obj`` (a new instance whose primary key is generated) as
    ``Model.objects.create`` would, without its signals (the models written here have
    none): one ``INSERT … RETURNING``; sets the new primary key."""
    meta = obj._meta
    columns = [f for f in meta.concrete_fields if f is not meta.pk]
    sql = (
        f"INSERT INTO {_qn(meta.db_table)} ({', '.join(_qn(c.column) for c in columns)})"  # noqa: S608
        f" VALUES ({_marks(len(columns))}) RETURNING {_qn(meta.pk.column)}"
    )
    params = [c.get_db_prep_save(c.pre_save(obj, add=True), connection) for c in columns]
    ((obj.pk,),) = _fetch(sql, params)
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


def save_last_seq(meeting: Meeting) -> None:
    table = _qn(Meeting._meta.db_table)
    sql = f"UPDATE {table} SET {_qn('last_seq')} = %s WHERE {_qn('id')} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [meeting.last_seq, meeting.pk])
