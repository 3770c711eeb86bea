"""The demo leaves its follow-up work as three jobs, whatever its size, and once they ran every
summary and every month's analytics is what the ledger says."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from verenigingen.billing.models import ModeOfPayment, Payment
from verenigingen.config import Settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory
from verenigingen.demo.follow_up import coalesced
from verenigingen.demo.generator import DemoBuilder, DemoOptions
from verenigingen.history import analytics
from verenigingen.history.models import MemberFinancialSummary, PaymentAnalytics
from verenigingen.history.summary import Figures, ledger_figures
from verenigingen.jobs import JobRequest
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.members.models import Member
from verenigingen.sepa.models import SepaMandateUsage

END = dt.date(2026, 6, 30)
LEFT = {
    "history.recalculate_summaries": 1,
    "history.update_payment_analytics": 1,
    "sepa.record_mandate_usages": 1,
}


@pytest.fixture(scope="module", params=[(40, 3), (120, 8)], ids=["40x3", "120x8"])
def demo(request, tmp_path_factory, sqlite_template) -> tuple[Engine, DemoBuilder]:
    members, months = request.param
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    builder = DemoBuilder(
        make_session_factory(engine), DemoOptions(members=members, months=months, end=END)
    )
    builder.run()
    return engine, builder


def test_the_demo_leaves_three_jobs_whatever_its_size(demo) -> None:
    engine, builder = demo
    with Session(engine) as session:
        jobs = dict(session.execute(select(Job.name, func.count()).group_by(Job.name)).all())
        months = session.scalars(
            select(Job.params).where(Job.name == "history.update_payment_analytics")
        ).one()["months"]
    assert jobs == LEFT
    # each month's dues run and payments asked for their own (many more than three)
    assert len(builder.follow_ups) > 4 * builder.options.months
    assert months == sorted({f"{day:%Y-%m}" for day in _posting_months(engine)})


def _posting_months(engine: Engine) -> set[dt.date]:
    with Session(engine) as session:
        return set(session.scalars(select(Payment.posting_date)))


def test_once_run_the_demos_jobs_leave_the_read_models_as_the_ledger_says(
    demo, tmp_path: Path
) -> None:
    engine, _builder = demo
    runtime = Runtime(make_session_factory(engine), Settings(data_dir=tmp_path))
    with Session(engine) as session:
        job_ids = session.scalars(select(Job.id).order_by(Job.id)).all()
    assert [run_job(runtime, job_id) for job_id in job_ids] == [RunOutcome.COMPLETED] * 3

    with Session(engine) as session:
        assert set(session.scalars(select(Job.status))) == {JobStatus.COMPLETED}
        rows = {row.member_id: row for row in session.scalars(select(MemberFinancialSummary))}
        members = session.execute(
            select(Member.id, Member.customer_id).where(Member.customer_id.is_not(None))
        ).all()
        billed = [m for m in members if ledger_figures(session, m.customer_id).invoice_count]
        assert billed
        for member in billed:
            expected = ledger_figures(session, member.customer_id)
            assert Figures.of(rows[member.id]) == expected, member
        stored = {
            row.month: (row.payment_count, row.received, row.invoiced, row.collected)
            for row in session.scalars(select(PaymentAnalytics))
        }
        recomputed = {
            row.month: (row.payment_count, row.received, row.invoiced, row.collected)
            for row in analytics.update_months(session, [f"{m:%Y-%m}" for m in stored])
        }
        assert stored == recomputed
        direct_debits = session.scalar(
            select(func.count(Payment.id)).where(
                Payment.mode_of_payment == ModeOfPayment.SEPA_DIRECT_DEBIT
            )
        )
        usages = session.scalar(select(func.count(SepaMandateUsage.id)))
        assert usages == direct_debits
        session.rollback()


def test_coalescing_keeps_the_work_and_the_other_jobs() -> None:
    requests = [
        JobRequest("history.apply_summary_delta", {"customer_id": 7, "paid": "5.00"}),
        JobRequest("history.recalculate_summaries", {"customer_ids": [3, 7, 9]}),
        JobRequest("history.recalculate_summary", {"customer_id": 1}),
        JobRequest("history.update_payment_analytics", {"months": ["2026-02", "2026-01"]}),
        JobRequest("sepa.record_mandate_usage", {"payment_id": 4}),
        JobRequest("history.update_payment_analytics", {"months": ["2026-02"]}),
        JobRequest("sepa.record_mandate_usages", {"payment_ids": [12, 10]}),
        JobRequest("sepa.record_mandate_usages", {"payment_ids": [10, 11]}),
    ]
    assert coalesced(requests) == [
        JobRequest("history.recalculate_summaries", {"customer_ids": [1, 3, 7, 9]}),
        JobRequest(
            "history.update_payment_analytics", {"months": ["2026-01", "2026-02"]}, "default"
        ),
        JobRequest("sepa.record_mandate_usages", {"payment_ids": [10, 11, 12]}),
        JobRequest("sepa.record_mandate_usage", {"payment_id": 4}),
    ]
    assert coalesced([]) == []
