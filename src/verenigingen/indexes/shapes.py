"""What a statement asks of each table: its equality columns, range columns and ORDER BY,
read from the SQL with sqlglot. The advisor turns these into index candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

_EXPANDING = re.compile(r"\(…\w+\)")
_PYFORMAT = re.compile(r"%\(\w+\)s")
_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)


@dataclass
class TableShape:
    table: str
    equality: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    order_by: list[str] = field(default_factory=list)

    def candidate(self, limit: int = 3) -> tuple[str, ...]:
        """Equality columns, then range, then ORDER BY; each once, at most ``limit``."""
        columns = list(dict.fromkeys([*self.equality, *self.ranges[:1], *self.order_by]))
        return tuple(columns[:limit])


def parse(sql: str) -> exp.Expr | None:
    """The statement's tree (placeholders of any style read as ``?``), or None when unparsable."""
    text = _PYFORMAT.sub("?", _EXPANDING.sub("(?)", sql))
    try:
        return sqlglot.parse_one(text, read="sqlite")
    except SqlglotError:
        return None


def _tables(select: exp.Select) -> dict[str, str]:
    """Alias (or name) → table name, for the tables this SELECT reads directly."""
    found: dict[str, str] = {}
    sources = [select.args.get("from_") or select.args.get("from")]
    sources += list(select.args.get("joins") or [])
    for source in sources:
        if source is None:
            continue
        table = source.this if isinstance(source.this, exp.Table) else None
        if table is not None and table.name:
            found[table.alias_or_name] = table.name
    return found


def _owner(column: exp.Column, tables: dict[str, str]) -> str | None:
    if column.table:
        return tables.get(column.table)
    return next(iter(tables.values())) if len(tables) == 1 else None


def _conjuncts(condition: exp.Expr | None) -> list[exp.Expr]:
    if condition is None:
        return []
    if isinstance(condition, exp.And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    if isinstance(condition, exp.Paren):
        return _conjuncts(condition.this)
    return [condition]


def _is_value(node: exp.Expr | None) -> bool:
    return isinstance(node, exp.Placeholder | exp.Literal | exp.Boolean | exp.Null)


def table_shapes(sql: str) -> list[TableShape]:
    """One shape per table read by each SELECT in ``sql`` (subqueries included)."""
    tree = parse(sql)
    if tree is None:
        return []
    shapes: list[TableShape] = []
    for select in tree.find_all(exp.Select):
        tables = _tables(select)
        by_table = {name: TableShape(name) for name in dict.fromkeys(tables.values())}
        where = select.args.get("where")
        conditions = _conjuncts(where.this if where is not None else None)
        for join in select.args.get("joins") or []:
            conditions += _conjuncts(join.args.get("on"))
        for condition in conditions:
            _classify(condition, tables, by_table)
        order = select.args.get("order")
        if order is not None:
            columns = [o.this for o in order.expressions if isinstance(o.this, exp.Column)]
            owners = {_owner(c, tables) for c in columns}
            if len(columns) == len(order.expressions) and len(owners) == 1 and None not in owners:
                (owner,) = owners
                by_table[str(owner)].order_by = [c.name for c in columns]
        shapes.extend(shape for shape in by_table.values() if shape.candidate())
    return shapes


def _classify(condition: exp.Expr, tables: dict[str, str], by_table: dict[str, TableShape]) -> None:
    if isinstance(condition, exp.EQ | exp.Is):
        left, right = condition.left, condition.right
        if isinstance(left, exp.Column) and isinstance(right, exp.Column):
            # A join: the column looked up on each side is an equality column of its table.
            for column in (left, right):
                _add(by_table, _owner(column, tables), "equality", column.name)
        elif isinstance(left, exp.Column) and _is_value(right):
            _add(by_table, _owner(left, tables), "equality", left.name)
        elif isinstance(right, exp.Column) and _is_value(left):
            _add(by_table, _owner(right, tables), "equality", right.name)
    elif isinstance(condition, exp.In) and isinstance(condition.this, exp.Column):
        _add(by_table, _owner(condition.this, tables), "equality", condition.this.name)
    elif isinstance(condition, _RANGE) and isinstance(condition.this, exp.Column):
        _add(by_table, _owner(condition.this, tables), "ranges", condition.this.name)
    elif isinstance(condition, _RANGE) and isinstance(condition.expression, exp.Column):
        _add(by_table, _owner(condition.expression, tables), "ranges", condition.expression.name)


def _add(by_table: dict[str, TableShape], table: str | None, kind: str, column: str) -> None:
    if table is None or table not in by_table:
        return
    columns: list[str] = getattr(by_table[table], kind)
    if column not in columns:
        columns.append(column)
