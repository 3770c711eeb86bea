"""Period arithmetic shared by renewals and dues: whole months, anchored on the start date."""

from __future__ import annotations

import datetime as dt

from verenigingen.clock import add_months


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
