"""Each workload runs through the real services and leaves the rows it should."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.billing.models import (
    DocStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)
from verenigingen.jobs.models import Job
from verenigingen.members.models import Member, Membership, MemberStatus
from verenigingen.perf.workloads import (
    UnknownWorkload,
    get_workload,
    pending_workloads,
    workload_names,
)
from verenigingen.perf.workloads.database import RUN_DAY, DemoDatabase
from verenigingen.perf.workloads.runner import run_workload
from verenigingen.sepa.models import BatchStatus, DirectDebitBatch, MandateStatus, SepaMandate

ITERATIONS = 3
Check = Callable[[Session, int], None]
"""Asserts on the copy after a run; gets the number of units of work run (warm-up included)."""


def _scalar(session: Session, statement: Select[Any]) -> int:
    return int(session.scalar(statement) or 0)


def _payments_booked(session: Session, units: int) -> None:
    paid = session.scalars(
        select(Payment).where(
            Payment.posting_date == RUN_DAY, Payment.docstatus == DocStatus.SUBMITTED
        )
    ).all()
    assert len(paid) == units
    settled = session.scalars(
        select(Invoice)
        .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
        .where(PaymentAllocation.payment_id.in_([p.id for p in paid]))
    ).all()
    assert len(settled) == units
    assert {invoice.status for invoice in settled} == {InvoiceStatus.PAID}
    assert all(invoice.outstanding_amount == 0 for invoice in settled)


def _dues_billed(session: Session, units: int) -> None:
    days = [dt.date(2025, month, 15) for month in range(1, units + 1)]
    per_day = dict(
        session.execute(
            select(Invoice.posting_date, func.count())
            .where(Invoice.posting_date.in_(days))
            .group_by(Invoice.posting_date)
        ).all()
    )
    assert set(per_day) == set(days)  # every monthly run billed something
    assert all(count > 0 for count in per_day.values())


def _members_created(session: Session, units: int) -> None:
    new = session.scalars(select(Member).where(Member.email.like("%.perf%@example.org"))).all()
    assert len(new) == units
    assert {member.status for member in new} == {MemberStatus.ACTIVE}
    memberships = _scalar(
        session,
        select(func.count(Membership.id)).where(Membership.member_id.in_([m.id for m in new])),
    )
    assert memberships == units


def _members_moved(session: Session, units: int) -> None:
    moved = _scalar(session, select(func.count(Member.id)).where(Member.email.like("verhuisd.%")))
    assert moved == units


def _memberships_renewed(session: Session, units: int) -> None:
    billed = _scalar(
        session,
        select(func.count(func.distinct(Invoice.dues_schedule_id))).where(
            Invoice.posting_date == RUN_DAY, Invoice.dues_schedule_id.is_not(None)
        ),
    )
    assert billed == units  # each renewal billed the periods of its own schedule


def _mandates_recorded(session: Session, units: int) -> None:
    mandates = session.scalars(
        select(SepaMandate).where(SepaMandate.mandate_reference.like("PERF-%"))
    ).all()
    assert len(mandates) == units
    assert {mandate.status for mandate in mandates} == {MandateStatus.ACTIVE}


def _batches_built_and_cancelled(session: Session, units: int) -> None:
    # Each run built a batch with entries and cancelled it: the invoices stay open for the next.
    batches = session.scalars(select(DirectDebitBatch).order_by(DirectDebitBatch.id)).all()
    assert len(batches) == units
    assert {batch.status for batch in batches} == {BatchStatus.CANCELLED}
    assert len({batch.entry_count for batch in batches}) == 1
    assert batches[0].entry_count > 0


def _portal_paid(session: Session, units: int) -> None:
    # Each payment the mix booked (seeded: about one unit in ten) left one analytics job.
    booked = _scalar(session, select(func.count(Payment.id)).where(Payment.posting_date == RUN_DAY))
    analytics = _scalar(
        session,
        select(func.count(Job.id)).where(
            Job.name == "history.update_payment_analytics", Job.created_at >= RUN_DAY
        ),
    )
    assert analytics == booked


def _nothing_written(session: Session, units: int) -> None:
    # Checked on the capture instead (see the test): a read leaves the rows as they were.
    assert _scalar(session, select(func.count(Payment.id))) > 0


CHECKS: dict[str, Check] = {
    "payment_batch": _payments_booked,
    "member_payment_history": _nothing_written,
    "mixed_portal": _portal_paid,
    "dues_generation": _dues_billed,
    "member_creation": _members_created,
    "member_update": _members_moved,
    "membership_renewal": _memberships_renewed,
    "sepa_mandate_workflow": _mandates_recorded,
    "sepa_batch": _batches_built_and_cancelled,
}


def test_every_registered_workload_has_a_check() -> None:
    assert sorted(workload_names()) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_workload_runs_and_leaves_its_rows(name: str, large_demo: DemoDatabase) -> None:
    workload = get_workload(name)
    units = workload.warmup + ITERATIONS
    checked: list[str] = []

    def inspect(factory: sessionmaker[Session]) -> None:
        with factory() as session:
            CHECKS[name](session, units)
        checked.append(name)

    result = run_workload(workload, large_demo, iterations=ITERATIONS, inspect=inspect)
    assert checked == [name]
    assert result.iterations == ITERATIONS
    assert len(result.logs) == ITERATIONS
    assert all(log.count > 0 for log in result.logs)
    assert result.log.transactions["commit"] == ITERATIONS  # one unit of work per iteration
    if name == "member_payment_history":
        writes = [q for q in result.log.queries if not q.sql.startswith("SELECT")]
        assert writes == []


def test_a_run_is_repeatable_to_the_statement(large_demo: DemoDatabase) -> None:
    workload = get_workload("member_creation")
    first = run_workload(workload, large_demo, iterations=ITERATIONS).log
    second = run_workload(workload, large_demo, iterations=ITERATIONS).log
    assert first.by_fingerprint() == second.by_fingerprint()
    assert first.rows == second.rows


def test_no_workload_is_pending_any_more() -> None:
    # sepa_batch was listed as pending until the SEPA batches were built; it is real now.
    assert pending_workloads() == []
    assert "sepa_batch" in workload_names()
    with pytest.raises(UnknownWorkload):
        get_workload("payroll")
