"""Payments (Payment Entry): create a draft with allocations, submit it, cancel it.

A draft's allocations are a plan: they are checked when the payment is created and checked again
under row locks when it is submitted, because other payments and credit notes may have settled
the same invoices in between. Only submit and cancel change what an invoice owes.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from verenigingen import clock, events
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.audit import record_money_events
from verenigingen.billing.errors import (
    AllocationsExceedPaidAmount,
    InvoiceAllocatedTwice,
    OutstandingExceedsTotal,
    PaymentAlreadyCancelled,
    PaymentNotDraft,
    PaymentTypeCannotSettle,
)
from verenigingen.billing.events import PaymentCancelled, PaymentChange, PaymentSubmitted
from verenigingen.billing.models import (
    DocStatus,
    Invoice,
    ModeOfPayment,
    Payment,
    PaymentAllocation,
    PaymentType,
)
from verenigingen.billing.numbering import next_payment_numbers
from verenigingen.billing.schemas import PaymentCreate
from verenigingen.billing.service.allocation import (
    allocate_oldest_first,
    check_allocatable,
    describe,
    lock_invoices,
    lock_invoices_with_credit_flags,
    lock_open_invoices,
    write_outstanding,
)
from verenigingen.errors import NotFound
from verenigingen.members.models import Customer, Member
from verenigingen.money import ZERO

P = TypeVar("P", bound=PaymentChange)


def create_payment(session: Session, user: User, data: PaymentCreate) -> Payment:
    """Create a Draft payment of a customer.

    With ``data.allocations`` given, each must go to a submitted, non-return invoice of the same
    customer and fit its outstanding amount, and together they may not exceed ``paid_amount``
    (422; a draft or cancelled invoice → 409 ``invoice_not_submitted``; unknown invoice → 404).
    Without allocations (None), a Receive payment is spread over the customer's open invoices
    oldest-first; the rest stays unallocated.

    The invoices it allocates to stay locked until the transaction ends, as submitting locks
    them: two payments for one invoice take turns from here, instead of both holding the share
    lock their allocations' foreign keys take and each waiting for the other at submit.
    """
    require(user, Permission.BILLING_WRITE)
    if session.get(Customer, data.customer_id) is None:
        raise NotFound(f"customer {data.customer_id} does not exist")
    if data.allocations is None:
        plan = (
            allocate_oldest_first(lock_open_invoices(session, data.customer_id), data.paid_amount)
            if data.payment_type == PaymentType.RECEIVE
            else []
        )
    else:
        plan = _checked_plan(session, data)
    allocated = sum((amount for _, amount in plan), ZERO)

    posting_date = data.posting_date or clock.today()
    (number,) = next_payment_numbers(session, posting_date)
    payment = Payment(
        number=number,
        payment_type=data.payment_type.value,
        customer_id=data.customer_id,
        posting_date=posting_date,
        paid_amount=data.paid_amount,
        unallocated_amount=data.paid_amount - allocated,
        mode_of_payment=data.mode_of_payment.value,
        reference_no=data.reference_no,
        reference_date=data.reference_date,
        docstatus=DocStatus.DRAFT,
        created_by_id=user.id,
        allocations=[
            PaymentAllocation(invoice_id=invoice_id, allocated_amount=amount)
            for invoice_id, amount in plan
        ],
    )
    session.add(payment)
    session.flush()
    return payment


def _checked_plan(session: Session, data: PaymentCreate) -> list[tuple[int, Decimal]]:
    """The explicit allocations of ``data``, validated against the invoices as they are now."""
    allocations = data.allocations or []
    if allocations and data.payment_type != PaymentType.RECEIVE:
        raise PaymentTypeCannotSettle(f"a {data.payment_type.value} payment cannot settle invoices")
    ids = [allocation.invoice_id for allocation in allocations]
    if len(set(ids)) != len(ids):
        raise InvoiceAllocatedTwice("each invoice may appear only once in allocations")
    invoices = lock_invoices(session, ids)
    missing = [invoice_id for invoice_id in ids if invoice_id not in invoices]
    if missing:
        raise NotFound(f"invoice {missing[0]} does not exist")
    for allocation in allocations:
        refusal = check_allocatable(
            invoices[allocation.invoice_id], data.customer_id, allocation.allocated_amount
        )
        if refusal is not None:
            raise refusal
    total = sum((allocation.allocated_amount for allocation in allocations), ZERO)
    if total > data.paid_amount:
        raise AllocationsExceedPaidAmount(
            f"allocations total {total}, more than the paid amount {data.paid_amount}"
        )
    return [(allocation.invoice_id, allocation.allocated_amount) for allocation in allocations]


def _lock_payment(session: Session, payment_id: int) -> tuple[Payment, list[int]]:
    """The payment under a row lock with its allocations, and the ids of its customer's members
    (whose cache tags and summaries the payment changes): one statement."""
    rows = (
        session.execute(
            select(Payment, Member.id)
            .outerjoin(Member, Member.customer_id == Payment.customer_id)
            .where(Payment.id == payment_id)
            .options(joinedload(Payment.allocations))
            .with_for_update(of=Payment)
            .execution_options(populate_existing=True)
        )
        .unique()
        .all()
    )
    if not rows:
        raise NotFound(f"payment {payment_id} does not exist")
    member_ids = sorted({member_id for _payment, member_id in rows if member_id is not None})
    return rows[0][0], member_ids


def submit_payment(session: Session, user: User, payment_id: int) -> Payment:
    """Submit a Draft payment: each allocation lowers its invoice's outstanding amount.

    The invoices are locked and re-checked first; if another payment or credit note took what
    this one planned to settle, nothing changes and the caller gets 422
    (``allocation_exceeds_outstanding``), or 409 (``invoice_not_submitted``) when the invoice was
    cancelled meanwhile. Submitting twice → 409 (``payment_not_draft``).
    Inline: the rules, outstanding and status, the audit trail; then ``PaymentSubmitted`` is
    recorded, whose subscribers bump the cache tags and enqueue the member summary, the mandate
    usage and the analytics.
    """
    require(user, Permission.BILLING_WRITE)
    payment, member_ids = _lock_payment(session, payment_id)
    if payment.docstatus != DocStatus.DRAFT:
        state = "submitted" if payment.docstatus == DocStatus.SUBMITTED else "cancelled"
        raise PaymentNotDraft(f"payment {payment.number} is already {state}")
    invoices, credited = lock_invoices_with_credit_flags(
        session, (a.invoice_id for a in payment.allocations)
    )
    allocated = sum((a.allocated_amount for a in payment.allocations), ZERO)
    if allocated > payment.paid_amount:
        raise AllocationsExceedPaidAmount(f"payment {payment.number} allocates more than it pays")
    for allocation in payment.allocations:
        refusal = check_allocatable(
            invoices[allocation.invoice_id], payment.customer_id, allocation.allocated_amount
        )
        if refusal is not None:
            raise type(refusal)(
                f"{refusal.detail}; it changed after payment {payment.number} was drafted"
            )
    write_outstanding(session, invoices, _changes(payment, sign=-1), credited)
    payment.docstatus = DocStatus.SUBMITTED
    payment.unallocated_amount = payment.paid_amount - allocated
    record_money_events(
        session,
        user,
        [
            _payment_event(payment, "payment.submitted", {"customer_id": payment.customer_id}),
            *_allocation_events(payment, "allocation.applied"),
        ],
    )
    events.record(session, _payment_change(PaymentSubmitted, user, payment, member_ids, invoices))
    session.flush()
    return payment


def cancel_payment(session: Session, user: User, payment_id: int) -> Payment:
    """Cancel a payment. A submitted one gives each invoice back what it settled (outstanding and
    status restored); a draft is simply cancelled. Cancelling twice → 409."""
    require(user, Permission.BILLING_WRITE)
    payment, member_ids = _lock_payment(session, payment_id)
    if payment.docstatus == DocStatus.CANCELLED:
        raise PaymentAlreadyCancelled(f"payment {payment.number} is already cancelled")
    was_submitted = payment.docstatus == DocStatus.SUBMITTED
    reversals: list[dict[str, Any]] = []
    if was_submitted:
        invoices, credited = lock_invoices_with_credit_flags(
            session, (a.invoice_id for a in payment.allocations)
        )
        for allocation in payment.allocations:
            invoice = invoices[allocation.invoice_id]
            if invoice.outstanding_amount + allocation.allocated_amount > invoice.grand_total:
                # Only reachable if the ledger was edited outside these services.
                raise OutstandingExceedsTotal(f"{describe(invoice)} would owe more than its total")
        write_outstanding(session, invoices, _changes(payment, sign=1), credited)
        reversals = _allocation_events(payment, "allocation.reversed")
    payment.docstatus = DocStatus.CANCELLED
    record_money_events(
        session,
        user,
        [
            *reversals,
            _payment_event(payment, "payment.cancelled", {"was_submitted": was_submitted}),
        ],
    )
    if was_submitted:
        # A draft never reached the ledger: nothing to invalidate or to update in the background.
        change = _payment_change(PaymentCancelled, user, payment, member_ids, invoices)
        events.record(session, change)
    session.flush()
    return payment


def _changes(payment: Payment, *, sign: int) -> dict[int, Decimal]:
    return {a.invoice_id: sign * a.allocated_amount for a in payment.allocations}


def _payment_change(
    kind: type[P],
    user: User,
    payment: Payment,
    member_ids: Sequence[int],
    invoices: dict[int, Invoice],
) -> P:
    return kind(
        user=user,
        payment_id=payment.id,
        customer_id=payment.customer_id,
        member_ids=tuple(member_ids),
        payment_type=PaymentType(payment.payment_type),
        mode_of_payment=ModeOfPayment(payment.mode_of_payment),
        posting_date=payment.posting_date,
        paid_amount=payment.paid_amount,
        allocated_amount=sum((a.allocated_amount for a in payment.allocations), ZERO),
        invoice_count=len(payment.allocations),
        invoice_posting_dates=tuple(invoice.posting_date for invoice in invoices.values()),
        settled=tuple(
            (invoices[a.invoice_id].posting_date, a.allocated_amount)
            for a in payment.allocations
            if not invoices[a.invoice_id].is_return
        ),
        payment_number=payment.number,
    )


def _payment_event(payment: Payment, event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": event,
        "entity": "payment",
        "entity_id": payment.id,
        "amount": payment.paid_amount,
        "data": {"number": payment.number, **data},
    }


def _allocation_events(payment: Payment, event: str) -> list[dict[str, Any]]:
    # Filed under the invoice, so that an invoice's audit trail shows every payment that touched it.
    return [
        {
            "event": event,
            "entity": "invoice",
            "entity_id": allocation.invoice_id,
            "amount": allocation.allocated_amount,
            "data": {"payment_id": payment.id, "payment_number": payment.number},
        }
        for allocation in payment.allocations
    ]
