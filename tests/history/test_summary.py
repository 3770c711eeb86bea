"""The member financial summary: deltas and recalculations agree with the ledger whatever order
the jobs run in, and a stale writer never overwrites a newer row."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from billing_factories import D, LedgerFactory
from history_factories import Drain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen.auth.models import Role
from verenigingen.billing.models import DocStatus, Invoice, Payment
from verenigingen.billing.service.invoices import cancel_invoice
from verenigingen.billing.service.payments import cancel_payment
from verenigingen.errors import DomainError
from verenigingen.history import analytics, summary
from verenigingen.history.models import MemberFinancialSummary, PaymentAnalytics
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.errors import JobNotFailed
from verenigingen.jobs.models import Job, JobStatus, Queue
from verenigingen.jobs.service import retry_job
from verenigingen.jobs.worker import Runtime, run_job


def rows(session: Session, customer_id: int) -> list[MemberFinancialSummary]:
    session.expire_all()
    return list(
        session.scalars(
            select(MemberFinancialSummary)
            .where(MemberFinancialSummary.customer_id == customer_id)
            .order_by(MemberFinancialSummary.member_id)
        )
    )


def assert_matches_ledger(session: Session, customer_id: int, members: int) -> None:
    truth = summary.ledger_figures(session, customer_id)
    found = rows(session, customer_id)
    assert len(found) == members
    for row in found:
        assert summary.Figures.of(row) == truth
        assert row.payment_status == truth.payment_status


def test_jobs_keep_the_summary_of_every_member(
    session: Session, ledger: LedgerFactory, drain: Drain
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    ledger.member(customer)
    first = ledger.invoice(customer, "50.00")
    ledger.invoice(customer, "70.00")
    ledger.payment(customer, "30.00", [(first, "30.00")])
    ledger.credit_note(first, "5.00")
    session.commit()
    assert drain().count("completed") == 4  # 4 deltas (the analytics are written at once)
    found = rows(session, customer.id)
    assert [(r.invoice_count, r.total_invoiced, r.total_credited, r.total_paid) for r in found] == [
        (2, D("120.00"), D("5.00"), D("30.00"))
    ] * 2
    assert [(r.outstanding, r.payment_status, r.last_payment_date) for r in found] == [
        (D("85.00"), "Unpaid", first.posting_date)
    ] * 2
    assert_matches_ledger(session, customer.id, 2)


def test_a_recalculation_before_an_older_delta_counts_the_event_once(
    session: Session, ledger: LedgerFactory, job_engine: JobEngine, runtime: Runtime, drain: Drain
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    small = ledger.invoice(customer, "40.00")
    big = [ledger.invoice(customer, "100.00") for _ in range(6)]
    session.commit()
    drain()
    ledger.payment(customer, "40.00", [(small, "40.00")])  # a delta job
    ledger.payment(customer, "600.00", [(i, "100.00") for i in big])  # a recalculation job
    session.commit()
    default = []
    while (message := job_engine.take(Queue.DEFAULT)) is not None:
        default.append(message)
    delta, recalculate = default
    # The recalculation runs first: it sees the small payment in the ledger and its delta
    # pending, so it leaves the delta to its job.
    assert run_job(runtime, recalculate.args[0]) == "completed"
    assert rows(session, customer.id)[0].total_paid == D("600.00")
    assert run_job(runtime, delta.args[0]) == "completed"
    drain()
    assert rows(session, customer.id)[0].total_paid == D("640.00")
    assert_matches_ledger(session, customer.id, 1)


def test_a_stale_write_misses_and_the_retry_keeps_both_updates(
    session: Session, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    member = ledger.member(customer)
    summary.recalculate(session, customer.id)
    stale = rows(session, customer.id)[0]
    seen_version = stale.version
    session.expunge(stale)
    # Another job applies its delta after ours read the row.
    summary.apply_delta(session, customer.id, {"paid": "10.00", "outstanding": "-10.00"})
    stale.version = seen_version
    assert (
        summary._write(session, customer.id, member.id, stale, summary.Figures.of(stale)) is False
    )
    summary.apply_delta(session, customer.id, {"paid": "5.00"})
    row = rows(session, customer.id)[0]
    assert (row.total_paid, row.outstanding, row.version) == (D("15.00"), D("-10.00"), 3)


def _run_shuffled(engine: JobEngine, runtime: Runtime, rng: random.Random) -> None:
    """Run every pending job in a random order: the summary may not depend on job order."""
    while True:
        messages = [m for q in Queue for m in iter(lambda q=q: engine.take(q), None)]
        if not messages:
            return
        rng.shuffle(messages)
        for message in messages:
            run_job(runtime, message.args[0])


operation = st.one_of(
    st.tuples(st.just("invoice"), st.integers(1, 300)),
    st.tuples(st.just("pay"), st.integers(1, 700), st.integers(0, 7)),
    st.tuples(st.just("refund"), st.integers(1, 50)),
    st.tuples(st.just("credit"), st.integers(1, 30)),
    st.tuples(st.just("cancel_payment"), st.integers(0, 10)),
    st.tuples(st.just("cancel_invoice"), st.integers(0, 10)),
    st.tuples(st.just("member"), st.just(0)),
    st.tuples(st.just("drain"), st.just(0)),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=18), seed=st.integers(0, 2**16))
def test_after_all_jobs_every_summary_equals_the_ledger(
    session: Session, ledger: LedgerFactory, job_engine: JobEngine, runtime: Runtime, ops, seed
) -> None:
    rng = random.Random(seed)
    customer = ledger.customer()
    members = 1
    ledger.member(customer)
    for op, value, *rest in ops:
        try:
            if op == "invoice":
                ledger.invoice(customer, Decimal(value))
            elif op == "pay":
                open_invoices = session.scalars(
                    select(Invoice).where(
                        Invoice.customer_id == customer.id,
                        Invoice.docstatus == DocStatus.SUBMITTED,
                        Invoice.is_return.is_(False),
                        Invoice.outstanding_amount > 0,
                    )
                ).all()[: rest[0]]
                plan = [(i, i.outstanding_amount) for i in open_invoices]
                total = sum((a for _, a in plan), Decimal(0)) + Decimal(value)
                ledger.payment(customer, total, plan, mode_of_payment="SEPA Direct Debit")
            elif op == "refund":
                ledger.payment(customer, Decimal(value), [], payment_type="Pay")
            elif op == "credit":
                target = session.scalar(
                    select(Invoice).where(
                        Invoice.customer_id == customer.id,
                        Invoice.docstatus == DocStatus.SUBMITTED,
                        Invoice.is_return.is_(False),
                        Invoice.outstanding_amount >= value,
                    )
                )
                if target is not None:
                    ledger.credit_note(target, Decimal(value))
            elif op == "cancel_payment":
                ids = session.scalars(
                    select(Payment.id).where(
                        Payment.customer_id == customer.id,
                        Payment.docstatus == DocStatus.SUBMITTED,
                    )
                ).all()
                if ids:
                    cancel_payment(session, ledger.user, ids[value % len(ids)])
            elif op == "cancel_invoice":
                ids = session.scalars(
                    select(Invoice.id).where(
                        Invoice.customer_id == customer.id,
                        Invoice.docstatus == DocStatus.SUBMITTED,
                    )
                ).all()
                if ids:
                    with session.begin_nested():
                        cancel_invoice(session, ledger.user, ids[value % len(ids)])
            elif op == "member":
                ledger.member(customer)
                members += 1
            else:
                session.commit()
                _run_shuffled(job_engine, runtime, rng)
        except DomainError:
            pass  # a refused operation (an invoice still settled) wrote nothing
    session.commit()
    _run_shuffled(job_engine, runtime, rng)
    truth = summary.ledger_figures(session, customer.id)
    found = rows(session, customer.id)
    # Members added after the last job of their customer get their row with the next event.
    assert len(found) <= members
    for row in found:
        assert summary.Figures.of(row) == truth, (ops, seed)


def test_customer_without_members_writes_nothing(session: Session, ledger: LedgerFactory) -> None:
    customer = ledger.customer()
    assert summary.recalculate(session, customer.id) == 0
    assert rows(session, customer.id) == []


def test_pipeline_and_jobs_agree_with_the_ledger_on_every_engine(
    any_session: Session, job_engine: JobEngine, tmp_path
) -> None:
    from billing_factories import LedgerFactory as Factory
    from history_factories import make_drain

    from verenigingen.auth.models import Role
    from verenigingen.auth.service import create_user
    from verenigingen.config import Settings

    user = create_user(any_session, "kas@example.org", Role.TREASURER)
    ledger = Factory(any_session, user)
    customer = ledger.customer()
    ledger.member(customer)
    invoices = [ledger.invoice(customer, "100.00") for _ in range(7)]
    ledger.payment(customer, "40.00", [(invoices[0], "40.00")], mode_of_payment="SEPA Direct Debit")
    ledger.payment(customer, "600.00", [(i, "100.00") for i in invoices[1:]])  # recalculation
    ledger.credit_note(invoices[0], "10.00")
    any_session.commit()
    settings = Settings(data_dir=tmp_path, job_retry_backoff_seconds=0.0)
    runtime = Runtime(savepoint_sessions(any_session), settings, "t:1")
    outcomes = make_drain(job_engine, runtime)()
    # 7 invoices' deltas; the direct debit's delta and usage; the large payment's
    # recalculation; the credit note's delta. The analytics were written by the writes.
    assert outcomes == ["completed"] * (7 + 2 + 1 + 1)
    row = rows(any_session, customer.id)[0]
    assert (row.total_invoiced, row.total_paid, row.total_credited, row.outstanding) == (
        D("700.00"),
        D("640.00"),
        D("10.00"),
        D("50.00"),
    )
    assert_matches_ledger(any_session, customer.id, 1)
    # The analytics the deltas built are what the month recomputed from the ledger holds.
    built = _analytics(any_session)
    analytics.update_months(any_session, [f"{month:%Y-%m}" for month in built])
    assert _analytics(any_session) == built
    assert built[invoices[0].posting_date.replace(day=1)][:5] == (
        2,
        D("640.00"),
        D("0.00"),
        D("700.00"),
        D("650.00"),
    )


def _analytics(session: Session) -> dict[object, tuple[object, ...]]:
    session.expire_all()
    return {
        row.month: (
            row.payment_count,
            row.received,
            row.refunded,
            row.invoiced,
            row.collected,
            row.collection_rate,
        )
        for row in session.scalars(select(PaymentAnalytics))
    }


def fail_waiting_delta(
    session: Session, ledger: LedgerFactory, job_engine: JobEngine, runtime: Runtime
) -> Job:
    """Run the one waiting delta job while its user, the Treasurer, has lost billing rights: it
    fails for good (a domain error is not retried), with attempts to spare for a retry by hand.
    The rights are given back (committed) before this returns."""
    (delta,) = list(iter(lambda: job_engine.take(Queue.DEFAULT), None))
    ledger.user.role = Role.MEMBER
    session.commit()
    assert run_job(runtime, delta.args[0]) == "failed"
    ledger.user.role = Role.TREASURER
    session.commit()
    job = session.get(Job, delta.args[0])
    assert job is not None
    session.refresh(job)
    assert job.status == JobStatus.FAILED
    return job


def test_a_failed_delta_counted_by_a_recalculation_cannot_be_retried_to_count_twice(
    session: Session, ledger: LedgerFactory, job_engine: JobEngine, runtime: Runtime, drain: Drain
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    invoice = ledger.invoice(customer, "40.00")
    session.commit()
    drain()
    ledger.payment(customer, "40.00", [(invoice, "40.00")])  # a delta job, as the Treasurer
    session.commit()
    job = fail_waiting_delta(session, ledger, job_engine, runtime)
    assert rows(session, customer.id)[0].total_paid == D("0.00")  # the delta is missing

    # The rebuild from the ledger counts the payment, and supersedes the failed delta.
    assert summary.recalculate(session, customer.id) == 1
    session.commit()
    assert rows(session, customer.id)[0].total_paid == D("40.00")
    session.refresh(job)
    assert job.status == JobStatus.CANCELLED
    assert job.error is not None
    assert job.error.startswith("superseded: the member summary was rebuilt from the ledger")

    # A retry by hand is refused: it would add the 40.00 a second time.
    with pytest.raises(JobNotFailed, match="only a Failed job can be retried"):
        retry_job(session, ledger.user, job.id)
    drain()
    assert rows(session, customer.id)[0].total_paid == D("40.00")
    assert_matches_ledger(session, customer.id, 1)


def test_a_failed_delta_not_yet_counted_is_left_to_its_retry(
    session: Session, ledger: LedgerFactory, job_engine: JobEngine, runtime: Runtime, drain: Drain
) -> None:
    """A delta on an existing row adds only its own amounts: a failed neighbour stays Failed
    (and retryable), since the row does not count that neighbour's event."""
    customer = ledger.customer()
    ledger.member(customer)
    first, second = ledger.invoice(customer, "40.00"), ledger.invoice(customer, "60.00")
    session.commit()
    drain()
    ledger.payment(customer, "40.00", [(first, "40.00")])
    session.commit()
    job = fail_waiting_delta(session, ledger, job_engine, runtime)
    ledger.payment(customer, "60.00", [(second, "60.00")])
    session.commit()
    drain()  # the second payment's delta, on the existing row
    assert rows(session, customer.id)[0].total_paid == D("60.00")
    session.refresh(job)
    assert job.status == JobStatus.FAILED

    retry_job(session, ledger.user, job.id)
    session.commit()
    drain()
    assert rows(session, customer.id)[0].total_paid == D("100.00")
    assert_matches_ledger(session, customer.id, 1)


def test_a_new_members_row_from_the_ledger_rewrites_its_family_so_none_misses_an_event(
    session: Session, ledger: LedgerFactory, job_engine: JobEngine, runtime: Runtime, drain: Drain
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    invoice = ledger.invoice(customer, "40.00")
    session.commit()
    drain()
    ledger.payment(customer, "40.00", [(invoice, "40.00")])
    session.commit()
    job = fail_waiting_delta(session, ledger, job_engine, runtime)  # the member misses 40.00
    ledger.member(customer)  # a second member of the family, no row yet
    ledger.invoice(customer, "25.00")
    session.commit()
    drain()  # the invoice's delta: a new row from the ledger, so both rows are rewritten
    found = rows(session, customer.id)
    assert [r.total_paid for r in found] == [D("40.00"), D("40.00")]
    assert_matches_ledger(session, customer.id, 2)
    session.refresh(job)
    assert job.status == JobStatus.CANCELLED  # superseded: the rows count its payment
