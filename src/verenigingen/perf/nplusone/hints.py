"""The remedy for an N+1 finding, chosen from the repeated statement's shape.

The statement is read with sqlglot (type, table, aggregates, the columns compared with a
parameter) and its table and columns are looked up in the application's metadata (primary key,
unique, foreign key to which parent, a mapped relationship from that parent):

* SELECT of child rows by a parent id: ``selectinload(Parent.children)`` at the query that loaded
  the parents, or one ``IN`` query when no parent query is in sight;
* SELECT by id (or another unique key) per item: one ``WHERE id IN (...)`` per ≤ 500 ids;
* COUNT/SUM per parent: one ``GROUP BY parent_id`` query;
* INSERT per item: one bulk ``session.execute(insert(Model), rows)``;
* UPDATE per item: one ORM bulk UPDATE by primary key, or one set-based UPDATE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlalchemy import Table
from sqlalchemy.orm import Mapper
from sqlglot import exp
from sqlglot.errors import SqlglotError

from verenigingen.perf.capture import CapturedQuery, LazyLoad, QueryLog
from verenigingen.perf.fingerprint import SQLGLOT_DIALECTS

IN_BATCH_SIZE = 500
_KINDS = (
    (exp.Select, "SELECT"),
    (exp.Insert, "INSERT"),
    (exp.Update, "UPDATE"),
    (exp.Delete, "DELETE"),
)
_PLACEHOLDERS = re.compile(r"%\(\w+\)s|%s|(?<![:\w]):\w+|\(…\w+\)")


@dataclass(frozen=True)
class StatementShape:
    kind: str
    """SELECT, INSERT, UPDATE, DELETE or OTHER."""
    table: str | None
    """The table written to, or the first table read from."""
    aggregates: tuple[str, ...]
    """Aggregate functions in the statement, upper case: COUNT, SUM …"""
    filters: tuple[tuple[str, str], ...]
    """(table, column) pairs compared for equality with a parameter, in statement order."""
    ranges: tuple[tuple[str, str], ...] = ()
    """(table, column) pairs compared with ``>`` or ``>=`` a parameter (keyset pagination)."""
    limited: bool = False
    """The statement has a LIMIT."""


@lru_cache(maxsize=2048)
def statement_shape(fingerprint: str, dialect: str) -> StatementShape:
    """Type, table, aggregates and parameter filters of a fingerprinted statement."""
    sql = _PLACEHOLDERS.sub(lambda m: "(?)" if m.group().startswith("(") else "?", fingerprint)
    try:
        tree = sqlglot.parse_one(sql, read=SQLGLOT_DIALECTS.get(dialect))
    except SqlglotError:
        tree = None
    if tree is None:
        head = fingerprint.split(" ", 1)[0].upper()
        kind = head if head in ("SELECT", "INSERT", "UPDATE", "DELETE") else "OTHER"
        return StatementShape(kind, None, (), ())
    kind = next(
        (name for node, name in _KINDS if isinstance(tree, node)),
        "OTHER",
    )
    first_table = tree.find(exp.Table)
    table = first_table.name if first_table is not None else None
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    # The statement's own WHERE, not one of a subquery in its select list; for a COUNT over a
    # subquery (no WHERE of its own) the subquery's.
    where = tree.args.get("where") or tree.find(exp.Where)

    def compared(*operators: type[exp.Binary]) -> tuple[tuple[str, str], ...]:
        pairs = []
        for comparison in where.find_all(*operators) if where is not None else ():
            column, other = comparison.left, comparison.right
            if isinstance(other, exp.Column):
                if not isinstance(comparison, exp.EQ):
                    continue  # ``? < column`` reads the other way round; not worth the care
                column, other = other, column
            if isinstance(column, exp.Column) and isinstance(other, exp.Placeholder):
                owner = aliases.get(column.table, column.table) if column.table else table
                if owner:
                    pairs.append((owner, column.name))
        return tuple(pairs)

    aggregates = tuple(sorted({type(node).__name__.upper() for node in tree.find_all(exp.AggFunc)}))
    return StatementShape(
        kind,
        table,
        aggregates,
        compared(exp.EQ),
        ranges=compared(exp.GT, exp.GTE),
        limited=tree.args.get("limit") is not None,
    )


def is_keyset_page(query: CapturedQuery) -> bool:
    """A page of a keyset walk (``WHERE id > ? … LIMIT ?``): one statement for many items."""
    shape = statement_shape(query.fingerprint, query.dialect)
    if not shape.limited:
        return False
    tables = _tables()
    for table_name, column_name in shape.ranges:
        table = tables.get(table_name)
        if table is not None and column_name in table.c and table.c[column_name].primary_key:
            return True
    return False


def placeholder_count(sql: str) -> int:
    """Parameters in a statement; an unexpanded ``(…name)`` IN list counts as one."""
    return len(_PLACEHOLDERS.findall(sql)) + sql.count("?")


def originating_query(log: QueryLog, before: int, table: str | None) -> CapturedQuery | None:
    """The last SELECT from ``table`` before query ``before``: where the parents were loaded."""
    if not table:
        return None
    for query in reversed(log.queries[:before]):
        shape = statement_shape(query.fingerprint, query.dialect)
        if shape.kind == "SELECT" and shape.table == table:
            return query
    return None


def lazy_load_hint(load: LazyLoad, origin: CapturedQuery | None) -> str:
    parent = load.relationship.split(".", 1)[0]
    option = "selectinload" if load.uselist else "joinedload"
    return (
        f"{load.relationship} is loaded lazily, one SELECT per {parent}: add "
        f".options({option}({load.relationship})) to the query that loaded the {parent} "
        f'rows{_at(origin)}, and declare the relationship lazy="raise" so that the next '
        "lazy load fails in the tests"
    )


def identical_query_hint(query: CapturedQuery, count: int) -> str:
    return (
        f"the same statement with the same parameters {count} times: run it once before the "
        "loop and reuse the result (or keep it for the request)"
    )


def statement_hint(query: CapturedQuery, log: QueryLog, index: int) -> str:
    """The remedy for ``query`` (at ``index`` in ``log``) sent once per item."""
    shape = statement_shape(query.fingerprint, query.dialect)
    table = shape.table or "?"
    model = _model_name(table)
    if shape.kind == "INSERT":
        return (
            f"one INSERT INTO {table} per item: collect the rows and send one bulk "
            f"session.execute(insert({model}), rows) (SQLAlchemy sends it as one "
            "multi-row INSERT or executemany)"
        )
    if shape.kind == "UPDATE":
        return (
            f"one UPDATE {table} per item: send one ORM bulk UPDATE by primary key, "
            f'session.execute(update({model}), [{{"id": …, "column": …}}, …]), or a single '
            f"set-based update({model}).where({model}.id.in_(ids)).values(…) when every row "
            "gets the same values"
        )
    if shape.kind == "DELETE":
        return (
            f"one DELETE on {table} per item: one delete({model}).where({model}.id.in_(ids)) "
            f"per batch of ≤ {IN_BATCH_SIZE} ids"
        )
    if shape.kind != "SELECT":
        return "the same statement per item: do the work for all items in one statement"
    key = _lookup_key(shape)
    if key is None:
        return (
            f"the same SELECT on {table} per item: read what the loop needs in one query before "
            f"it (an IN list of ≤ {IN_BATCH_SIZE} ids per batch, or a join) and look it up in "
            "a dict"
        )
    key_table, column, parent_table = key
    key_model = _model_name(key_table)
    if shape.aggregates:
        functions = "/".join(shape.aggregates)
        per = _model_name(parent_table) if parent_table else column
        return (
            f"{functions} per {per} ({key_table}.{column} = ?): one "
            f"select({key_model}.{column}, …).where({key_model}.{column}.in_(ids))"
            f".group_by({key_model}.{column}) query (GROUP BY {key_table}.{column}) "
            f"gives the figures of every {per} at once"
        )
    if parent_table is not None:
        origin = originating_query(log, index, parent_table)
        relationship = _relationship_name(parent_table, key_table, column)
        if origin is not None or relationship is not None:
            parent = _model_name(parent_table)
            if relationship is None:
                relationship = f"{parent}.{key_table}s"
                mapping = f'map {relationship} = relationship({key_model}, lazy="raise") and add '
            else:
                mapping = "add "
            return (
                f"{key_model} rows are read per {parent} ({key_table}.{column} = ?): {mapping}"
                f".options(selectinload({relationship})) to the query that loaded the "
                f"{parent} rows{_at(origin)}, or read them for all of those rows in one "
                f"select({key_model}).where({key_model}.{column}.in_(ids))"
            )
    return (
        f"one {key_model} lookup per item by {column}: read them in one "
        f"select({key_model}).where({key_model}.{column}.in_(ids)) query "
        f"(WHERE {key_table}.{column} IN (...)) per batch of ≤ {IN_BATCH_SIZE} ids and look "
        f"them up in a dict by {column}"
    )


def _at(origin: CapturedQuery | None) -> str:
    return f" (at {origin.call_site[0]})" if origin is not None and origin.call_site else ""


def _lookup_key(shape: StatementShape) -> tuple[str, str, str | None] | None:
    """The filter that identifies the item: (table, column, referred parent table or None).

    A foreign key is preferred (children of a parent), then the primary key or a unique
    column (a lookup by id); a statement filtered on neither has no key.
    """
    tables = _tables()
    keyed: list[tuple[int, tuple[str, str, str | None]]] = []
    for table_name, column_name in shape.filters:
        table = tables.get(table_name)
        if table is None or column_name not in table.c:
            continue
        column = table.c[column_name]
        referred = [fk.column.table.name for fk in column.foreign_keys]
        if referred and not column.primary_key:
            keyed.append((0, (table_name, column_name, referred[0])))
        elif column.primary_key or column.unique:
            keyed.append((1, (table_name, column_name, None)))
    return min(keyed, key=lambda item: item[0])[1] if keyed else None


def _relationship_name(parent_table: str, child_table: str, column: str) -> str | None:
    """``Parent.attribute`` of a mapped relationship from the parent to these child rows."""
    parent = _mappers().get(parent_table)
    if parent is None:
        return None
    for relationship in parent.relationships:
        target = relationship.mapper.local_table
        if getattr(target, "name", None) == child_table and any(
            remote.name == column for remote in relationship.remote_side
        ):
            return f"{parent.class_.__name__}.{relationship.key}"
    return None


def _model_name(table: str) -> str:
    mapper = _mappers().get(table)
    return mapper.class_.__name__ if mapper is not None else table


@lru_cache(maxsize=1)
def _mappers() -> dict[str, Mapper[object]]:
    from verenigingen.models import Base  # every model registered; imported late (cycles)

    return {
        str(getattr(mapper.local_table, "name", "")): mapper for mapper in Base.registry.mappers
    }


@lru_cache(maxsize=1)
def _tables() -> dict[str, Table]:
    from verenigingen.models import Base

    return dict(Base.metadata.tables)
