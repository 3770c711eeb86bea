"""Monthly payment analytics: what came in, what went out, and how much of the month's invoices
has been collected.

A single write (a payment, an invoice, a credit note, submitted or cancelled) adds its change to
the rows of the months it touches, in its own transaction (:func:`apply_deltas`): one UPDATE
per month, whatever the size of the ledger. A month without a row yet gets it
from the ledger once, the write included. Bulk writes (a dues run, a payment batch) recompute
their months by a job instead (:func:`update_months`), a range of the posting-date indexes.

A recomputed row is recomputed, not adjusted, so a job that runs twice or late writes the same
figures. Writers of one month queue on its row lock before they read the ledger, so the last to
write is also the last to read (READ COMMITTED sees what committed before the lock was granted);
a delta written meanwhile waits for the lock and adds itself to the recomputed row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class MonthDelta:
    """How one write changes the analytics of one month."""

    month: dt.date
    """The first day of the month."""
    payment_count: int = 0
    received: Decimal = ZERO
    refunded: Decimal = ZERO
    invoiced: Decimal = ZERO
    collected: Decimal = ZERO

    def plus(self, other: MonthDelta) -> MonthDelta:
        return MonthDelta(
            self.month,
            self.payment_count + other.payment_count,
            self.received + other.received,
            self.refunded + other.refunded,
            self.invoiced + other.invoiced,
            self.collected + other.collected,
        )

    def negated(self) -> MonthDelta:
        return MonthDelta(
            self.month,
            -self.payment_count,
            -self.received,
            -self.refunded,
            -self.invoiced,
            -self.collected,
        )

    def is_zero(self) -> bool:
        return self == MonthDelta(self.month)


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def apply_deltas(session: Session, deltas: Iterable[MonthDelta]) -> int:
    """Add each month's change to its row, in the writer's transaction; the rows written.

    One UPDATE per month (its row locked until the writer commits), months in calendar order so
    that two writers lock them in the same order. A month without a row is computed from the
    ledger instead, which already holds this write, so its delta is not added again.
    """
    merged: dict[dt.date, MonthDelta] = {}
    for delta in deltas:
        month = first_of_month(delta.month)
        merged[month] = merged.get(month, MonthDelta(month)).plus(delta)
    written = 0
    for month in sorted(merged):
        delta = merged[month]
        if delta.is_zero():
            continue
        if not _add(session, delta):
            _update_month(session, month)  # from the ledger, this write included
        written += 1
    return written


def _add(session: Session, delta: MonthDelta) -> bool:
    """Add ``delta`` to its month's row in one statement; False when the month has no row."""
    row = PaymentAnalytics
    invoiced = row.invoiced + delta.invoiced
    collected = row.collected + delta.collected
    # The rate first: MariaDB assigns left to right, and would read the new totals after them.
    rate = case(
        (invoiced != 0, func.round(collected * Decimal("100.00") / invoiced, 2)), else_=None
    )
    result = session.execute(
        update(row)
        .where(row.month == delta.month)
        .ordered_values(
            (row.collection_rate, rate),
            (row.payment_count, row.payment_count + delta.payment_count),
            (row.received, row.received + delta.received),
            (row.refunded, row.refunded + delta.refunded),
            (row.invoiced, invoiced),
            (row.collected, collected),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _collection_rate(collected: Decimal, invoiced: Decimal) -> Decimal | None:
    return round_money(collected * 100 / invoiced) if invoiced else None


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
        "collection_rate": _collection_rate(collected, invoiced),
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
