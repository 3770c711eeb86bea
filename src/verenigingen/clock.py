"""The one clock. Tests and the demo move time with :func:`frozen`."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Annotated

from pydantic import AfterValidator

_frozen_today: dt.date | None = None


def today() -> dt.date:
    return _frozen_today if _frozen_today is not None else dt.date.today()


def now() -> dt.datetime:
    """Naive UTC timestamp, as stored in the database."""
    current = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if _frozen_today is not None:
        return dt.datetime.combine(_frozen_today, current.time())
    return current


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored timestamp (naive, UTC) as an aware one in UTC; an aware one converted to UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(2200, 12, 31)


def within_business_range(day: dt.date) -> dt.date:
    """``day`` if an association's records can mean it (1900 to 2200), else a ValueError."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(f"must lie between {EARLIEST_DAY} and {LATEST_DAY}")
    return day


BusinessDate = Annotated[dt.date, AfterValidator(within_business_range)]
"""A day from outside: 1900-01-01 to 2200-12-31 (a posting date of year 1 or 9999, or a dues run
as of 9999-12-31, is a typo that would otherwise be stored or run)."""

UtcDateTime = Annotated[dt.datetime, AfterValidator(as_utc)]
"""A timestamp as it leaves: aware, in UTC (JSON ``2026-12-03T10:15:00Z``), so that it is an
RFC 3339 ``date-time`` whatever the database stored."""


@contextlib.contextmanager
def frozen(day: dt.date) -> Iterator[None]:
    """Make :func:`today` return ``day`` inside the block (process-wide)."""
    global _frozen_today
    previous = _frozen_today
    _frozen_today = day
    try:
        yield
    finally:
        _frozen_today = previous


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, clamped to the last day of the target month."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    next_month_first = dt.date(year + month // 12, month % 12 + 1, 1)
    last_day = (next_month_first - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last_day))


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from ``start``'s month to ``end``'s month (days ignored)."""
    return (end.year - start.year) * 12 + end.month - start.month


def advance(anchor: dt.date, current: dt.date, months: int) -> dt.date:
    """``current`` moved ``months`` on, counted from ``anchor`` when ``current`` lies on its grid.

    Counting from the anchor keeps month-end dates from drifting: a period that starts on
    31 January runs to 27 February, then 28 February to 30 March, then 31 March — where
    moving from the previous date would stick at the 28th for ever after February.
    """
    steps = months_between(anchor, current)
    if steps >= 0 and add_months(anchor, steps) == current:
        return add_months(anchor, steps + months)
    return add_months(current, months)
