"""Many rows at once for tests of lists: Core INSERTs, no services (the rows need not be billed)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from verenigingen.billing.models import DocStatus, Invoice, InvoiceStatus
from verenigingen.members.models import Customer, Member

FIRST_DAY = dt.date(2025, 1, 1)


def add_invoices(session: Session, count: int, *, days: int = 7) -> Customer:
    """``count`` submitted invoices of one customer, several on each posting date (ties)."""
    customer = Customer(debtor_number=f"DEB-{uuid.uuid4().hex[:8]}", name="Familie Paging")
    session.add(customer)
    session.flush()
    tag = uuid.uuid4().hex[:6]
    session.execute(
        insert(Invoice),
        [
            {
                "number": f"PAGE-{tag}-{n}",
                "customer_id": customer.id,
                "posting_date": FIRST_DAY + dt.timedelta(days=n % days),
                "due_date": FIRST_DAY + dt.timedelta(days=14),
                "grand_total": Decimal("10.00"),
                "outstanding_amount": Decimal("10.00"),
                "status": InvoiceStatus.UNPAID.value,
                "docstatus": DocStatus.SUBMITTED,
            }
            for n in range(count)
        ],
    )
    return customer


def add_members(session: Session, count: int) -> None:
    tag = uuid.uuid4().hex[:6]
    session.execute(
        insert(Member),
        [
            {
                "member_id": f"M-{tag}-{n}",
                "first_name": f"Voornaam{n % 3}",
                "last_name": f"Achternaam{n % 5}",  # ties on both name columns
                "email": f"{tag}-{n}@example.org",
            }
            for n in range(count)
        ],
    )
