"""The write path's fixed statements in plain SQL (``run_calls``, group commit).

Each transaction of commands runs these once: lock the meetings, read the actors with
their roles, look up the receipts (``open_batch``), then save the meetings' ``last_seq``,
the events and the receipts (``close_batch``); the commonest command, ``idea.post``,
also reads its challenge and inserts its idea here. Built by the ORM they cost ~0.3–0.9
ms of CPU each on a small machine, mostly in compiling the query and building the rows;
written here once they cost a tenth of that (``python -m bench.run --scenarios micro``
gives the CPU of an ``idea.post``). On PostgreSQL each of the two groups goes in one
round trip (several statements in one query, their results read in turn): a round trip
costs about as much CPU in the driver as building a statement. Everything else (the
rarer commands) stays on the ORM. Portable between PostgreSQL and SQLite: values go in through
each field's own database preparation (on PostgreSQL an insert's rows go as one JSON
value, ``_insert_json_sql``) and come out through the same converters the ORM applies
(``_converters``), into instances as ``Model.from_db`` makes them (``_maker``). The statements are
built from the models' table and column names and ``%s`` placeholders only (hence the
S608 waivers).
"""

from __future__ import annotations

import datetime
import decimal
import functools
import json
import uuid
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import connection
from django.db.models import Model, signals
from django.db.models.base import ModelState

from rooms import sql
from rooms.models import Challenge, CommandReceipt, Idea, Meeting, Membership, Participant

_qn = sql.qn


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


@functools.cache
def _columns(model: type[Model], alias: str) -> str:
    """``alias.col1, alias.col2, …``: the model's columns in ``from_db`` order."""
    return ", ".join(f"{alias}.{_qn(f.column)}" for f in model._meta.concrete_fields)


@functools.cache
def _converters(model: type[Model], vendor: str) -> tuple:
    return sql.converters(model._meta.concrete_fields)


def _instances(model: type[Model], rows: Iterable[Sequence]) -> list:
    """Model instances from rows holding the model's columns first, in ``from_db``
    order; each row's other values, if any, are set as ``extra`` attribute."""
    n = len(model._meta.concrete_fields)
    names = [f.attname for f in model._meta.concrete_fields]
    converters = _converters(model, connection.vendor)
    alias = connection.alias
    make = _maker(model)
    out = []
    for row in rows:
        values = sql.convert(list(row[:n]), converters)
        obj = make(alias, names, values)
        obj.extra = row[n:]
        out.append(obj)
    return out


def _maker(model: type[Model]):
    """``model.from_db``, or, when nothing listens to the model's ``pre_init`` and
    ``post_init`` signals, what it amounts to for a row of every concrete field: an
    instance whose ``__dict__`` holds the values, without ``Model.__init__``'s setattr
    through each field's descriptor (a fresh instance has no related object cached for
    a foreign key's descriptor to clear). ``Model.__init__`` was a quarter of the write
    path's CPU per post in a profile of ``bench.inproc``'s batches (six instances a post,
    three of them rows read here)."""
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return model.from_db
    new = model.__new__

    def make(alias: str, names: list[str], values: list) -> Model:
        obj = new(model)
        state = ModelState()
        state.adding, state.db = False, alias
        obj.__dict__.update(zip(names, values, strict=True))
        obj._state = state
        return obj

    return make


def _plain(model: type[Model], rows: Iterable[Sequence]) -> list:
    """``_instances`` of rows holding the model's columns only."""
    found = _instances(model, rows)
    for obj in found:
        del obj.extra
    return found


def _fetch(sql: str, params: Sequence) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


Statement = sql.Statement


def _lock_sql(ids: list[int]) -> Statement:
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = (
        f"SELECT {_columns(Meeting, 'm')} FROM {_qn(Meeting._meta.db_table)} m"  # noqa: S608
        f" WHERE m.{_qn('id')} IN ({_marks(len(ids))}) ORDER BY m.{_qn('id')}{lock}"
    )
    return sql, list(ids)


