"""Workloads over the ledger: a payment batch and the dues run (the member payment history is in
``perf.workloads.history``)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.billing.models import DocStatus, Invoice, ModeOfPayment
from verenigingen.billing.schemas import AllocationIn, PaymentCreate
from verenigingen.billing.service.payments import create_payment, submit_payment
from verenigingen.dues.service import DuesRunResult, generate_dues
from verenigingen.perf.workloads.registry import Workload, register


@dataclass(frozen=True)
class OpenInvoice:
    customer_id: int
    invoice_id: int
    outstanding: Decimal


def _open_invoices(session: Session, n: int, _rng: random.Random) -> Sequence[OpenInvoice]:
    rows = session.execute(
        select(Invoice.customer_id, Invoice.id, Invoice.outstanding_amount)
        .where(
            Invoice.docstatus == DocStatus.SUBMITTED,
            Invoice.is_return.is_(False),
            Invoice.outstanding_amount > 0,
        )
        .order_by(Invoice.id)
        .limit(n)
    ).all()
    return [OpenInvoice(*row) for row in rows]


def _pay_invoice(session: Session, user: User, item: OpenInvoice) -> None:
    # A treasurer booking one bank transfer that settles one invoice: draft, then submit.
    payment = create_payment(
        session,
        user,
        PaymentCreate(
            customer_id=item.customer_id,
            paid_amount=item.outstanding,
            mode_of_payment=ModeOfPayment.BANK_TRANSFER,
            reference_no=f"Contributie {item.invoice_id}",
            allocations=[
                AllocationIn(invoice_id=item.invoice_id, allocated_amount=item.outstanding)
            ],
        ),
    )
    submit_payment(session, user, payment.id)


def _run_days(_session: Session, n: int, _rng: random.Random) -> Sequence[dt.date]:
    # The daily run bills on the 15th in the demo; these are the next months' runs.
    first = clock.today().replace(day=15)
    return [clock.add_months(first, month) for month in range(n)]


def _generate_dues(session: Session, user: User, day: dt.date) -> DuesRunResult:
    with clock.frozen(day):
        return generate_dues(session, user, today=day)


PAYMENT_BATCH = register(
    Workload(
        name="payment_batch",
        description="100 bank transfers, each a payment created and submitted against one open "
        "invoice (billing.service.payments), one transaction each",
        iterations=100,
        plan=_open_invoices,
        step=_pay_invoice,
    )
)
DUES_GENERATION = register(
    Workload(
        name="dues_generation",
        description="the daily dues run on the 15th of three successive months, billing every "
        "due schedule of the association (dues.service.generate_dues)",
        iterations=3,
        plan=_run_days,
        step=_generate_dues,
        warmup=1,
    )
)
