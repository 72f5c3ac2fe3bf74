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


def script(statements: Sequence[Statement | None]) -> list:
    """Run ``statements`` in order (None: skipped); the rows of each (None for one that
    returns none). On PostgreSQL in one round trip: the driver binds the parameters on
    the client side, so several statements can go as one query; elsewhere one by one."""
    todo = [st for st in statements if st is not None]
    out: list = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(todo) > 1:
            cursor.execute(";\n".join(sql for sql, _ in todo), [p for _, ps in todo for p in ps])
            for i in range(len(todo)):
                out.append(cursor.fetchall() if cursor.description is not None else None)
                if i < len(todo) - 1:
                    cursor.nextset()
        else:
            for sql, params in todo:
                cursor.execute(sql, params)
                out.append(cursor.fetchall() if cursor.description is not None else None)
    found = iter(out)
    return [None if st is None else next(found) for st in statements]
