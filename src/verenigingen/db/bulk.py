"""Bulk inserts in one statement, whatever the number of rows.

An executemany sends one row per round of the driver's protocol: psycopg pipelines them, but a
100,000-entry direct-debit batch still pays a parse, a bind and an execute per row on the server
and as much work in the driver. On PostgreSQL :func:`insert_rows` sends one ``INSERT … SELECT``
over ``unnest`` of one array per column instead: the rows travel as a handful of arrays and the
server inserts them as a set. Elsewhere it stays an executemany, which is already one statement
in effect: SQLite prepares it once, PyMySQL rewrites it into multi-row INSERTs.

Either way it goes through SQLAlchemy, so query capture sees (and counts) one statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ARRAY, Table, bindparam, func, insert, select
from sqlalchemy.orm import Session

from verenigingen.db.base import Base


def insert_rows(session: Session, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (each with the same columns) into ``model``'s table; ids come from the
    table.

    Column defaults are not applied on PostgreSQL's path: every row names each column it sets,
    and a column left out is NULL or its server default.
    """
    if not rows:
        return
    table = model.__table__
    assert isinstance(table, Table)
    names = list(rows[0])
    if any(len(row) != len(names) for row in rows):
        raise ValueError(f"every row inserted into {table.name} must name the same columns")
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), list(rows))
        return
    columns = [table.c[name] for name in names]
    # Several set-returning functions in one select list advance together, row by row.
    arrays = select(
        *[
            func.unnest(bindparam(f"{column.name}_values", type_=ARRAY(column.type))).label(
                column.name
            )
            for column in columns
        ]
    )
    session.execute(
        insert(table).from_select(names, arrays),
        {f"{name}_values": [row[name] for row in rows] for name in names},
    )
