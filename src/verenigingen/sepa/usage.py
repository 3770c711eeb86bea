"""Mandate usage: one row per direct-debit collection, FRST for the first and RCUR after.

Written by the ``sepa.record_mandate_usage`` job after a SEPA Direct Debit payment is submitted
(or marked Returned when that payment is cancelled). The mandate row is locked first, so two
collections on one mandate recorded at the same time cannot both be FRST.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from verenigingen.billing.models import Invoice, Payment
from verenigingen.errors import NotFound
from verenigingen.members.models import Member
from verenigingen.sepa.models import (
    MandateStatus,
    SepaMandate,
    SepaMandateUsage,
    SequenceType,
    UsageStatus,
)

COUNTING_STATUSES = (UsageStatus.PENDING, UsageStatus.COLLECTED)
"""Usages that make the next collection RCUR; after a failed or returned FRST, FRST again."""


def _mandate_for(session: Session, payment: Payment) -> SepaMandate | None:
    """The active mandate that collected ``payment``: the first allocated invoice's member's,
    else the newest of any member of the customer; locked."""
    first_invoice = payment.allocations[0].invoice_id if payment.allocations else None
    member_id = (
        session.scalar(select(Invoice.member_id).where(Invoice.id == first_invoice))
        if first_invoice is not None
        else None
    )
    statement = (
        select(SepaMandate)
        .join(Member, Member.id == SepaMandate.member_id)
        .where(
            Member.customer_id == payment.customer_id, SepaMandate.status == MandateStatus.ACTIVE
        )
        .order_by((SepaMandate.member_id == (member_id or 0)).desc(), SepaMandate.sign_date.desc())
        .limit(1)
        .with_for_update(of=SepaMandate)
    )
    return session.scalar(statement)


def record_usage(
    session: Session, payment_id: int, *, cancelled: bool = False
) -> SepaMandateUsage | None:
    """Record (or, for a cancelled payment, mark Returned) the usage of ``payment_id``'s mandate.

    None when the customer has no active mandate: nothing was collected under one.
    """
    payment = session.scalar(
        select(Payment).where(Payment.id == payment_id).options(selectinload(Payment.allocations))
    )
    if payment is None:
        raise NotFound(f"payment {payment_id} does not exist")
    existing = session.scalar(
        select(SepaMandateUsage).where(SepaMandateUsage.payment_id == payment_id)
    )
    if existing is not None:
        if cancelled:
            existing.status = UsageStatus.RETURNED
            session.flush()
        return existing  # a retried job: the usage is already there
    if cancelled:
        return None  # cancelled before its usage was recorded: nothing to mark
    mandate = _mandate_for(session, payment)
    if mandate is None:
        return None
    earlier = session.scalar(
        select(func.count(SepaMandateUsage.id)).where(
            SepaMandateUsage.mandate_id == mandate.id,
            SepaMandateUsage.status.in_([status.value for status in COUNTING_STATUSES]),
        )
    )
    usage = SepaMandateUsage(
        mandate_id=mandate.id,
        usage_date=payment.posting_date,
        payment_id=payment.id,
        invoice_id=payment.allocations[0].invoice_id if payment.allocations else None,
        sequence_type=SequenceType.RECURRING if earlier else SequenceType.FIRST,
        amount=payment.paid_amount,
        # The payment is booked: the money came in under this mandate.
        status=UsageStatus.COLLECTED,
    )
    session.add(usage)
    session.flush()
    return usage
