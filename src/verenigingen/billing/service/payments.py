"""Payments (Payment Entry): create a draft with allocations, submit it, cancel it.

A draft's allocations are a plan: they are checked when the payment is created and checked again
under row locks when it is submitted, because other payments and credit notes may have settled
the same invoices in between. Only submit and cancel change what an invoice owes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.audit import record_money_event, record_money_events
from verenigingen.billing.models import DocStatus, Invoice, Payment, PaymentAllocation, PaymentType
from verenigingen.billing.numbering import next_payment_numbers
from verenigingen.billing.schemas import PaymentCreate
from verenigingen.billing.service.allocation import (
    allocate_oldest_first,
    check_allocatable,
    describe,
    invoice_ids_with_credit_notes,
    load_open_invoices,
    lock_invoices,
    refresh_status,
)
from verenigingen.errors import Conflict, NotFound, ValidationFailed
from verenigingen.members.models import Customer
from verenigingen.money import ZERO


def create_payment(session: Session, user: User, data: PaymentCreate) -> Payment:
    """Create a Draft payment of a customer.

    With ``data.allocations`` given, each must go to a submitted, non-return invoice of the same
    customer and fit its outstanding amount, and together they may not exceed ``paid_amount``
    (422; unknown invoice → 404). Without allocations (None), a Receive payment is spread over the
    customer's open invoices oldest-first; the rest stays unallocated.
    """
    require(user, Permission.BILLING_WRITE)
    if session.get(Customer, data.customer_id) is None:
        raise NotFound(f"customer {data.customer_id} does not exist")
    if data.allocations is None:
        plan = (
            allocate_oldest_first(load_open_invoices(session, data.customer_id), data.paid_amount)
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
        raise ValidationFailed(f"a {data.payment_type.value} payment cannot settle invoices")
    ids = [allocation.invoice_id for allocation in allocations]
    if len(set(ids)) != len(ids):
        raise ValidationFailed("each invoice may appear only once in allocations")
    invoices = (
        {
            invoice.id: invoice
            for invoice in session.scalars(select(Invoice).where(Invoice.id.in_(ids)))
        }
        if ids
        else {}
    )
    missing = [invoice_id for invoice_id in ids if invoice_id not in invoices]
    if missing:
        raise NotFound(f"invoice {missing[0]} does not exist")
    for allocation in allocations:
        reason = check_allocatable(
            invoices[allocation.invoice_id], data.customer_id, allocation.allocated_amount
        )
        if reason:
            raise ValidationFailed(reason)
    total = sum((allocation.allocated_amount for allocation in allocations), ZERO)
    if total > data.paid_amount:
        raise ValidationFailed(
            f"allocations total {total}, more than the paid amount {data.paid_amount}"
        )
    return [(allocation.invoice_id, allocation.allocated_amount) for allocation in allocations]


def _lock_payment(session: Session, payment_id: int) -> Payment:
    payment = session.scalar(
        select(Payment)
        .where(Payment.id == payment_id)
        .options(selectinload(Payment.allocations))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if payment is None:
        raise NotFound(f"payment {payment_id} does not exist")
    return payment


def submit_payment(session: Session, user: User, payment_id: int) -> Payment:
    """Submit a Draft payment: each allocation lowers its invoice's outstanding amount.

    The invoices are locked and re-checked first; if another payment or credit note took what
    this one planned to settle, nothing changes and the caller gets 409. Submitting twice → 409.
    """
    require(user, Permission.BILLING_WRITE)
    payment = _lock_payment(session, payment_id)
    if payment.docstatus != DocStatus.DRAFT:
        state = "submitted" if payment.docstatus == DocStatus.SUBMITTED else "cancelled"
        raise Conflict(f"payment {payment.number} is already {state}")
    invoices = lock_invoices(session, (a.invoice_id for a in payment.allocations))
    allocated = sum((a.allocated_amount for a in payment.allocations), ZERO)
    if allocated > payment.paid_amount:
        raise Conflict(f"payment {payment.number} allocates more than it pays")
    for allocation in payment.allocations:
        reason = check_allocatable(
            invoices[allocation.invoice_id], payment.customer_id, allocation.allocated_amount
        )
        if reason:
            raise Conflict(f"{reason}; it changed after payment {payment.number} was drafted")
    credited = invoice_ids_with_credit_notes(session, invoices)
    for allocation in payment.allocations:
        invoice = invoices[allocation.invoice_id]
        invoice.outstanding_amount -= allocation.allocated_amount
        refresh_status(invoice, has_credit_notes=invoice.id in credited)
    payment.docstatus = DocStatus.SUBMITTED
    payment.unallocated_amount = payment.paid_amount - allocated
    record_money_event(
        session,
        user,
        "payment.submitted",
        "payment",
        payment.id,
        payment.paid_amount,
        {"number": payment.number, "customer_id": payment.customer_id},
    )
    record_money_events(session, user, _allocation_events(payment, "allocation.applied"))
    session.flush()
    return payment


def cancel_payment(session: Session, user: User, payment_id: int) -> Payment:
    """Cancel a payment. A submitted one gives each invoice back what it settled (outstanding and
    status restored); a draft is simply cancelled. Cancelling twice → 409."""
    require(user, Permission.BILLING_WRITE)
    payment = _lock_payment(session, payment_id)
    if payment.docstatus == DocStatus.CANCELLED:
        raise Conflict(f"payment {payment.number} is already cancelled")
    was_submitted = payment.docstatus == DocStatus.SUBMITTED
    if was_submitted:
        invoices = lock_invoices(session, (a.invoice_id for a in payment.allocations))
        for allocation in payment.allocations:
            invoice = invoices[allocation.invoice_id]
            if invoice.outstanding_amount + allocation.allocated_amount > invoice.grand_total:
                # Only reachable if the ledger was edited outside these services.
                raise Conflict(f"{describe(invoice)} would owe more than its total")
        credited = invoice_ids_with_credit_notes(session, invoices)
        for allocation in payment.allocations:
            invoice = invoices[allocation.invoice_id]
            invoice.outstanding_amount += allocation.allocated_amount
            refresh_status(invoice, has_credit_notes=invoice.id in credited)
        record_money_events(session, user, _allocation_events(payment, "allocation.reversed"))
    payment.docstatus = DocStatus.CANCELLED
    record_money_event(
        session,
        user,
        "payment.cancelled",
        "payment",
        payment.id,
        payment.paid_amount,
        {"number": payment.number, "was_submitted": was_submitted},
    )
    session.flush()
    return payment


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
