"""A payment's follow-up work is O(1) in the size of the ledger: the statements it sends and the
rows PostgreSQL reads and writes for it (``pg_stat_xact_user_tables``, this transaction's own
counters) are the same with a small ledger and with one of several thousand invoices, most of
them in the payment's own month. Before deltas, the analytics job re-read the month (and, with
no index on the posting date, every payment and invoice)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from billing_factories import LedgerFactory
from history_factories import make_drain
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import DocStatus, Invoice, InvoiceStatus
from verenigingen.billing.service.payments import submit_payment
from verenigingen.config import Settings
from verenigingen.history import analytics
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.worker import Runtime
from verenigingen.perf.capture import capture

MONTH = dt.date(2026, 3, 2)

# Rows sequentially scanned, fetched by an index, inserted, updated and deleted, per table.
ROWS_TOUCHED = text(
    "SELECT relname, seq_tup_read + COALESCE(idx_tup_fetch, 0) AS rows_read,"
    " n_tup_ins + n_tup_upd + n_tup_del AS rows_written FROM pg_stat_xact_user_tables"
)


def _touched(session: Session) -> dict[str, tuple[int, int]]:
    return {
        row.relname: (int(row.rows_read), int(row.rows_written))
        for row in session.execute(ROWS_TOUCHED)
    }


def _grow(session: Session, invoices: int) -> None:
    """Another customer's submitted invoices: most in the payment's month, some before."""
    ledger_customer = LedgerFactory(session, create_user(session, _email(), Role.TREASURER))
    customer = ledger_customer.customer()
    tag = uuid.uuid4().hex[:8]
    session.execute(
        insert(Invoice),
        [
            {
                "number": f"GROW-{tag}-{n}",
                "customer_id": customer.id,
                "posting_date": _posting_date(n),
                "due_date": MONTH + dt.timedelta(days=14),
                "grand_total": Decimal("25.00"),
                "outstanding_amount": Decimal("25.00"),
                "status": InvoiceStatus.UNPAID.value,
                "docstatus": DocStatus.SUBMITTED,
            }
            for n in range(invoices)
        ],
    )


def _posting_date(n: int) -> dt.date:
    """Three in four in the payment's month (March 2026), the others in January and February."""
    if n % 4:
        return dt.date(2026, 3, 1) + dt.timedelta(days=n % 28)
    return dt.date(2026, 1, 1) + dt.timedelta(days=n % 59)


def _email() -> str:
    return f"kas-{uuid.uuid4().hex[:8]}@example.org"


def _follow_up_cost(
    session: Session, user: User, drain_jobs: object
) -> tuple[int, dict[str, tuple[int, int]]]:
    """Submit a payment of a fresh customer (same shape each time) and run its jobs: the
    statements of the write and its jobs, and the rows they read and wrote per table."""
    ledger = LedgerFactory(session, user)
    customer = ledger.customer()
    ledger.member(customer)
    first = ledger.invoice(customer, "50.00", posting_date=MONTH)
    second = ledger.invoice(customer, "50.00", posting_date=MONTH)
    draft = ledger.payment(customer, "80.00", [(first, "40.00"), (second, "40.00")], submit=False)
    session.commit()
    assert callable(drain_jobs)
    drain_jobs()  # whatever earlier writes left queued, so that only this payment's jobs run
    before = _touched(session)
    with capture() as log:
        submit_payment(session, user, draft.id)
        session.commit()
        outcomes = drain_jobs()
    after = _touched(session)
    assert outcomes == ["completed"]  # the member summary's delta
    changed = {
        table: (rows[0] - before.get(table, (0, 0))[0], rows[1] - before.get(table, (0, 0))[1])
        for table, rows in after.items()
    }
    return log.count, {table: rows for table, rows in changed.items() if rows != (0, 0)}


@pytest.mark.parametrize("any_engine", ["postgres"], indirect=True)
def test_a_payments_follow_up_touches_the_same_rows_at_two_ledger_sizes(
    any_session: Session, job_engine: JobEngine, tmp_path: Path
) -> None:
    # Index reads wherever an index serves: a planner that scans a table of a hundred rows
    # whole would count rows that no growth caused.
    any_session.execute(text("SET LOCAL enable_seqscan = off"))
    user = create_user(any_session, _email(), Role.TREASURER)
    settings = Settings(data_dir=tmp_path, job_retry_backoff_seconds=0.0)
    runtime = Runtime(savepoint_sessions(any_session), settings, "t:1")
    drain_jobs = make_drain(job_engine, runtime)
    _grow(any_session, 50)
    small = _follow_up_cost(any_session, user, drain_jobs)
    _grow(any_session, 4_000)
    any_session.execute(text("ANALYZE invoice"))
    large = _follow_up_cost(any_session, user, drain_jobs)
    assert small == large
    statements, touched = large
    assert statements == small[0]
    # The month's analytics row: one row updated by the payment's delta, nothing re-read.
    assert touched["payment_analytics"][1] == 1
    assert touched["invoice"][0] < 10, touched  # the two invoices, by primary key
    # The measure sees growth: recomputing the month (as the job per payment did) reads it all.
    before = _touched(any_session)
    analytics.update_months(any_session, [f"{MONTH:%Y-%m}"])
    assert _touched(any_session)["invoice"][0] - before["invoice"][0] > 1_000