def lock_meetings(ids: Iterable[int]) -> dict[int, Meeting]:
    """The meetings, locked in id order (every writer locks in that order)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    return {m.pk: m for m in _instances(Meeting, _fetch(*_lock_sql(ids)))}


def open_batch(
    meeting_ids: Iterable[int],
    participant_ids: Iterable[int],
    pairs: Sequence[tuple[int, str]],
    challenge_ids: Iterable[int] = (),
    new_ideas: int = 0,
) -> tuple[dict[int, Meeting], list[Participant], dict[tuple[int, str], dict], dict, Deferred]:
    """``lock_meetings``, ``participants_with_roles``, ``receipts`` and ``challenges``
    together: the start of a batch of commands (one round trip on PostgreSQL, the locks
    first). The challenges come without their owners: they are read for the batch's
    first commands that validate first (``run_calls``), which use none (one that did
    would read the owner on access). On PostgreSQL, with the ids of up to ``new_ideas``
    ideas drawn from their sequence (``Deferred``)."""
    meeting_ids, participant_ids = sorted(set(meeting_ids)), sorted(set(participant_ids))
    challenge_ids = sorted(set(challenge_ids))
    draw = new_ideas > 0 and connection.vendor == "postgresql"
    _begin, locked, found, stored, named, ids = sql.script(
        [
            begin_statement(),
            _lock_sql(meeting_ids) if meeting_ids else None,
            _participants_sql(participant_ids) if participant_ids else None,
            _receipts_sql(pairs) if pairs else None,
            _challenges_sql(challenge_ids, meeting_ids, owners=False)
            if challenge_ids and meeting_ids
            else None,
            _ids_sql(Idea, new_ideas) if draw else None,
        ]
    )
    return (
        {m.pk: m for m in _instances(Meeting, locked or ())},
        _with_roles(found or ()),
        _stored(stored or ()),
        {c.pk: c for c in _plain(Challenge, named or ())},
        Deferred([i for (i,) in ids or ()]),
    )


def close_batch(
    last_seqs: Sequence[Meeting],
    events: Sequence[Model],
    receipts: Sequence[Model],
    deferred: Deferred | None = None,
):
    """The deferred inserts, ``save_last_seq`` of each meeting, then the events' and the
    receipts' inserts: the end of a batch of commands (one round trip on PostgreSQL).

    On PostgreSQL, when this is the last statement of the outermost transaction, its
    COMMIT goes in the same round trip: Django's commit then finds the connection idle and
    sends nothing (psycopg commits only a transaction in progress), and runs the
    ``on_commit`` callbacks as usual. A failed COMMIT raises here, inside the block, which
    then rolls back (a no-op on an ended transaction) as for any other error."""
    sql.script(
        [
            deferred.take_statement() if deferred is not None else None,
            *_last_seqs_sql(last_seqs),
            _insert_sql(events, EVENT_FIELDS) if events else None,
            _insert_sql(receipts, RECEIPT_FIELDS) if receipts else None,
            commit_statement(),
        ]
    )
    after_commit()


_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE


def begin_statement() -> Statement | None:
    """BEGIN, for the first script of a block, when that script may open its transaction
    itself (else None), and make it so: on PostgreSQL, at the start of the outermost
    ``atomic`` block. psycopg sends BEGIN in a round trip of its own before the first
    statement of a transaction; with psycopg's autocommit on (allowed while no
    transaction is in progress) it sends none, and the script's own BEGIN opens the
    transaction in the same round trip. Django's block goes on as usual: its savepoints
    are statements, its rollback sends ROLLBACK whatever psycopg's setting (and Django
    then turns autocommit on anyway), and ``after_commit`` turns psycopg's autocommit back
    off after the block's last script (``commit_statement``)."""
    if not _last_of_outermost():
        return None
    raw = connection.connection
    if raw is None or raw.autocommit or raw.info.transaction_status != _IDLE:
        return None
    raw.autocommit = True
    return ("BEGIN", [])


def commit_statement() -> Statement | None:
    """COMMIT, for the last script of the outermost ``atomic`` block on PostgreSQL (else
    None): Django's commit then finds the connection idle and sends nothing (psycopg
    commits only a transaction in progress), and runs the ``on_commit`` callbacks as
    usual. Call ``after_commit`` once the script has run."""
    return ("COMMIT", []) if _last_of_outermost() else None


