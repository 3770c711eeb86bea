"""Ledger invariants checked against the stored rows, in a constant number of queries.

For every submitted invoice: outstanding = grand_total - allocations of submitted payments -
submitted credit notes, between 0 and grand_total, and its status is what the status rule says.
For every payment: unallocated = paid - allocations, never negative.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from verenigingen import clock
from verenigingen.billing.models import DocStatus, Invoice, Payment, PaymentAllocation
from verenigingen.billing.status import invoice_status

ZERO = Decimal("0.00")


def ledger_violations(session: Session, today: dt.date | None = None) -> list[str]:
    """Every broken invariant, described; an empty list means the ledger is consistent."""
    today = today or clock.today()
    problems: list[str] = []

    allocated = (
        select(
            PaymentAllocation.invoice_id,
            func.sum(PaymentAllocation.allocated_amount).label("amount"),
        )
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(Payment.docstatus == DocStatus.SUBMITTED)
        .group_by(PaymentAllocation.invoice_id)
        .subquery()
    )
    credit = aliased(Invoice)
    credited = (
        select(
            credit.return_against_id.label("invoice_id"),
            func.sum(credit.grand_total).label("amount"),
        )
        .where(credit.is_return.is_(True), credit.docstatus == DocStatus.SUBMITTED)
        .group_by(credit.return_against_id)
        .subquery()
    )
    invoices = session.execute(
        select(
            Invoice.id,
            Invoice.number,
            Invoice.grand_total,
            Invoice.outstanding_amount,
            Invoice.status,
            Invoice.due_date,
            allocated.c.amount.label("allocated"),
            credited.c.amount.label("credited"),
        )
        .outerjoin(allocated, allocated.c.invoice_id == Invoice.id)
        .outerjoin(credited, credited.c.invoice_id == Invoice.id)
        .where(Invoice.docstatus == DocStatus.SUBMITTED, Invoice.is_return.is_(False))
    ).all()
    for row in invoices:
        paid = Decimal(row.allocated or ZERO)
        credit_total = -Decimal(row.credited or ZERO)  # credit notes carry negative totals
        expected = row.grand_total - paid - credit_total
        if row.outstanding_amount != expected:
            problems.append(
                f"invoice {row.number}: outstanding {row.outstanding_amount}, expected {expected} "
                f"(total {row.grand_total} - paid {paid} - credited {credit_total})"
            )
        if not ZERO <= row.outstanding_amount <= row.grand_total:
            problems.append(
                f"invoice {row.number}: outstanding {row.outstanding_amount} "
                f"outside 0..{row.grand_total}"
            )
        status = invoice_status(
            docstatus=DocStatus.SUBMITTED,
            is_return=False,
            grand_total=row.grand_total,
            outstanding=row.outstanding_amount,
            due_date=row.due_date,
            today=today,
            has_credit_notes=row.credited is not None,
        )
        if row.status != status:
            problems.append(f"invoice {row.number}: status {row.status}, expected {status}")

    allocations = (
        select(
            PaymentAllocation.payment_id,
            func.sum(PaymentAllocation.allocated_amount).label("amount"),
        )
        .group_by(PaymentAllocation.payment_id)
        .subquery()
    )
    payments = session.execute(
        select(
            Payment.number,
            Payment.paid_amount,
            Payment.unallocated_amount,
            allocations.c.amount.label("allocated"),
        )
        .outerjoin(allocations, allocations.c.payment_id == Payment.id)
        .where(Payment.docstatus != DocStatus.CANCELLED)
    ).all()
    for row in payments:
        allocated_total = Decimal(row.allocated or ZERO)
        if allocated_total > row.paid_amount:
            problems.append(
                f"payment {row.number}: allocations {allocated_total} exceed the "
                f"paid amount {row.paid_amount}"
            )
        if row.unallocated_amount != row.paid_amount - allocated_total:
            problems.append(
                f"payment {row.number}: unallocated {row.unallocated_amount}, "
                f"expected {row.paid_amount - allocated_total}"
            )
    return problems
