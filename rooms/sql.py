"""What the plain-SQL hot paths share (the write path in ``rooms.services.rows``, the
snapshot in ``rooms.wire``, the log in ``rooms.selectors``): quoted names, column
values turned into what the ORM would give, with the converters ``SQLCompiler`` applies
(SQLite's dates and booleans, JSON fields…), and ``script``, several statements in one
round trip on PostgreSQL. Depends on the models only."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import connection


@functools.cache
def qn(name: str) -> str:
    """``connection.ops.quote_name``, cached: a process talks to one database, and going
    through ``connection`` (a per-context proxy) for each name cost a tenth of a
    command's CPU."""
    return connection.ops.quote_name(name)


def converters(fields: Sequence) -> tuple:
    """(index, column, converters) of each of ``fields`` (model fields, in the order of
    the selected columns) whose value the ORM converts on the way out."""
    out = []
    for i, field in enumerate(fields):
        col = field.get_col(field.model._meta.db_table)
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if found:
            out.append((i, col, tuple(found)))
    return tuple(out)


def convert(values: list, found: tuple) -> list:
    """Apply ``found`` (from ``converters``) to one row's ``values``, in place."""
    for i, col, funcs in found:
        for func in funcs:
            values[i] = func(values[i], col, connection)
    return values


Statement = tuple[str, list]


def script(statements: Sequence[Statement | None], *, prepared: bool = False) -> list:
    """Run ``statements`` in order (None: skipped); the rows of each (None for one that
    returns none). On PostgreSQL in one round trip: the driver binds the parameters on
    the client side, so several statements can go as one query; elsewhere one by one.

    ``prepared`` (statements whose text does not vary with their parameters: the
    connect path's): on PostgreSQL each statement is a prepared statement of the
    connection, sent in one pipeline (``_pipelined``), unless ``PAUSE_PG_PREPARED`` is
    off. PostgreSQL then plans each shape once per connection instead of at every call:
    planning was ~90% of the database's CPU for the connect path's joins (0.38 → 0.04 ms
    for the session member's)."""
    todo = [st for st in statements if st is not None]
    if prepared and connection.vendor == "postgresql" and _prepared_enabled():
        found = iter(_pipelined(todo))
        return [None if st is None else next(found) for st in statements]
    out: list = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(todo) > 1:
            cursor.execute(";\n".join(sql for sql, _ in todo), [p for _, ps in todo for p in ps])
            for i in range(len(todo)):
                out.append(cursor.fetchall() if _returns_rows(cursor) else None)
                if i < len(todo) - 1:
                    cursor.nextset()
        else:
            for sql, params in todo:
                cursor.execute(sql, params)
                out.append(cursor.fetchall() if _returns_rows(cursor) else None)
    found = iter(out)
    return [None if st is None else next(found) for st in statements]


_TUPLES_OK = 2  # psycopg.pq.ExecStatus.TUPLES_OK


def _returns_rows(cursor) -> bool:
    """Whether the cursor's current statement returned rows (a Django cursor, or
    psycopg's): on PostgreSQL its result's status, not ``description`` (which builds a
    column object per column, a tenth of the connect path's CPU)."""
    raw = getattr(cursor, "cursor", cursor)  # psycopg's, under Django's wrapper
    result = getattr(raw, "pgresult", None)
    if result is not None:
        return result.status == _TUPLES_OK
    return cursor.description is not None


# Statements that open or end a transaction: never prepared (PostgreSQL cannot).
_UNPREPARED = ("BEGIN", "COMMIT", "ROLLBACK", "SET ")


def _prepared_enabled() -> bool:
    from django.conf import settings

    return bool(getattr(settings, "PAUSE_PG_PREPARED", True))


def _pipelined(todo: Sequence[Statement]) -> list:
    """``todo`` on PostgreSQL with the parameters bound by the server: each statement
    prepared once per connection (psycopg's cache of prepared statements, ``prepare=
    True``; Django leaves its automatic preparing off and its own cursors bind on the
    client), all of them sent in one pipeline, that is one round trip. Errors come out as
    Django's (``wrap_database_errors``), and the script is logged as one query when
    Django logs queries (tests count round trips with it); ``connection.execute_wrapper``
    hooks do not see these statements (they wrap Django's cursors only)."""
    import time

    import psycopg

    db = connection
    db.ensure_connection()
    raw = db.connection
    if raw.prepare_threshold is None:
        # Only what asks (``prepare=True``) is prepared: this threshold is never reached.
        raw.prepare_threshold = 2**31 - 1
    started = time.monotonic()
    cursors = []
    with db.wrap_database_errors:
        if len(todo) == 1:  # no pipeline to set up
            cursor = psycopg.Cursor(raw)
            text, params = todo[0]
            cursor.execute(text, params or None, prepare=not text.startswith(_UNPREPARED))
            cursors.append(cursor)
        else:
            with raw.pipeline():
                for text, params in todo:
                    cursor = psycopg.Cursor(raw)
                    cursor.execute(text, params or None, prepare=not text.startswith(_UNPREPARED))
                    cursors.append(cursor)
        out = [c.fetchall() if _returns_rows(c) else None for c in cursors]
    if db.queries_logged:
        db.queries_log.append(
            {
                "sql": ";\n".join(text for text, _ in todo),
                "time": f"{time.monotonic() - started:.3f}",
            }
        )
    return out
