"""Large ledgers written directly (many invoices in a few INSERTs), and running jobs in process."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from verenigingen.billing.models import (
    DocStatus,
    Invoice,
    InvoiceStatus,
    ModeOfPayment,
    Payment,
    PaymentAllocation,
)
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Queue
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.members.models import Customer


def bulk_ledger(
    session: Session, customer: Customer, member_id: int, invoices: int, start: dt.date
) -> None:
    """``invoices`` monthly invoices of 25.00; every other one paid in full by its own payment,
    plus one unallocated payment of 10.00. Consistent: outstanding = total - allocations."""
    tag = uuid.uuid4().hex[:8]
    rows = []
    for i in range(invoices):
        posting = start + dt.timedelta(days=30 * i)
        paid = i % 2 == 0
        rows.append(
            {
                "number": f"INV-{tag}-{i:04d}",
                "customer_id": customer.id,
                "member_id": member_id,
                "posting_date": posting,
                "due_date": posting + dt.timedelta(days=14),
                "grand_total": Decimal("25.00"),
                "outstanding_amount": Decimal("0.00") if paid else Decimal("25.00"),
                "status": InvoiceStatus.PAID if paid else InvoiceStatus.UNPAID,
                "docstatus": DocStatus.SUBMITTED,
                "is_return": False,
            }
        )
    session.execute(insert(Invoice), rows)
    ids = session.execute(
        select(Invoice.number, Invoice.id, Invoice.posting_date).where(
            Invoice.customer_id == customer.id
        )
    ).all()
    by_number = {number: (invoice_id, day) for number, invoice_id, day in ids}
    payments = []
    for i in range(0, invoices, 2):
        _invoice_id, day = by_number[f"INV-{tag}-{i:04d}"]
        payments.append(
            {
                "number": f"PAY-{tag}-{i:04d}",
                "customer_id": customer.id,
                "posting_date": day + dt.timedelta(days=3),
                "paid_amount": Decimal("25.00"),
                "unallocated_amount": Decimal("0.00"),
                "mode_of_payment": ModeOfPayment.SEPA_DIRECT_DEBIT,
                "reference_no": f"ref {i}",
                "docstatus": DocStatus.SUBMITTED,
            }
        )
    payments.append(
        {
            "number": f"PAY-{tag}-extra",
            "customer_id": customer.id,
            "posting_date": start,
            "paid_amount": Decimal("10.00"),
            "unallocated_amount": Decimal("10.00"),
            "mode_of_payment": ModeOfPayment.BANK_TRANSFER,
            "reference_no": None,
            "docstatus": DocStatus.SUBMITTED,
        }
    )
    session.execute(insert(Payment), payments)
    pay_ids = dict(
        session.execute(
            select(Payment.number, Payment.id).where(Payment.customer_id == customer.id)
        ).all()
    )
    session.execute(
        insert(PaymentAllocation),
        [
            {
                "payment_id": pay_ids[f"PAY-{tag}-{i:04d}"],
                "invoice_id": by_number[f"INV-{tag}-{i:04d}"][0],
                "allocated_amount": Decimal("25.00"),
            }
            for i in range(0, invoices, 2)
        ],
    )


Drain = Callable[[], list[str]]


def make_drain(engine: JobEngine, runtime: Runtime) -> Drain:
    def run_all() -> list[str]:
        outcomes = []
        while True:
            message = next((m for q in Queue if (m := engine.take(q)) is not None), None)
            if message is None:
                return outcomes
            outcomes.append(run_job(runtime, message.args[0]))

    return run_all