def after_commit() -> None:
    """After a script that ended with ``commit_statement``: if the block was opened by
    ``begin_statement``, give psycopg back the autocommit setting Django's block expects
    (off), so that its commit finds nothing to do."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    raw = connection.connection
    if raw.autocommit and raw.info.transaction_status == _IDLE:
        raw.autocommit = False


def _last_of_outermost() -> bool:
    """Whether the caller is in the outermost ``atomic`` block (not a savepoint), on
    PostgreSQL, so that the block may end with the caller's last statement."""
    return (
        connection.vendor == "postgresql"
        and connection.in_atomic_block
        and len(connection.atomic_blocks) == 1
        and not connection.savepoint_ids
        and not connection.needs_rollback
    )


def _ids_sql(model: type[Model], n: int) -> Statement:
    """``n`` new primary keys of ``model`` from its sequence (PostgreSQL)."""
    meta = model._meta
    sql = "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)"
    return sql, [_qn(meta.db_table), meta.pk.column, n]


class Deferred:
    """New rows of one batch whose primary keys were drawn with the batch's first round
    trip (``open_batch``), inserted together with its last (``close_batch``) instead of
    one ``INSERT … RETURNING`` round trip each.

    ``add(obj)`` gives ``obj`` a drawn key and keeps it, or returns False when none is left
    (SQLite draws none): the caller then inserts it with ``create``. Rows kept here are not
    in the database yet: before a command that may read or change them runs, the batch
    inserts them (``flush``); a command that fails after adding some drops them
    (``rollback_to``)."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids
        self.objs: list[Model] = []

    def add(self, obj: Model) -> bool:
        if not self.ids:
            return False
        meta = obj._meta
        obj.pk = self.ids.pop(0)
        for f in meta.concrete_fields:
            if f is not meta.pk:
                setattr(obj, f.attname, f.pre_save(obj, add=True))
        obj._state.adding = False
        obj._state.db = connection.alias
        self.objs.append(obj)
        return True

    def mark(self) -> int:
        return len(self.objs)

    def rollback_to(self, mark: int) -> None:
        # The ids drawn for them are not reused (sequences never roll back either).
        del self.objs[mark:]

    def take_statement(self) -> Statement | None:
        """The INSERT of the rows kept so far (None: none), which are then forgotten."""
        if not self.objs:
            return None
        objs, self.objs = self.objs, []
        return _insert_sql(objs, [f.name for f in objs[0]._meta.concrete_fields])

    def flush(self) -> None:
        statement = self.take_statement()
        if statement is not None:
            _fetch_none(*statement)


def challenges(ids: Iterable[int], meeting_ids: Iterable[int]) -> dict[int, Challenge]:
    """The challenges of ``ids`` that belong to one of ``meeting_ids``, each with its
    owner (as ``select_related("owner")``)."""
    ids, meeting_ids = sorted(set(ids)), sorted(set(meeting_ids))
    if not ids or not meeting_ids:
        return {}
    return _with_owners(_fetch(*_challenges_sql(ids, meeting_ids)))


def _challenges_sql(ids: list[int], meeting_ids: list[int], owners: bool = True) -> Statement:
    c, p = Challenge._meta, Participant._meta
    if owners:
        select = f"SELECT {_columns(Challenge, 'c')}, {_columns(Participant, 'p')}"
        join = f" JOIN {_qn(p.db_table)} p ON p.{_qn('id')} = c.{_qn('owner_id')}"
    else:
        select, join = f"SELECT {_columns(Challenge, 'c')}", ""
    sql = (
        f"{select} FROM {_qn(c.db_table)} c{join}"
        f" WHERE c.{_qn('id')} IN ({_marks(len(ids))})"
        f" AND c.{_qn('meeting_id')} IN ({_marks(len(meeting_ids))})"
    )
    return sql, [*ids, *meeting_ids]


def _with_owners(rows: Iterable[Sequence]) -> dict[int, Challenge]:
    found = {}
    for challenge in _instances(Challenge, rows):
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
    return _with_roles(_fetch(*_participants_sql(ids)))


def _participants_sql(ids: list[int]) -> Statement:
    p, m, ms = Participant._meta, Meeting._meta, Membership._meta
    sql = (
        f"SELECT {_columns(Participant, 'p')}, ms.{_qn('role')}"  # noqa: S608
        f" FROM {_qn(p.db_table)} p"
        f" JOIN {_qn(m.db_table)} mt ON mt.{_qn('id')} = p.{_qn('meeting_id')}"
        f" LEFT JOIN {_qn(ms.db_table)} ms ON ms.{_qn('room_id')} = mt.{_qn('room_id')}"
        f" AND ms.{_qn('user_id')} = p.{_qn('user_id')}"
        f" WHERE p.{_qn('id')} IN ({_marks(len(ids))})"
    )
    return sql, list(ids)


def _with_roles(rows: Iterable[Sequence]) -> list[Participant]:
    found = _instances(Participant, rows)
    for participant in found:
        (participant.member_role,) = participant.extra
        del participant.extra
    return found


def receipts(pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], dict]:
    """The stored result of each (participant id, ref) already answered."""
    if not pairs:
        return {}
    return _stored(_fetch(*_receipts_sql(pairs)))


def _receipts_sql(pairs: Sequence[tuple[int, str]]) -> Statement:
    table = _qn(CommandReceipt._meta.db_table)
    pids = sorted({pid for pid, _ref in pairs})
    refs = sorted({ref for _pid, ref in pairs})
    sql = (
        f"SELECT {_qn('participant_id')}, {_qn('ref')}, {_qn('result')} FROM {table}"  # noqa: S608
        f" WHERE {_qn('participant_id')} IN ({_marks(len(pids))})"
        f" AND {_qn('ref')} IN ({_marks(len(refs))})"
    )
    return sql, [*pids, *refs]


def _stored(rows: Iterable[Sequence]) -> dict[tuple[int, str], dict]:
    return {(pid, ref): json.loads(r) if isinstance(r, str) else r for pid, ref, r in rows}


def insert(objs: Sequence[Model], fields: Sequence[str]) -> None:
    """One INSERT of ``objs`` (all of one model), columns ``fields``; no ids returned."""
    if objs:
        _fetch_none(*_insert_sql(objs, fields))


EVENT_FIELDS = ("meeting", "seq", "name", "actor", "data", "at")
RECEIPT_FIELDS = ("participant", "ref", "result", "created_at")


def _fetch_none(sql: str, params: Sequence) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _insert_sql(objs: Sequence[Model], fields: Sequence[str]) -> Statement:
    meta = objs[0]._meta
    columns = [meta.get_field(name) for name in fields]
    if connection.vendor == "postgresql":
        return _insert_json_sql(objs, columns)
    row = f"({_marks(len(columns))})"
    sql = (
        f"INSERT INTO {_qn(meta.db_table)} ({', '.join(_qn(c.column) for c in columns)})"  # noqa: S608
        f" VALUES {', '.join([row] * len(objs))}"
    )
    params = [c.get_db_prep_save(getattr(o, c.attname), connection) for o in objs for c in columns]
    return sql, params


@functools.cache
def _insert_json_text(model: type[Model], names: tuple[str, ...]) -> str:
    meta = model._meta
    columns = [meta.get_field(name) for name in names]
    cols = ", ".join(_qn(c.column) for c in columns)
    types = ", ".join(f"{_qn(c.column)} {c.db_type(connection)}" for c in columns)
    return (
        f"INSERT INTO {_qn(meta.db_table)} ({cols}) SELECT {cols}"  # noqa: S608
        f" FROM json_to_recordset(%s::json) AS r({types})"
    )


# Columns whose value, when it is exactly of one of these types, goes into the JSON as it
# is: the field's own preparation would return it unchanged.
_AS_IS = {
    "AutoField": int,
    "BigAutoField": int,
    "SmallAutoField": int,
    "IntegerField": int,
    "BigIntegerField": int,
    "SmallIntegerField": int,
    "PositiveIntegerField": int,
    "PositiveBigIntegerField": int,
    "PositiveSmallIntegerField": int,
    "CharField": str,
    "TextField": str,
    "BooleanField": bool,
}
# A DateTimeField's aware datetime (with USE_TZ): prepared for PostgreSQL unchanged.
_AWARE = object()
_DATETIME = datetime.datetime


@functools.cache
def _json_plan(model: type[Model], names: tuple[str, ...]) -> tuple:
    """For each column: (column, attname, the type kept as it is or None, is JSON, field)."""
    meta = model._meta
    plan = []
    for name in names:
        f = meta.get_field(name)
        target = f.target_field if f.is_relation else f
        kind = (
            _AS_IS.get(target.get_internal_type()) if not f.is_relation or f.many_to_one else None
        )
        if f.get_internal_type() == "DateTimeField" and settings.USE_TZ:
            kind = _AWARE
        is_json = f.get_internal_type() == "JSONField"
        if is_json and f.encoder is not None:
            is_json, kind = False, None  # through its encoder (``_json_value``)
        plan.append((f.column, f.attname, kind, is_json, f))
    return tuple(plan)


def _json_value(value):
    """A prepared value JSON has no type for: its text, as PostgreSQL reads it."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    from psycopg.types.json import Json, Jsonb

    if isinstance(value, Json | Jsonb):  # a JSON field's with an encoder of its own
        return json.loads((value.dumps or json.dumps)(value.obj))
    raise TypeError(f"{value.__class__.__name__} is not a column value")


