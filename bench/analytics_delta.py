"""A payment's analytics work as the ledger grows: the month recomputed from the ledger (the job
every payment left before) against the payment's delta added to the month's row (what the
payment's own transaction does now).

For each size, a SQLite ledger of ``members`` customers with one invoice a month for 12 months
(the last month's invoices half paid) is written with bulk INSERTs; then, interleaved in one
process, each side runs in a transaction that is rolled back:

- recompute: ``analytics.update_months`` of the payment's month, as the job did (with the
  posting-date index of migration 0015 present, so the month is a range, not the whole table;
  ``--without-index`` drops it, as the schema before 0015 was);
- delta: ``analytics.apply_deltas`` with the payment's change to its month (one UPDATE).

    .venv/bin/python bench/analytics_delta.py [--sizes 200,2000,10000] [--repeat 30]
        [--without-index]

Prints the medians and their ratio per size. Leaves out: the rest of the payment's transaction
(rules, allocations, audit) and, for the recompute, the job's own cost (claim, commit,
notification), which came on top of it once per payment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.orm import Session

from verenigingen.billing.models import DocStatus, Invoice, InvoiceStatus, Payment, PaymentType
from verenigingen.db.migrate import upgrade
from verenigingen.history import analytics
from verenigingen.history.analytics import MonthDelta
from verenigingen.members.models import Customer

FIRST_MONTH = dt.date(2025, 1, 1)
MONTHS = 12
CHUNK = 5_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,2000,10000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--without-index", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="verenigingen-analytics-"))
    schema = "without the posting-date indexes" if args.without_index else "with them"
    print(f"a payment's analytics work on SQLite, {args.repeat} runs per side ({schema})")
    for members in (int(size) for size in args.sizes.split(",")):
        engine = create_engine(f"sqlite:///{folder / f'ledger-{members}.db'}")
        upgrade(engine)
        if args.without_index:
            with engine.begin() as connection:
                connection.execute(text("DROP INDEX ix_invoice_posting_date_id"))
                connection.execute(text("DROP INDEX ix_payment_posting_date_id"))
        invoices = _ledger(engine, members)
        month = FIRST_MONTH.replace(month=MONTHS)
        with Session(engine) as session:  # the month's row exists, as after its first write
            analytics.update_months(session, [f"{month:%Y-%m}"])
            session.commit()
        delta = [MonthDelta(month, payment_count=1, received=Decimal("25.00"))]
        delta.append(MonthDelta(month, collected=Decimal("25.00")))
        sides: dict[str, Callable[[Session], object]] = {
            "recompute": partial(analytics.update_months, months=[f"{month:%Y-%m}"]),
            "delta": partial(analytics.apply_deltas, deltas=delta),
        }
        times: dict[str, list[float]] = {name: [] for name in sides}
        for index in range(args.repeat):
            order = list(sides) if index % 2 else list(reversed(sides))
            for name in order:
                with Session(engine) as session:
                    started = time.perf_counter()
                    sides[name](session)
                    session.flush()
                    times[name].append((time.perf_counter() - started) * 1000)
                    session.rollback()
        old, new = (statistics.median(times[name]) for name in ("recompute", "delta"))
        print(
            f"{members:>7,} members {invoices:>8,} invoices  recompute {old:8.2f} ms"
            f"  delta {new:6.3f} ms  recompute/delta {old / new:7.1f}x"
        )
        engine.dispose()


def _ledger(engine: Engine, members: int) -> int:
    """One customer per member, an invoice a month each, the last month's half paid."""
    with engine.begin() as connection:
        customer_ids: list[int] = []
        for low in range(0, members, CHUNK):
            numbers = range(low, min(low + CHUNK, members))
            customer_ids += (
                connection.execute(
                    insert(Customer).returning(Customer.id, sort_by_parameter_order=True),
                    [{"debtor_number": f"DEB-{n:07d}", "name": f"Klant {n}"} for n in numbers],
                )
                .scalars()
                .all()
            )
        rows = []
        for month in range(MONTHS):
            posting = FIRST_MONTH.replace(month=month + 1)
            last = month == MONTHS - 1
            for n, customer_id in enumerate(customer_ids):
                paid = last and n % 2 == 0
                rows.append(
                    {
                        "number": f"INV-{month:02d}-{n:07d}",
                        "customer_id": customer_id,
                        "posting_date": posting,
                        "due_date": posting + dt.timedelta(days=14),
                        "grand_total": Decimal("25.00"),
                        "outstanding_amount": Decimal("0.00") if paid else Decimal("25.00"),
                        "status": (InvoiceStatus.PAID if paid else InvoiceStatus.UNPAID).value,
                        "docstatus": DocStatus.SUBMITTED,
                    }
                )
        for low in range(0, len(rows), CHUNK):
            connection.execute(insert(Invoice), rows[low : low + CHUNK])
        last_month = FIRST_MONTH.replace(month=MONTHS)
        payments = [
            {
                "number": f"PAY-{n:07d}",
                "payment_type": PaymentType.RECEIVE.value,
                "customer_id": customer_id,
                "posting_date": last_month + dt.timedelta(days=n % 28),
                "paid_amount": Decimal("25.00"),
                "unallocated_amount": Decimal("0.00"),
                "docstatus": DocStatus.SUBMITTED,
            }
            for n, customer_id in enumerate(customer_ids)
            if n % 2 == 0
        ]
        for low in range(0, len(payments), CHUNK):
            connection.execute(insert(Payment), payments[low : low + CHUNK])
        connection.execute(text("ANALYZE"))
    return len(rows)


if __name__ == "__main__":
    main()
