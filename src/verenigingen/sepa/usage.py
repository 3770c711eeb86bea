"""Mandate usage: one row per direct-debit collection, RCUR (or FRST, as the creditor asks).

Written by the ``sepa.record_mandate_usage`` job after a SEPA Direct Debit payment is submitted
(or marked Returned when that payment is cancelled), and by ``sepa.record_mandate_usages`` for
payments recorded in bulk (the demo, statement imports). A mandate's first collection is FRST
only when the creditor's "use FRST for first collection" is on; since the 2016 rulebook it is
RCUR like every later one. The mandate row is locked first, so two collections on one mandate
recorded at the same time cannot both be first.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from verenigingen.billing.models import (
    DocStatus,
    Invoice,
    ModeOfPayment,
    Payment,
    PaymentAllocation,
)
from verenigingen.errors import NotFound
from verenigingen.members.models import Member
from verenigingen.sepa.models import (
    MandateStatus,
    SepaCreditor,
    SepaMandate,
    SepaMandateUsage,
    SequenceType,
    UsageStatus,
)

COUNTING_STATUSES = (UsageStatus.PENDING, UsageStatus.COLLECTED)
"""Usages that make the next collection a later one; after a failed or returned first, first
again."""


def first_collection_frst(session: Session) -> bool:
    """The creditor's setting; off (RCUR) while no creditor is configured."""
    return bool(session.scalar(select(SepaCreditor.first_collection_frst).limit(1)))


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
        sequence_type=(
            SequenceType.FIRST
            if not earlier and first_collection_frst(session)
            else SequenceType.RECURRING
        ),
        amount=payment.paid_amount,
        # The payment is booked: the money came in under this mandate.
        status=UsageStatus.COLLECTED,
    )
    session.add(usage)
    session.flush()
    return usage


def record_usages(session: Session, payment_ids: Sequence[int]) -> int:
    """The usages of direct-debit payments recorded in bulk; returns how many were added.

    A payment with its usage already (a batch's collection: the batch wrote it) is skipped, as
    is one whose invoice a batch collects (its Pending usage takes the payment); the rest get
    theirs one by one, as a payment submitted alone would.
    """
    ids = sorted(set(payment_ids))
    if not ids:
        return 0
    recorded = set(
        session.scalars(
            select(SepaMandateUsage.payment_id).where(SepaMandateUsage.payment_id.in_(ids))
        )
    )
    direct_debits = session.execute(
        select(Payment.id, func.min(PaymentAllocation.invoice_id).label("invoice_id"))
        .outerjoin(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(
            Payment.id.in_([i for i in ids if i not in recorded]),
            Payment.mode_of_payment == ModeOfPayment.SEPA_DIRECT_DEBIT,
            Payment.docstatus == DocStatus.SUBMITTED,
        )
        .group_by(Payment.id)
        .order_by(Payment.id)
    ).all()
    invoice_ids = [row.invoice_id for row in direct_debits if row.invoice_id is not None]
    pending = (
        {
            usage.invoice_id: usage
            for usage in session.scalars(
                select(SepaMandateUsage).where(
                    SepaMandateUsage.invoice_id.in_(invoice_ids),
                    SepaMandateUsage.status == UsageStatus.PENDING,
                    SepaMandateUsage.payment_id.is_(None),
                )
            )
        }
        if invoice_ids
        else {}
    )
    added = 0
    for row in direct_debits:
        batch_usage = pending.pop(row.invoice_id, None)
        if batch_usage is not None:
            batch_usage.payment_id = row.id
            batch_usage.status = UsageStatus.COLLECTED
        elif record_usage(session, row.id) is not None:
            added += 1
    session.flush()
    return added


def mark_returned(session: Session, payment_ids: Sequence[int]) -> None:
    """The usages of these cancelled collections Returned (one UPDATE)."""
    session.execute(
        update(SepaMandateUsage)
        .where(
            SepaMandateUsage.payment_id.in_(sorted(payment_ids)),
            SepaMandateUsage.status.in_([status.value for status in COUNTING_STATUSES]),
        )
        .values(status=UsageStatus.RETURNED)
        .execution_options(synchronize_session=False)
    )
