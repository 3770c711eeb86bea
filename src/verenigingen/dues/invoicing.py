"""Dues invoices written in bulk: the one place that turns charges into invoice rows.

The daily run, a renewal and a lifetime approval all bill through :func:`insert_dues_invoices`,
so a dues invoice looks the same whichever path made it, and the statement count of a batch is
the same for 1 or 500 invoices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from verenigingen import events
from verenigingen.auth.models import User
from verenigingen.billing.audit import record_money_events
from verenigingen.billing.models import DocStatus, Invoice, InvoiceLine
from verenigingen.billing.numbering import next_invoice_numbers
from verenigingen.billing.status import invoice_status
from verenigingen.dues.events import DuesBilled

PAYMENT_TERM_DAYS = 14
"""Days a member has to pay a dues invoice, counted from the posting date."""

DUES_GENERATED = "dues.generated"


@dataclass(frozen=True)
class DuesCharge:
    """One period to bill: who pays, what it covers and how much."""

    customer_id: int
    member_id: int
    dues_schedule_id: int | None
    coverage_start: dt.date
    coverage_end: dt.date | None
    amount: Decimal
    description: str


def period_description(type_name: str, start: dt.date, end: dt.date | None) -> str:
    """The invoice line text the member reads, in Dutch."""
    if end is None:
        return f"Contributie {type_name} vanaf {start:%d-%m-%Y}"
    return f"Contributie {type_name} {start:%d-%m-%Y} t/m {end:%d-%m-%Y}"


def due_date(coverage_start: dt.date, today: dt.date) -> dt.date:
    """Never due before the period starts, and never sooner than the payment term."""
    return max(coverage_start, today + dt.timedelta(days=PAYMENT_TERM_DAYS))


def insert_dues_invoices(
    session: Session, user: User | None, charges: Sequence[DuesCharge], today: dt.date
) -> list[int]:
    """Submit one invoice per charge with its line and audit event; ids in ``charges`` order.

    Four writes whatever the number of charges (plus the number reservation): invoices with
    RETURNING, lines, audit events. The UNIQUE(dues_schedule_id, coverage_start) constraint on
    the invoice table is the last guard against billing a period twice.
    """
    if not charges:
        return []
    numbers = next_invoice_numbers(session, today, len(charges))
    invoice_rows: list[dict[str, Any]] = []
    for number, charge in zip(numbers, charges, strict=True):
        due = due_date(charge.coverage_start, today)
        invoice_rows.append(
            {
                "number": number,
                "customer_id": charge.customer_id,
                "member_id": charge.member_id,
                "dues_schedule_id": charge.dues_schedule_id,
                "posting_date": today,
                "due_date": due,
                "coverage_start": charge.coverage_start,
                "coverage_end": charge.coverage_end,
                "grand_total": charge.amount,
                "outstanding_amount": charge.amount,
                "status": invoice_status(
                    docstatus=DocStatus.SUBMITTED,
                    is_return=False,
                    grand_total=charge.amount,
                    outstanding=charge.amount,
                    due_date=due,
                    today=today,
                ).value,
                "docstatus": int(DocStatus.SUBMITTED),
                "is_return": False,
                "return_against_id": None,
                "remarks": None,
            }
        )
    # The ids come back keyed by the unique number, so no dialect has to keep RETURNING rows in
    # parameter order (MariaDB's multi-row RETURNING makes no such promise).
    returned = session.execute(insert(Invoice).returning(Invoice.id, Invoice.number), invoice_rows)
    id_by_number = {row.number: row.id for row in returned}
    invoice_ids = [id_by_number[number] for number in numbers]
    session.execute(
        insert(InvoiceLine),
        [
            {
                "invoice_id": invoice_id,
                "idx": 1,
                "description": charge.description[:255],
                "quantity": Decimal("1"),
                "rate": charge.amount,
                "amount": charge.amount,
            }
            for invoice_id, charge in zip(invoice_ids, charges, strict=True)
        ],
    )
    record_money_events(
        session,
        user,
        [
            {
                "event": DUES_GENERATED,
                "entity": "invoice",
                "entity_id": invoice_id,
                "amount": charge.amount,
                "data": {
                    "dues_schedule_id": charge.dues_schedule_id,
                    "coverage_start": charge.coverage_start.isoformat(),
                },
            }
            for invoice_id, charge in zip(invoice_ids, charges, strict=True)
        ],
    )
    customer_ids = frozenset(charge.customer_id for charge in charges)
    events.record(session, DuesBilled(user, tuple(invoice_ids), customer_ids, today))
    return invoice_ids
