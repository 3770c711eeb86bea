"""Cancel many submitted payments at once (the returned collections of a bank's status report).

The same rule as cancelling one payment (``payments.cancel_payment``): each invoice owes again
what the payment had settled, its status follows, and every payment and reversed allocation
leaves an audit row. In a constant number of statements per call: the payments locked with
their allocations, the invoices locked once, outstanding amounts and statuses in one
executemany, the payments in another, the audit rows in one INSERT.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from verenigingen import events
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.audit import record_money_events
from verenigingen.billing.errors import OutstandingExceedsTotal
from verenigingen.billing.events import PaymentsCancelled
from verenigingen.billing.models import DocStatus, ModeOfPayment, Payment
from verenigingen.billing.service.allocation import (
    describe,
    lock_invoices_with_credit_flags,
    write_outstanding,
)
from verenigingen.errors import NotFound
from verenigingen.money import ZERO


def cancel_payments(session: Session, user: User, payment_ids: Sequence[int]) -> list[int]:
    """Cancel the payments ``payment_ids``; returns the ids cancelled now, in id order.

    A payment cancelled before is skipped; a draft is cancelled without touching any invoice.
    An unknown id raises :class:`NotFound` and nothing is written.
    """
    require(user, Permission.BILLING_WRITE)
    ids = sorted(set(payment_ids))
    if not ids:
        return []
    payments = list(
        session.scalars(
            select(Payment)
            .where(Payment.id.in_(ids))
            .options(selectinload(Payment.allocations))
            .order_by(Payment.id)
            .with_for_update(of=Payment)
            .execution_options(populate_existing=True)
        )
    )
    missing = sorted(set(ids) - {payment.id for payment in payments})
    if missing:
        raise NotFound(f"payment {missing[0]} does not exist")
    chosen = [payment for payment in payments if payment.docstatus != DocStatus.CANCELLED]
    submitted = [payment for payment in chosen if payment.docstatus == DocStatus.SUBMITTED]
    changes: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for payment in submitted:
        for allocation in payment.allocations:
            changes[allocation.invoice_id] += allocation.allocated_amount
    invoices, credited = lock_invoices_with_credit_flags(session, changes)
    for invoice_id, change in changes.items():
        invoice = invoices[invoice_id]
        if invoice.outstanding_amount + change > invoice.grand_total:
            # Only reachable if the ledger was edited outside these services.
            raise OutstandingExceedsTotal(f"{describe(invoice)} would owe more than its total")
    write_outstanding(session, invoices, dict(changes), credited)
    for payment in chosen:
        payment.docstatus = DocStatus.CANCELLED
    session.flush()  # one executemany for the payments
    record_money_events(session, user, _audit_rows(chosen, submitted))
    if submitted:
        events.record(
            session,
            PaymentsCancelled(
                user=user,
                payment_ids=tuple(payment.id for payment in submitted),
                customer_ids=frozenset(payment.customer_id for payment in submitted),
                posting_dates=frozenset(
                    {payment.posting_date for payment in submitted}
                    | {invoice.posting_date for invoice in invoices.values()}
                ),
                direct_debit_payment_ids=tuple(
                    payment.id
                    for payment in submitted
                    if payment.mode_of_payment == ModeOfPayment.SEPA_DIRECT_DEBIT
                ),
            ),
        )
    return [payment.id for payment in chosen]


def _audit_rows(chosen: list[Payment], submitted: list[Payment]) -> list[dict[str, Any]]:
    was_submitted = {payment.id for payment in submitted}
    rows: list[dict[str, Any]] = []
    for payment in chosen:
        if payment.id in was_submitted:
            rows.extend(
                {
                    "event": "allocation.reversed",
                    "entity": "invoice",
                    "entity_id": allocation.invoice_id,
                    "amount": allocation.allocated_amount,
                    "data": {"payment_id": payment.id, "payment_number": payment.number},
                }
                for allocation in payment.allocations
            )
        rows.append(
            {
                "event": "payment.cancelled",
                "entity": "payment",
                "entity_id": payment.id,
                "amount": payment.paid_amount,
                "data": {"number": payment.number, "was_submitted": payment.id in was_submitted},
            }
        )
    return rows
