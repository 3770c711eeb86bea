"""Index manager fixtures: an administrator committed to the test's own database, bulk rows,
and the advisor's query log of one statement."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, insert, select

from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice, InvoiceStatus
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.indexes.advisor import StatementStat
from verenigingen.indexes.dialects import ExistingIndex, for_engine
from verenigingen.indexes.models import IndexChange
from verenigingen.members.models import Customer

STATUSES = [InvoiceStatus.PAID, InvoiceStatus.PAID, InvoiceStatus.UNPAID, InvoiceStatus.OVERDUE]


def committed_user(
    engine: Engine, role: Role = Role.ADMINISTRATOR, email: str | None = None
) -> User:
    """A user committed to ``engine``'s database (by default ``<role>@example.org``)."""
    email = email or f"{role.value.lower().replace(' ', '.')}@example.org"
    with unit_of_work(make_session_factory(engine)) as session:
        return create_user(session, email, role)


def seed_invoices(engine: Engine, customers: int, per_customer: int) -> None:
    """``customers`` times ``per_customer`` invoices in bulk, a quarter of them Unpaid."""
    start = dt.date(2020, 1, 1)
    with engine.begin() as connection:
        connection.execute(
            insert(Customer),
            [{"debtor_number": f"D{c:06d}", "name": f"Klant {c}"} for c in range(customers)],
        )
        ids = connection.scalars(select(Customer.id).order_by(Customer.id)).all()
        rows = [
            {
                "number": f"INV-{c:06d}-{n:04d}",
                "customer_id": customer_id,
                "posting_date": start + dt.timedelta(days=n),
                "due_date": start + dt.timedelta(days=n + 14),
                "grand_total": Decimal("25.00"),
                "outstanding_amount": Decimal("0.00"),
                "status": STATUSES[n % len(STATUSES)].value,
                "docstatus": 1,
                "is_return": False,
            }
            for c, customer_id in enumerate(ids)
            for n in range(per_customer)
        ]
        for begin in range(0, len(rows), 5_000):
            connection.execute(insert(Invoice), rows[begin : begin + 5_000])


def indexes_on(engine: Engine, table: str) -> dict[str, ExistingIndex]:
    with engine.connect() as connection:
        return {i.name: i for i in for_engine(engine).existing_indexes(connection, table)}


def ledger(engine: Engine) -> list[IndexChange]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(IndexChange).order_by(IndexChange.id)))


# The invoice read of billing.queries.customer_ledger, as perf.capture fingerprints it.
LEDGER_INVOICES = (
    "SELECT invoice.number, invoice.customer_id, invoice.posting_date, invoice.id "
    "FROM invoice WHERE invoice.customer_id = ? ORDER BY invoice.posting_date, invoice.id"
)
STATS = [StatementStat("member_payment_history", LEDGER_INVOICES, 50, 120.0)]


def profile_log(tmp_path: Path) -> Path:
    """A ``performance_baseline.json`` holding that one statement."""
    path = tmp_path / "performance_baseline.json"
    fingerprints = [{"fingerprint": LEDGER_INVOICES, "count": 50, "time_ms": 120.0}]
    path.write_text(
        json.dumps({"workloads": {"member_payment_history": {"fingerprints": fingerprints}}})
    )
    return path
