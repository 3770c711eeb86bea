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
from typing import Any

from sqlalchemy import func, insert, select, update
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
    is one whose invoice a batch collects (its Pending usage takes the payment). The rest get
    theirs set-based, as each would alone (:func:`record_usage`): the customer's active mandate,
    that of its first invoice's member first, else the newest signed; FRST for a mandate's first
    counting usage when the creditor asks for it. Seven statements whatever the number of
    payments (eight with FRST: the mandates' earlier usages counted), the mandates locked in
    one.
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
        select(
            Payment.id,
            Payment.customer_id,
            Payment.posting_date,
            Payment.paid_amount,
            func.min(PaymentAllocation.invoice_id).label("invoice_id"),
        )
        .outerjoin(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(
            Payment.id.in_([i for i in ids if i not in recorded]),
            Payment.mode_of_payment == ModeOfPayment.SEPA_DIRECT_DEBIT,
            Payment.docstatus == DocStatus.SUBMITTED,
        )
        .group_by(Payment.id, Payment.customer_id, Payment.posting_date, Payment.paid_amount)
        .order_by(Payment.id)
    ).all()
    invoice_ids = sorted({row.invoice_id for row in direct_debits if row.invoice_id is not None})
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
    alone = []
    for row in direct_debits:
        batch_usage = pending.pop(row.invoice_id, None)
        if batch_usage is not None:
            batch_usage.payment_id = row.id
            batch_usage.status = UsageStatus.COLLECTED
        else:
            alone.append(row)
    added = _add_usages(session, alone, invoice_ids) if alone else 0
    session.flush()
    return added


def _add_usages(session: Session, payments: Sequence[Any], invoice_ids: Sequence[int]) -> int:
    """Insert the usages of ``payments`` (rows of id, customer, date, amount, first invoice)."""
    member_of_invoice: dict[int, int | None] = dict(
        session.execute(
            select(Invoice.id, Invoice.member_id).where(Invoice.id.in_(invoice_ids))
        ).all()
    )
    mandates: dict[int, list[Any]] = {}
    for mandate in session.execute(
        select(SepaMandate.id, SepaMandate.member_id, Member.customer_id)
        .join(Member, Member.id == SepaMandate.member_id)
        .where(
            Member.customer_id.in_(sorted({row.customer_id for row in payments})),
            SepaMandate.status == MandateStatus.ACTIVE,
        )
        .order_by(SepaMandate.sign_date.desc(), SepaMandate.id.desc())
        .with_for_update(of=SepaMandate)
    ):
        mandates.setdefault(mandate.customer_id, []).append(mandate)
    chosen: list[tuple[Any, int]] = []
    for row in payments:
        candidates = mandates.get(row.customer_id)
        if not candidates:
            continue  # no active mandate: nothing was collected under one
        member_id = member_of_invoice.get(row.invoice_id) if row.invoice_id else None
        own = [m for m in candidates if member_id is not None and m.member_id == member_id]
        chosen.append((row, (own or candidates)[0].id))
    if not chosen:
        return 0
    counted: dict[int, int] = {}
    frst = first_collection_frst(session)
    if frst:
        counted = dict(
            session.execute(
                select(SepaMandateUsage.mandate_id, func.count(SepaMandateUsage.id))
                .where(
                    SepaMandateUsage.mandate_id.in_(sorted({m for _, m in chosen})),
                    SepaMandateUsage.status.in_([status.value for status in COUNTING_STATUSES]),
                )
                .group_by(SepaMandateUsage.mandate_id)
            ).all()
        )
    rows = []
    for payment, mandate_id in chosen:
        first = frst and not counted.get(mandate_id)
        counted[mandate_id] = counted.get(mandate_id, 0) + 1
        rows.append(
            {
                "mandate_id": mandate_id,
                "usage_date": payment.posting_date,
                "payment_id": payment.id,
                "invoice_id": payment.invoice_id,
                "sequence_type": SequenceType.FIRST if first else SequenceType.RECURRING,
                "amount": payment.paid_amount,
                # The payment is booked: the money came in under this mandate.
                "status": UsageStatus.COLLECTED,
            }
        )
    session.execute(insert(SepaMandateUsage), rows)
    return len(rows)


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
