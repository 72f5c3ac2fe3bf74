"""What the plain-SQL hot paths share (the write path in ``rooms.services.rows``, the
snapshot in ``rooms.wire``, the log in ``rooms.selectors``): quoted names, and column
values turned into what the ORM would give, with the converters ``SQLCompiler`` applies
(SQLite's dates and booleans, JSON fields…). Depends on the models only."""

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
