"""Monthly payment analytics: what came in, what went out, and how much of the month's invoices
has been collected. Rebuilt per month from the ledger by a job on the ``long`` queue.

A month's row is recomputed, not adjusted, so a job that runs twice or late writes the same
figures. Writers of one month queue on its row lock before they read the ledger, so the last to
write is also the last to read (READ COMMITTED sees what committed before the lock was granted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.billing.models import DocStatus, Invoice, Payment, PaymentType
from verenigingen.errors import ValidationFailed
from verenigingen.history.models import PaymentAnalytics
from verenigingen.money import ZERO, round_money

_EMPTY = {
    "payment_count": 0,
    "received": ZERO,
    "refunded": ZERO,
    "invoiced": ZERO,
    "collected": ZERO,
    "collection_rate": None,
}


def parse_month(value: str) -> dt.date:
    """``2026-03`` → 2026-03-01; anything else is a 422."""
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except (TypeError, ValueError):
        raise ValidationFailed(f"a month is written YYYY-MM, got {value!r}") from None


def update_months(session: Session, months: Sequence[str]) -> list[PaymentAnalytics]:
    """Recompute the analytics rows of ``months`` (YYYY-MM) from the ledger."""
    firsts = sorted({parse_month(month) for month in months})
    return [_update_month(session, first) for first in firsts]


def _update_month(session: Session, first: dt.date) -> PaymentAnalytics:
    try:
        with session.begin_nested():
            session.execute(insert(PaymentAnalytics).values(month=first, **_EMPTY))
    except IntegrityError:
        pass  # the row exists (or a concurrent job just made it): lock it below
    session.scalar(
        select(PaymentAnalytics.month).where(PaymentAnalytics.month == first).with_for_update()
    )
    end = clock.add_months(first, 1)
    payments = session.execute(
        select(
            func.count(Payment.id),
            func.sum(
                case((Payment.payment_type == PaymentType.RECEIVE.value, Payment.paid_amount))
            ),
            func.sum(case((Payment.payment_type == PaymentType.PAY.value, Payment.paid_amount))),
        ).where(
            Payment.docstatus == DocStatus.SUBMITTED,
            Payment.posting_date >= first,
            Payment.posting_date < end,
        )
    ).one()
    invoices = session.execute(
        select(
            func.sum(Invoice.grand_total),
            func.sum(Invoice.grand_total - Invoice.outstanding_amount),
        ).where(
            Invoice.docstatus == DocStatus.SUBMITTED,
            Invoice.is_return.is_(False),
            Invoice.posting_date >= first,
            Invoice.posting_date < end,
        )
    ).one()
    invoiced = Decimal(invoices[0] or ZERO)
    collected = Decimal(invoices[1] or ZERO)
    values = {
        "payment_count": int(payments[0] or 0),
        "received": Decimal(payments[1] or ZERO),
        "refunded": Decimal(payments[2] or ZERO),
        "invoiced": invoiced,
        "collected": collected,
        "collection_rate": round_money(collected * 100 / invoiced) if invoiced else None,
    }
    session.execute(
        update(PaymentAnalytics)
        .where(PaymentAnalytics.month == first)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    row = session.get(PaymentAnalytics, first, populate_existing=True)
    assert row is not None  # inserted or locked above
    return row
