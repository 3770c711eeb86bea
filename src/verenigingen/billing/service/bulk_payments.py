"""Record many received payments at once (collections, statement imports, the demo).

The same rules as one payment at a time, in a constant number of statements per batch: the
invoices are locked and re-checked, payments and allocations are inserted in bulk, outstanding
amounts and statuses are updated in one executemany, and every payment leaves an audit row.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from verenigingen import clock, events
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.audit import record_money_events
from verenigingen.billing.errors import AllocationsExceedPaidAmount
from verenigingen.billing.events import PaymentsRecorded
from verenigingen.billing.models import (
    DocStatus,
    ModeOfPayment,
    Payment,
    PaymentAllocation,
    PaymentType,
)
from verenigingen.billing.numbering import next_payment_numbers
from verenigingen.billing.service.allocation import (
    check_allocatable,
    invoice_ids_with_credit_notes,
    lock_invoices,
    refresh_status,
)
from verenigingen.errors import DomainError, NotFound
from verenigingen.money import ZERO, parse_amount

BATCH_SIZE = 500


@dataclass(frozen=True)
class ReceivedPayment:
    """A submitted payment to record: who paid, how much, and which invoices it settles."""

    customer_id: int
    posting_date: dt.date
    paid_amount: Decimal
    mode_of_payment: str = ModeOfPayment.BANK_TRANSFER
    reference_no: str | None = None
    allocations: Sequence[tuple[int, Decimal]] = field(default_factory=tuple)
    """(invoice id, allocated amount) pairs."""


def record_payments(session: Session, user: User, payments: Sequence[ReceivedPayment]) -> list[int]:
    """Record submitted payments with their allocations; returns the new payment ids in order.

    All payments are checked before anything is written: an unknown invoice, another customer's
    invoice, a draft, cancelled or return invoice, or allocations beyond an invoice's outstanding
    amount or a payment's paid amount raise and write nothing.
    """
    require(user, Permission.BILLING_WRITE)
    for payment in payments:
        _check_amounts(payment)
    ids: list[int] = []
    for start in range(0, len(payments), BATCH_SIZE):
        ids.extend(_record_batch(session, user, payments[start : start + BATCH_SIZE]))
    return ids


def _check_amounts(payment: ReceivedPayment) -> None:
    parse_amount(payment.paid_amount, field="paid_amount")
    for _invoice_id, amount in payment.allocations:
        parse_amount(amount, field="allocated_amount")
    if sum((amount for _, amount in payment.allocations), ZERO) > payment.paid_amount:
        raise AllocationsExceedPaidAmount(
            f"allocations of {sum(a for _, a in payment.allocations)} exceed the paid amount "
            f"{payment.paid_amount}"
        )


def _record_batch(session: Session, user: User, batch: Sequence[ReceivedPayment]) -> list[int]:
    invoices = lock_invoices(session, (i for p in batch for i, _ in p.allocations))
    credited = invoice_ids_with_credit_notes(session, invoices)
    touched: set[int] = set()
    try:
        for payment in batch:
            for invoice_id, amount in payment.allocations:
                invoice = invoices.get(invoice_id)
                if invoice is None:
                    raise NotFound(f"invoice {invoice_id} does not exist")
                refusal = check_allocatable(invoice, payment.customer_id, amount)
                if refusal is not None:
                    raise refusal
                # Only the in-memory copy changes until every check has passed.
                invoice.outstanding_amount -= amount
                touched.add(invoice_id)
    except DomainError:
        for invoice in invoices.values():
            session.expire(invoice)  # forget the partial changes: nothing may be flushed
        raise
    for invoice_id in touched:
        refresh_status(invoices[invoice_id], has_credit_notes=invoice_id in credited)

    numbers = iter(next_payment_numbers(session, clock.today(), len(batch)))
    payment_rows: list[dict[str, Any]] = []
    for payment in batch:
        allocated = sum((amount for _, amount in payment.allocations), ZERO)
        payment_rows.append(
            {
                "number": next(numbers),
                "payment_type": PaymentType.RECEIVE,
                "customer_id": payment.customer_id,
                "posting_date": payment.posting_date,
                "paid_amount": payment.paid_amount,
                "unallocated_amount": payment.paid_amount - allocated,
                "mode_of_payment": payment.mode_of_payment,
                "reference_no": payment.reference_no,
                "reference_date": payment.posting_date,
                "docstatus": DocStatus.SUBMITTED,
                "created_by_id": user.id,
            }
        )
    # RETURNING in parameter order would make SQLite insert row by row; the unique number
    # maps each returned id back to its payment instead.
    id_by_number = dict(
        session.execute(insert(Payment).returning(Payment.number, Payment.id), payment_rows).all()
    )
    payment_ids = [id_by_number[row["number"]] for row in payment_rows]

    allocation_rows: list[dict[str, Any]] = [
        {"payment_id": payment_id, "invoice_id": invoice_id, "allocated_amount": amount}
        for payment_id, payment in zip(payment_ids, batch, strict=True)
        for invoice_id, amount in payment.allocations
    ]
    if allocation_rows:
        session.execute(insert(PaymentAllocation), allocation_rows)
    session.flush()  # the invoices' new outstanding amounts and statuses, one executemany

    per_payment: dict[int, list[dict[str, str]]] = defaultdict(list)
    for allocation in allocation_rows:
        per_payment[allocation["payment_id"]].append(
            {
                "invoice_id": str(allocation["invoice_id"]),
                "amount": str(allocation["allocated_amount"]),
            }
        )
    record_money_events(
        session,
        user,
        [
            {
                "event": "payment.submitted",
                "entity": "payment",
                "entity_id": payment_id,
                "amount": payment.paid_amount,
                "data": {"allocations": per_payment[payment_id]},
            }
            for payment_id, payment in zip(payment_ids, batch, strict=True)
        ],
    )
    posting_dates = {p.posting_date for p in batch} | {invoices[i].posting_date for i in touched}
    events.record(
        session,
        PaymentsRecorded(
            user=user,
            payment_ids=tuple(payment_ids),
            customer_ids=frozenset(p.customer_id for p in batch),
            posting_dates=frozenset(posting_dates),
            direct_debit_payment_ids=tuple(
                payment_id
                for payment_id, payment in zip(payment_ids, batch, strict=True)
                if payment.mode_of_payment == ModeOfPayment.SEPA_DIRECT_DEBIT
            ),
        ),
    )
    return payment_ids
