"""Document numbers: ``ACC-SINV-2026-00001`` for invoices, ``ACC-PAY-2026-00001`` for payments.

Invoice numbers (credit notes too) run without gaps, as the tax office asks of invoices: each is
reserved under the series' row lock until the transaction ends, so two transactions that invoice
take turns. Payment numbers need only be unique; they are taken at once, so registering payments
never waits for another transaction to end, and a payment whose transaction rolls back leaves a
gap in its series.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from verenigingen.db.naming import reserve_numbers, take_numbers

INVOICE_SERIES = "ACC-SINV"
PAYMENT_SERIES = "ACC-PAY"


def _formatted(prefix: str, numbers: range) -> list[str]:
    return [f"{prefix}{number:05d}" for number in numbers]


def next_invoice_numbers(session: Session, posting_date: dt.date, count: int = 1) -> list[str]:
    prefix = f"{INVOICE_SERIES}-{posting_date.year}-"
    return _formatted(prefix, reserve_numbers(session, prefix, count))


def next_payment_numbers(session: Session, posting_date: dt.date, count: int = 1) -> list[str]:
    prefix = f"{PAYMENT_SERIES}-{posting_date.year}-"
    return _formatted(prefix, take_numbers(session, prefix, count))
