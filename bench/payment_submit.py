"""Payment submit with the heavy work deferred to jobs, against the same work done inline.

    .venv/bin/python bench/payment_submit.py [--payments 200]

On a copy of the seeded demo association (SQLite), two alternating streams of direct-debit
payments, each created as a draft (not timed) and then submitted in its own transaction (timed,
including the commit):

- deferred: ``submit_payment`` as the API runs it: rules, outstanding, audit, tag bumps, and one
  INSERT of the summary, mandate-usage and analytics jobs (they run later in a worker);
- inline: ``submit_payment`` and, in the same transaction, what those jobs do: the summary
  recalculation of the customer, the mandate usage, the analytics of the touched months.

Prints the medians, statements per submit, and the ratio (goal: deferred >= 3x faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.billing.models import DocStatus, Invoice, ModeOfPayment
from verenigingen.billing.schemas import AllocationIn, PaymentCreate
from verenigingen.billing.service.payments import create_payment, submit_payment
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.history import analytics, summary
from verenigingen.history.pipeline import month_of
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.outbox import JOB_ENGINE_KEY
from verenigingen.perf.capture import capture
from verenigingen.perf.workloads.database import LARGE, RUN_DAY, DemoDatabase, acting_user
from verenigingen.sepa.usage import record_usage
from verenigingen.startup import load_subscribers


def drafts(session: Session, user: User, count: int) -> list[tuple[int, int, str]]:
    """Draft direct-debit payments, each settling one open invoice: (payment, customer, month)."""
    rows = session.execute(
        select(Invoice.customer_id, Invoice.id, Invoice.outstanding_amount, Invoice.posting_date)
        .where(
            Invoice.docstatus == DocStatus.SUBMITTED,
            Invoice.is_return.is_(False),
            Invoice.outstanding_amount > 0,
        )
        .order_by(Invoice.id)
        .limit(count)
    ).all()
    made = []
    for customer_id, invoice_id, outstanding, posting_date in rows:
        payment = create_payment(
            session,
            user,
            PaymentCreate(
                customer_id=customer_id,
                paid_amount=outstanding,
                mode_of_payment=ModeOfPayment.SEPA_DIRECT_DEBIT,
                allocations=[AllocationIn(invoice_id=invoice_id, allocated_amount=outstanding)],
            ),
        )
        made.append((payment.id, customer_id, month_of(posting_date)))
    return made


def main() -> None:
    load_subscribers()  # as every entry point does: the services record events
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=200)
    args = parser.parse_args()
    data_dir = Path(os.environ.get("VERENIGINGEN_DATA_DIR", tempfile.gettempdir())) / "perf"
    database = DemoDatabase(LARGE, data_dir)
    times: dict[str, list[float]] = {"deferred": [], "inline": []}
    statements: dict[str, list[int]] = {"deferred": [], "inline": []}
    with (
        clock.frozen(RUN_DAY),
        database.fresh_copy() as engine,
    ):
        # As the API's sessions: committed jobs are handed to (in-memory) queues.
        jobs = JobEngine.memory("bench-submit")
        factory = make_session_factory(engine, info={JOB_ENGINE_KEY: jobs})
        with unit_of_work(factory) as session:
            user = acting_user(session)
            planned = drafts(session, user, args.payments)
            session.expunge(user)
        for index, (payment_id, customer_id, month) in enumerate(planned):
            way = "deferred" if index % 2 == 0 else "inline"  # interleaved
            with capture() as log:
                started = time.perf_counter_ns()
                with unit_of_work(factory) as session:
                    submit_payment(session, user, payment_id)
                    if way == "inline":
                        summary.recalculate(session, customer_id)
                        record_usage(session, payment_id)
                        analytics.update_months(session, sorted({month, month_of(RUN_DAY)}))
                elapsed = (time.perf_counter_ns() - started) / 1e6
            times[way].append(elapsed)
            statements[way].append(log.count)
    deferred, inline = (statistics.median(times[w]) for w in ("deferred", "inline"))
    print(f"payment submit on the demo association (SQLite), {len(planned)} payments, interleaved")
    print(f"  {'way':<10} {'median ms':>10} {'statements':>11}")
    for way in ("deferred", "inline"):
        print(
            f"  {way:<10} {statistics.median(times[way]):>10.3f} "
            f"{statistics.median(statements[way]):>11.0f}"
        )
    print(f"  inline / deferred = {inline / deferred:.1f}x (goal >= 3x)")


if __name__ == "__main__":
    main()
