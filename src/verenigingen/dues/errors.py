"""Rules of dues schedules and the dues run (see ``verenigingen.errors`` for the scheme)."""

from __future__ import annotations

from verenigingen.errors import ValidationFailed


class DuesScheduleWithoutPeriod(ValidationFailed):
    """A dues schedule with no billing period in months, so no period can be billed."""

    code = "dues_schedule_without_period"


class TooManyPeriodsAtOnce(ValidationFailed):
    """Billing a schedule up to the given date would make more invoices at once than any
    renewal can need: the dates are wrong."""

    code = "too_many_periods_at_once"
