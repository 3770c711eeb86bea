"""The scale benchmark's bulk loader (bench/scale_loader.py) at 200 members on PostgreSQL: what
it copies in keeps the ledger's invariants, the summaries agree with the ledger, and the app
numbers its next documents after the loaded ones (the next month's dues run bills through it)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from server_databases import committed_engine_on
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.billing.models import DocStatus, Invoice, Payment, PaymentAllocation
from verenigingen.billing.status import invoice_status
from verenigingen.db.session import make_session_factory
from verenigingen.dues.models import DuesSchedule
from verenigingen.dues.service import generate_dues
from verenigingen.history.models import MemberFinancialSummary
from verenigingen.history.summary import Figures, ledger_figures
from verenigingen.members.models import Customer, Member, Membership
from verenigingen.sepa.models import SepaMandate
from verenigingen.startup import load_subscribers

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from scale_loader import AS_OF, LoadCounts, ScaleLoader

pytestmark = pytest.mark.postgres

MEMBERS = 200


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[Engine, LoadCounts]]:
    for engine in committed_engine_on("VERENIGINGEN_TEST_POSTGRES_URL"):
        counts = ScaleLoader(engine.url.render_as_string(hide_password=False), MEMBERS).load(
            progress=lambda _line: None
        )
        yield engine, counts


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def test_counts_match_the_rows(loaded: tuple[Engine, LoadCounts]) -> None:
    engine, counts = loaded
    assert counts.members == MEMBERS
    for model in (Member, Customer, Membership, MemberFinancialSummary):
        assert _count(engine, model) == MEMBERS
    assert _count(engine, Invoice) == counts.invoices > 2 * MEMBERS
    assert _count(engine, Payment) == counts.payments > MEMBERS
    assert _count(engine, PaymentAllocation) == counts.allocations
    assert _count(engine, SepaMandate) == counts.mandates > 0
    with engine.connect() as connection:
        sepa_members = connection.execute(
            text("SELECT count(*) FROM member WHERE payment_method = 'SEPA Direct Debit'")
        ).scalar_one()
    assert sepa_members == counts.mandates


def test_outstanding_is_total_minus_allocations_and_status_follows(
    loaded: tuple[Engine, LoadCounts],
) -> None:
    engine, _ = loaded
    allocated = (
        select(func.coalesce(func.sum(PaymentAllocation.allocated_amount), 0))
        .where(PaymentAllocation.invoice_id == Invoice.id)
        .scalar_subquery()
    )
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                Invoice.grand_total,
                Invoice.outstanding_amount,
                Invoice.status,
                Invoice.due_date,
                allocated.label("allocated"),
            ).where(Invoice.docstatus == DocStatus.SUBMITTED)
        ).all()
    assert rows
    statuses = set()
    for row in rows:
        assert row.outstanding_amount == row.grand_total - row.allocated
        assert Decimal(0) <= row.outstanding_amount <= row.grand_total
        expected = invoice_status(
            docstatus=DocStatus.SUBMITTED,
            is_return=False,
            grand_total=row.grand_total,
            outstanding=row.outstanding_amount,
            due_date=row.due_date,
            today=AS_OF,
        )
        assert row.status == expected.value
        statuses.add(row.status)
    assert {"Paid", "Unpaid", "Overdue"} <= statuses


def test_payments_are_allocated_at_most_their_amount(loaded: tuple[Engine, LoadCounts]) -> None:
    engine, _ = loaded
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                Payment.paid_amount,
                Payment.unallocated_amount,
                func.sum(PaymentAllocation.allocated_amount).label("allocated"),
            )
            .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
            .group_by(Payment.id)
        ).all()
    assert len(rows) == _count(engine, Payment)
    assert all(row.allocated <= row.paid_amount for row in rows)
    assert all(row.unallocated_amount == row.paid_amount - row.allocated for row in rows)
    assert any(row.unallocated_amount > 0 for row in rows) or len(rows) < 1000


def test_summaries_agree_with_the_ledger(loaded: tuple[Engine, LoadCounts]) -> None:
    engine, _ = loaded
    factory = make_session_factory(engine)
    with factory() as session:
        for summary in session.scalars(select(MemberFinancialSummary)):
            assert Figures.of(summary) == ledger_figures(session, summary.customer_id)


def test_the_app_numbers_and_bills_after_the_load(loaded: tuple[Engine, LoadCounts]) -> None:
    engine, _ = loaded
    load_subscribers()
    factory = make_session_factory(engine)
    with engine.connect() as connection:
        due = connection.execute(
            select(func.count())
            .select_from(DuesSchedule)
            .where(text("next_invoice_date - invoice_days_before <= :day"))
            .params(day=AS_OF)
        ).scalar_one()
        before = connection.execute(select(func.max(Invoice.id))).scalar_one()
    with factory() as session:
        admin = create_user(session, "scale@example.org", Role.ADMINISTRATOR)
        customer = Customer(debtor_number="DEB-NEXT", name="Next")
        session.add(customer)
        session.flush()
        assert customer.id == MEMBERS + 1  # the id sequence continues after the loaded rows
        result = generate_dues(session, admin, today=AS_OF)
        session.rollback()
    assert result.invoices_created == due > 0
    with factory() as session:
        assert session.scalar(select(func.max(Invoice.id))) == before  # rolled back
