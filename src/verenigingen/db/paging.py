"""Paging of lists: one bound on page sizes, keyset cursors, counts only when asked.

A list is read in the order of a :class:`Keyset`, an index's columns ending in a unique one. A
page asks for one row more than it shows; when that row exists, the page's last row becomes an
opaque cursor (``next_cursor``) and the next page starts after it with a range condition the
index serves. The first page and the thousandth cost the same: no rows skipped, no count, no
sort. ``total`` is counted only when the client asks (``count=true``), since a count reads every
matching row. ``offset`` still works for clients that page by number, at its old cost.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.base import ExecutableOption

from verenigingen.db.ids import MAX_RECORD_ID
from verenigingen.errors import ValidationFailed

MAX_LIMIT = 500
"""Largest page any list returns."""

MAX_CURSOR_LENGTH = 400
"""Longest cursor a list accepts (a name of 100 characters fits with room to spare)."""

T = TypeVar("T")


def check_page(limit: int, offset: int = 0) -> None:
    """A page size of 1 to :data:`MAX_LIMIT` and an offset of zero or more, or 422."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise ValidationFailed(f"offset must be zero or more, got {offset}")


def count_rows(session: Session, statement: Select[Any]) -> int:
    """How many rows ``statement`` selects (its ordering dropped: it cannot change a count)."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    return int(total or 0)


@dataclass(frozen=True)
class PageRequest:
    """What a client asks of a list: a page size, where to start, whether to count."""

    limit: int = 50
    after: str | None = None
    """The ``next_cursor`` of the previous page; None for the first page."""
    offset: int | None = None
    """Rows to skip, for clients that page by number (excludes ``after``)."""
    count: bool = False
    """Also count every matching row (``total``): a cost that grows with the table."""

    def check(self) -> None:
        """422 for a page size out of range, a negative offset, or an offset with a cursor."""
        check_page(self.limit, self.offset or 0)
        if self.after is not None and self.offset is not None:
            raise ValidationFailed("give either after (a cursor) or offset, not both")
        if self.after is not None and len(self.after) > MAX_CURSOR_LENGTH:
            raise ValidationFailed(f"after is longer than {MAX_CURSOR_LENGTH} characters")


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """One page of a list, the cursor of the next (None on the last) and the count if asked."""

    items: list[T]
    next_cursor: str | None
    total: int | None
    limit: int
    offset: int


KeyValue = int | str | dt.date | dt.datetime


@dataclass(frozen=True)
class Keyset:
    """The order a list is paged in: columns all ascending or all descending, the last unique.

    ``name`` goes into each cursor, so that one list's cursor is refused by another.
    """

    name: str
    columns: tuple[InstrumentedAttribute[Any], ...]
    descending: bool = False

    def order_by(self) -> list[ColumnElement[Any]]:
        return [column.desc() if self.descending else column.asc() for column in self.columns]

    def after(self, values: Sequence[KeyValue]) -> ColumnElement[bool]:
        """Rows strictly after ``values`` in this order.

        One condition in three forms, for ``(a, b)`` descending after ``(x, y)``: ``a <= x``,
        ``(a, b) < (x, y)`` and ``a < x OR (a = x AND b < y)``. Each engine reads the page as
        a range of the index from the form it plans as one (PostgreSQL: the row value; MariaDB:
        the ``OR``, as two ranges) and checks the others on the page's rows only; SQLite plans
        the first column's bound alone, so it reads the cursor's day up to the cursor's row.
        With the ``OR`` alone PostgreSQL read and dropped every row of the cursor's day that
        came before it (289,182 invoices on one posting date at a million members, 35 ms); with
        the row value alone MariaDB does the same (docs/benchmarks.md, "Deep pages").
        """
        columns = list(self.columns)
        expanded = self._beyond(columns[-1], values[-1])
        for column, value in zip(reversed(columns[:-1]), reversed(values[:-1]), strict=True):
            expanded = or_(self._beyond(column, value), and_(column == value, expanded))
        key = tuple_(*columns)
        row_value = key < tuple(values) if self.descending else key > tuple(values)
        first, first_value = columns[0], values[0]
        leading = first <= first_value if self.descending else first >= first_value
        return and_(leading, row_value, expanded)

    def _beyond(self, column: InstrumentedAttribute[Any], value: KeyValue) -> ColumnElement[bool]:
        return column < value if self.descending else column > value

    def encode(self, values: Sequence[KeyValue]) -> str:
        """The opaque cursor of a row whose key is ``values``."""
        plain = [value.isoformat() if isinstance(value, dt.date) else value for value in values]
        text = json.dumps([self.name, *plain], separators=(",", ":"), ensure_ascii=False)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> list[KeyValue]:
        """The key values of a cursor this list gave out; anything else is a 422."""
        refused = ValidationFailed(
            f"after is not a cursor of this list ({self.name}); use next_cursor"
        )
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
        except (ValueError, UnicodeError, binascii.Error):
            raise refused from None
        if not isinstance(decoded, list) or decoded[:1] != [self.name]:
            raise refused
        raw_values = decoded[1:]
        if len(raw_values) != len(self.columns):
            raise refused
        values: list[KeyValue] = []
        for column, raw in zip(self.columns, raw_values, strict=True):
            value = _typed(column, raw)
            if value is None:
                raise refused
            values.append(value)
        return values


def _typed(column: InstrumentedAttribute[Any], raw: Any) -> KeyValue | None:
    """``raw`` as a value of ``column``'s type, or None when it cannot be one."""
    kind = column.type.python_type
    if kind is int:
        ok = isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= MAX_RECORD_ID
        return raw if ok else None
    if not isinstance(raw, str):
        return None
    if kind is str:
        length = getattr(column.type, "length", None)
        ok = (length is None or len(raw) <= length) and "\x00" not in raw
        return raw if ok else None
    try:
        if kind is dt.datetime:
            return dt.datetime.fromisoformat(raw)
        if kind is dt.date:
            return dt.date.fromisoformat(raw)
    except ValueError:
        return None
    return None