def _insert_json_sql(objs: Sequence[Model], columns: list) -> Statement:
    """PostgreSQL: the rows as one JSON parameter, unpacked by the server
    (``json_to_recordset``, whose columns take the fields' own types, so a value too long
    for its column fails as it would in ``VALUES``). The statement's text is the same
    whatever the number of rows, and the driver quotes one value instead of one per
    column and row; a value goes in as it is when the field's preparation would not
    change it (an int, a str, a bool, None, an aware datetime as its ISO text), else
    through ``get_db_prep_save``."""
    model = type(objs[0])
    names = tuple(c.name for c in columns)
    plan = _json_plan(model, names)
    db = connection
    rows = []
    for o in objs:
        row = {}
        for column, attname, kind, is_json, field in plan:
            value = getattr(o, attname)
            if value is None or is_json or (kind is not None and type(value) is kind):
                row[column] = value  # JSON: the value itself, not the driver's adapter
            elif kind is _AWARE and type(value) is _DATETIME and value.utcoffset() is not None:
                row[column] = value.isoformat()  # as PostgreSQL's preparation keeps it
            else:
                row[column] = field.get_db_prep_save(value, db)
        rows.append(row)
    text = json.dumps(rows, default=_json_value, ensure_ascii=False, separators=(",", ":"))
    return _insert_json_text(model, names), [text]


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
    _fetch_none(*_last_seq_sql(meeting))


def _last_seqs_sql(meetings: Sequence[Meeting]) -> list[Statement]:
    """``save_last_seq`` of each of ``meetings``: on PostgreSQL one statement for them all
    (a batch of a busy process holds a few dozen meetings: one statement to parse, plan
    and run instead of one each), elsewhere one each."""
    if len(meetings) < 2 or connection.vendor != "postgresql":
        return [_last_seq_sql(m) for m in meetings]
    table = _qn(Meeting._meta.db_table)
    sql = (
        f"UPDATE {table} AS m SET {_qn('last_seq')} = v.seq"  # noqa: S608
        f" FROM (VALUES {', '.join(['(%s, %s)'] * len(meetings))}) AS v(id, seq)"
        f" WHERE m.{_qn('id')} = v.id"
    )
    return [(sql, [x for m in meetings for x in (m.pk, m.last_seq)])]


def _last_seq_sql(meeting: Meeting) -> Statement:
    table = _qn(Meeting._meta.db_table)
    sql = f"UPDATE {table} SET {_qn('last_seq')} = %s WHERE {_qn('id')} = %s"  # noqa: S608
    return sql, [meeting.last_seq, meeting.pk]
