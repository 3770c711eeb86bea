"""What the dues domain records: invoices billed from schedules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from verenigingen.events import DomainEvent


@dataclass(frozen=True)
class DuesBilled(DomainEvent):
    """Dues invoices were submitted for these customers (a dues run, a renewal, an approval)."""

    invoice_ids: tuple[int, ...]
    customer_ids: frozenset[int]
    posting_date: dt.date
