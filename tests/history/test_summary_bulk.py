"""Summaries of many customers rebuilt set-based (history.summary_bulk): the same figures as one
customer at a time, pending deltas left to their jobs, failed ones superseded, in the same
statements whatever the number of customers."""

from __future__ import annotations

from billing_factories import D, LedgerFactory
from history_factories import Drain
from sqlalchemy import delete
from sqlalchemy.orm import Session
from test_summary import assert_matches_ledger, fail_waiting_delta, rows

from verenigingen.history.models import MemberFinancialSummary
from verenigingen.history.summary_bulk import recalculate_many
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import JobStatus, Queue
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.perf.capture import capture


def customers_with_ledgers(ledger: LedgerFactory, count: int) -> list[int]:
    """Customers of one or two members, each with invoices and a payment."""
    ids = []
    for index in range(count):
        customer = ledger.customer()
        for _ in range(1 + index % 2):
            ledger.member(customer)
        first = ledger.invoice(customer, "40.00")
        ledger.invoice(customer, "12.50")
        ledger.payment(customer, "25.00", [(first, "25.00")])
        ids.append(customer.id)
    return ids


def test_the_set_is_rebuilt_as_the_ledger_says_in_the_same_statements_at_any_size(
    session: Session, ledger: LedgerFactory, drain: Drain
) -> None:
    small = customers_with_ledgers(ledger, 2)
    large = customers_with_ledgers(ledger, 7)
    session.commit()
    drain()
    # Half the rows gone (built again by INSERT), the others stale (rewritten at their version).
    session.execute(delete(MemberFinancialSummary).where(MemberFinancialSummary.member_id % 2 == 0))
    statements = []
    for ids in (small, large):
        with capture() as log:
            written = recalculate_many(session, ids)
        statements.append(log.count)
        assert written == sum(len(rows(session, c)) or 0 for c in ids)
    assert statements[0] == statements[1] == 5
    for customer_id in small + large:
        assert_matches_ledger(session, customer_id, len(rows(session, customer_id)))


def test_a_pending_delta_is_left_to_its_job(
    session: Session, ledger: LedgerFactory, job_engine: JobEngine, runtime: Runtime, drain: Drain
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    invoice = ledger.invoice(customer, "40.00")
    other = customers_with_ledgers(ledger, 1)[0]
    session.commit()
    drain()
    ledger.payment(customer, "40.00", [(invoice, "40.00")])  # a delta job, still queued
    session.commit()
    (delta,) = list(iter(lambda: job_engine.take(Queue.DEFAULT), None))

    assert recalculate_many(session, [customer.id, other]) == 2
    session.commit()
    assert rows(session, customer.id)[0].total_paid == D("0.00")  # the delta's to add
    assert run_job(runtime, delta.args[0]) == "completed"
    assert rows(session, customer.id)[0].total_paid == D("40.00")
    assert_matches_ledger(session, customer.id, 1)
    assert_matches_ledger(session, other, 1)


def test_a_failed_delta_is_counted_once_and_superseded(
    session: Session, ledger: LedgerFactory, job_engine: JobEngine, runtime: Runtime, drain: Drain
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    invoice = ledger.invoice(customer, "40.00")
    session.commit()
    drain()
    ledger.payment(customer, "40.00", [(invoice, "40.00")])
    session.commit()
    job = fail_waiting_delta(session, ledger, job_engine, runtime)

    assert recalculate_many(session, [customer.id]) == 1
    session.commit()
    assert rows(session, customer.id)[0].total_paid == D("40.00")
    session.refresh(job)
    assert job.status == JobStatus.CANCELLED
    assert_matches_ledger(session, customer.id, 1)


def test_recalculate_all_rebuilds_every_members_summary_in_chunks(
    session: Session, ledger: LedgerFactory, drain: Drain, monkeypatch
) -> None:
    from verenigingen.history import tasks

    ids = customers_with_ledgers(ledger, 5)
    session.commit()
    drain()  # no delta pending: the rebuild alone gives the ledger's figures
    session.execute(delete(MemberFinancialSummary))
    monkeypatch.setattr(tasks, "SUMMARY_CHUNK", 2)  # three chunks for five customers

    result = tasks.recalculate_all(session, ledger.user)

    members = {customer_id: len(rows(session, customer_id)) for customer_id in ids}
    assert result == {"rows": sum(members.values())}
    assert set(members.values()) == {1, 2}
    for customer_id, count in members.items():
        assert_matches_ledger(session, customer_id, count)
