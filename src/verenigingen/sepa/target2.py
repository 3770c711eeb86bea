"""TARGET2 business days: the days a SEPA direct debit can be collected (the ECB's calendar).

Weekends and the TARGET2 holidays (New Year's Day, Good Friday, Easter Monday, 1 May, 25 and 26
December) as the ``holidays`` package's ECB calendar lists them, never a hand-written list.
That package (about 3 MB) is imported when a calendar is first asked for, not with the API.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

BANK_TIME_ZONE = ZoneInfo("Europe/Amsterdam")
"""The time zone of the creditor's bank, in which its upload cut-off is given."""


@lru_cache(maxsize=16)
def _holidays_of(year: int) -> frozenset[dt.date]:
    import holidays

    return frozenset(holidays.financial_holidays("ECB", years=year))


def is_business_day(day: dt.date) -> bool:
    """True on a TARGET2 business day: a weekday that is no TARGET2 holiday."""
    return day.weekday() < 5 and day not in _holidays_of(day.year)


def next_business_day(day: dt.date) -> dt.date:
    """The first business day after ``day``."""
    following = day + dt.timedelta(days=1)
    while not is_business_day(following):
        following += dt.timedelta(days=1)
    return following


def upload_day(moment: dt.datetime, cutoff: dt.time | None) -> dt.date:
    """The business day a file uploaded at ``moment`` (naive UTC) is taken in by the bank:
    today when it is a business day before the cut-off, else the next business day."""
    local = moment.replace(tzinfo=dt.UTC).astimezone(BANK_TIME_ZONE)
    day = local.date()
    if is_business_day(day) and (cutoff is None or local.time() < cutoff):
        return day
    return next_business_day(day)


def earliest_collection_date(
    moment: dt.datetime, cutoff: dt.time | None, lead_days: int
) -> dt.date:
    """The first collection date a file uploaded at ``moment`` can ask for: ``lead_days``
    business days after its upload day."""
    day = upload_day(moment, cutoff)
    for _ in range(lead_days):
        day = next_business_day(day)
    return day
