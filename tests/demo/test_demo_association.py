import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from verenigingen.billing.integrity import ledger_violations
from verenigingen.billing.models import Invoice, InvoiceStatus, Payment
from verenigingen.cli.app import app
from verenigingen.db.session import make_session_factory
from verenigingen.demo.generator import DemoOptions, load_demo
from verenigingen.members.models import Member, MemberStatus, PaymentMethod

END = dt.date(2026, 6, 30)
OPTIONS = DemoOptions(members=150, months=8, seed=7, end=END)


@pytest.fixture(scope="module")
def demo_engines(tmp_path_factory, sqlite_template) -> tuple[Engine, Engine]:
    import shutil

    from verenigingen.db.engine import make_engine

    engines = []
    for name in ("first", "second"):
        path = tmp_path_factory.mktemp(name) / "demo.db"
        shutil.copy(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        load_demo(make_session_factory(engine), OPTIONS)
        engines.append(engine)
    return engines[0], engines[1]


def _fingerprint(engine: Engine) -> list[tuple[object, ...]]:
    with Session(engine) as session:
        members = session.execute(
            select(Member.member_id, Member.last_name, Member.status, Member.iban).order_by(
                Member.id
            )
        ).all()
        invoices = session.execute(
            select(
                Invoice.number, Invoice.grand_total, Invoice.outstanding_amount, Invoice.status
            ).order_by(Invoice.id)
        ).all()
        payments = session.execute(
            select(Payment.number, Payment.paid_amount, Payment.posting_date).order_by(Payment.id)
        ).all()
    return [tuple(row) for row in [*members, *invoices, *payments]]


def test_the_same_seed_gives_the_same_association(demo_engines) -> None:
    first, second = demo_engines
    assert _fingerprint(first) == _fingerprint(second)


def test_demo_ledger_keeps_every_invariant(demo_engines) -> None:
    with Session(demo_engines[0]) as session:
        assert ledger_violations(session, END) == []


def test_demo_has_the_realistic_mix(demo_engines) -> None:
    with Session(demo_engines[0]) as session:
        members = session.execute(
            select(Member.payment_method, func.count()).group_by(Member.payment_method)
        ).all()
        by_method = dict(members)
        sepa_share = by_method[PaymentMethod.SEPA_DIRECT_DEBIT] / sum(by_method.values())
        assert 0.6 < sepa_share < 0.8
        statuses = dict(
            session.execute(select(Invoice.status, func.count()).group_by(Invoice.status)).all()
        )
        for status in (InvoiceStatus.PAID, InvoiceStatus.OVERDUE, InvoiceStatus.RETURN):
            assert statuses.get(status, 0) > 0, status
        # partly paid invoices exist, whether still within their term or overdue by now
        partly = session.scalar(
            select(func.count(Invoice.id)).where(
                Invoice.outstanding_amount > 0,
                Invoice.outstanding_amount < Invoice.grand_total,
                Invoice.is_return.is_(False),
            )
        )
        assert (partly or 0) > 0
        families = session.scalar(
            select(func.count()).select_from(
                select(Member.customer_id)
                .where(Member.customer_id.is_not(None))
                .group_by(Member.customer_id)
                .having(func.count() > 1)
                .subquery()
            )
        )
        assert (families or 0) > 0
        member_statuses = dict(
            session.execute(select(Member.status, func.count()).group_by(Member.status)).all()
        )
        assert member_statuses[MemberStatus.ACTIVE] > 100
        assert member_statuses.get(MemberStatus.PENDING) == 3
        # now and then a member pays a little extra: it stays unallocated on the payment
        unallocated = session.scalar(select(func.sum(Payment.unallocated_amount)))
        assert (unallocated or Decimal("0.00")) > Decimal("0.00")


runner = CliRunner()


def test_cli_demo_if_empty_loads_once(tmp_path, monkeypatch) -> None:
    from verenigingen.config import get_settings

    monkeypatch.setenv("VERENIGINGEN_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert runner.invoke(app, ["init"]).exit_code == 0
        arguments = [
            "demo",
            "--members",
            "20",
            "--months",
            "2",
            "--end",
            "2026-02-28",
            "--if-empty",
        ]
        first = runner.invoke(app, arguments)
        assert first.exit_code == 0, first.output
        assert "members Active" in first.output
        second = runner.invoke(app, arguments)
        assert second.exit_code == 0
        assert "already holds 20 members; no demo loaded" in second.output
        bad = runner.invoke(app, ["demo", "--members", "0"])
        assert bad.exit_code == 2
    finally:
        get_settings.cache_clear()


def test_the_demos_direct_debits_leave_a_usage_per_payment_so_the_next_is_rcur(
    demo_engines,
) -> None:
    # Regression: payments recorded in bulk recorded no mandate usage, so the demo's direct
    # debits left none and the next collection would have gone out as a first one. Each bulk
    # recording now queues sepa.record_mandate_usages; run here as a worker would, rolled back.
    from verenigingen.jobs.models import Job
    from verenigingen.sepa.models import SepaMandate, SepaMandateUsage
    from verenigingen.sepa.usage import record_usages

    with Session(demo_engines[0]) as session, session.begin():
        direct_debits = set(
            session.scalars(
                select(Payment.id)
                .join(Member, Member.customer_id == Payment.customer_id)
                .join(SepaMandate, SepaMandate.member_id == Member.id)
                .where(Payment.mode_of_payment == "SEPA Direct Debit", Payment.docstatus == 1)
            )
        )
        assert len(direct_debits) > 100
        queued = [
            payment_id
            for params in session.scalars(
                select(Job.params).where(Job.name == "sepa.record_mandate_usages")
            )
            for payment_id in params["payment_ids"]
        ]
        assert direct_debits <= set(queued)
        record_usages(session, queued)
        usages = session.execute(
            select(SepaMandateUsage.payment_id, SepaMandateUsage.sequence_type)
        ).all()
        assert {row.payment_id for row in usages} >= direct_debits
        # No creditor asks for FRST in the demo: every collection is RCUR.
        assert {row.sequence_type for row in usages} == {"RCUR"}
        session.rollback()
