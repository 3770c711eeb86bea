"""Document numbers: ``ACC-SINV-2026-00001`` for invoices, ``ACC-PAY-2026-00001`` for payments."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from verenigingen.db.naming import reserve_numbers

INVOICE_SERIES = "ACC-SINV"
PAYMENT_SERIES = "ACC-PAY"


def _numbers(session: Session, series: str, day: dt.date, count: int) -> list[str]:
    prefix = f"{series}-{day.year}-"
    return [f"{prefix}{number:05d}" for number in reserve_numbers(session, prefix, count)]


def next_invoice_numbers(session: Session, posting_date: dt.date, count: int = 1) -> list[str]:
    return _numbers(session, INVOICE_SERIES, posting_date, count)


def next_payment_numbers(session: Session, posting_date: dt.date, count: int = 1) -> list[str]:
    return _numbers(session, PAYMENT_SERIES, posting_date, count)