def keyset_page(
    session: Session,
    statement: Select[Any],
    keyset: Keyset,
    page: PageRequest,
    *,
    loads: Sequence[ExecutableOption] = (),
    key_of: Callable[[Any], Sequence[KeyValue]] | None = None,
    rows: Callable[[Select[Any]], list[Any]] | None = None,
) -> KeysetPage[Any]:
    """One page of ``statement`` in ``keyset``'s order, after ``page.after`` (or at its offset).

    ``loads`` are the page's eager loads (the count does without them); ``key_of`` gives a
    row's key values in the keyset's column order (default: the attributes of an ORM object,
    :func:`key_getter`); ``rows`` runs the page's statement (default: its scalars,
    de-duplicated for joined loads). Two statements at most whatever the table's size: the
    page, and the count when asked; the caller's eager loads add theirs. A forged cursor is a
    422 before anything is read.
    """
    page.check()
    after = keyset.decode(page.after) if page.after is not None else None
    total = count_rows(session, statement) if page.count else None
    ordered = statement.options(*loads).order_by(*keyset.order_by()).limit(page.limit + 1)
    if after is not None:
        ordered = ordered.where(keyset.after(after))
    if page.offset:
        ordered = ordered.offset(page.offset)
    run = rows or (lambda query: list(session.scalars(query).unique()))
    found = run(ordered)
    items = found[: page.limit]
    more = len(found) > page.limit
    key = key_of or key_getter(keyset)
    next_cursor = keyset.encode(key(items[-1])) if more else None
    return KeysetPage(items, next_cursor, total, page.limit, page.offset or 0)


def key_getter(keyset: Keyset) -> Callable[[Any], list[KeyValue]]:
    """``key_of`` for a list of ORM objects: each key column's attribute of the object."""
    names = [column.key for column in keyset.columns]
    return lambda item: [getattr(item, name) for name in names]
