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

from sqlalchemy import exists, insert, select, update
from sqlalchemy.orm import Session, aliased

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.audit import record_money_events
from verenigingen.billing.models import (
    DocStatus,
    Invoice,
    ModeOfPayment,
    Payment,
    PaymentAllocation,
    PaymentType,
)
from verenigingen.billing.numbering import next_payment_numbers
from verenigingen.billing.status import invoice_status
from verenigingen.errors import NotFound, ValidationFailed
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
        raise ValidationFailed(
            f"allocations of {sum(a for _, a in payment.allocations)} exceed the paid amount "
            f"{payment.paid_amount}"
        )


def _record_batch(session: Session, user: User, batch: Sequence[ReceivedPayment]) -> list[int]:
    invoice_ids = sorted({invoice_id for p in batch for invoice_id, _ in p.allocations})
    credit_note = aliased(Invoice)
    has_credit_notes = exists().where(
        credit_note.return_against_id == Invoice.id,
        credit_note.docstatus == DocStatus.SUBMITTED,
    )
    # Locked in id order so that two batches touching the same invoices cannot deadlock.
    locked = (
        {
            row.id: row
            for row in session.execute(
                select(
                    Invoice.id,
                    Invoice.customer_id,
                    Invoice.docstatus,
                    Invoice.is_return,
                    Invoice.grand_total,
                    Invoice.outstanding_amount,
                    Invoice.due_date,
                    has_credit_notes.label("has_credit_notes"),
                )
                .where(Invoice.id.in_(invoice_ids))
                .order_by(Invoice.id)
                .with_for_update()
            )
        }
        if invoice_ids
        else {}
    )

    outstanding = {invoice_id: row.outstanding_amount for invoice_id, row in locked.items()}
    for payment in batch:
        for invoice_id, amount in payment.allocations:
            row = locked.get(invoice_id)
            if row is None:
                raise NotFound(f"invoice {invoice_id} does not exist")
            if row.customer_id != payment.customer_id:
                raise ValidationFailed(f"invoice {invoice_id} belongs to another customer")
            if row.docstatus != DocStatus.SUBMITTED or row.is_return:
                raise ValidationFailed(f"invoice {invoice_id} is not an open submitted invoice")
            if amount > outstanding[invoice_id]:
                raise ValidationFailed(
                    f"allocation of {amount} exceeds the outstanding {outstanding[invoice_id]} "
                    f"of invoice {invoice_id}"
                )
            outstanding[invoice_id] -= amount

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
        today = clock.today()
        session.execute(
            update(Invoice),
            [
                {
                    "id": invoice_id,
                    "outstanding_amount": outstanding[invoice_id],
                    "status": invoice_status(
                        docstatus=row.docstatus,
                        is_return=row.is_return,
                        grand_total=row.grand_total,
                        outstanding=outstanding[invoice_id],
                        due_date=row.due_date,
                        today=today,
                        has_credit_notes=row.has_credit_notes,
                    ),
                }
                for invoice_id, row in locked.items()
                if outstanding[invoice_id] != row.outstanding_amount
            ],
        )

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
    return payment_ids
