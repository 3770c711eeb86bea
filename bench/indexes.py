"""The payment-history reads at 200,000 invoices, with and without the strategic indexes.

    .venv/bin/python bench/indexes.py [--invoices 200000] [--runs 15]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]

Runs on a fresh SQLite file, and on a throw-away PostgreSQL database when --postgres-url (or
VERENIGINGEN_TEST_POSTGRES_URL) is given. The reads are sent by the real services
(billing.queries.customer_ledger and list_invoices, and the settlement check before an invoice
is cancelled) for the busiest customer and invoice; their statements are captured with their
parameters and replayed, median of ``--runs``, in three schemas:

* migrated      — as ``alembic upgrade head`` leaves it (it already has ix_invoice_customer_posting
                  and ix_payment_allocation_invoice_id, which serve most of these reads);
* bare          — the two indexes above dropped: invoices and allocations by primary key only,
                  as the original system had them;
* strategic     — bare plus ``indexes add --strategic``, built online by the index manager.

The goal (>= 10x) is bare / strategic; migrated / strategic says what the strategic indexes add
to the schema as it ships.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, event, insert, text
from sqlalchemy.orm import Session

from engines import postgres_engine, sqlite_engine
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import DocStatus, Invoice, Payment, PaymentAllocation
from verenigingen.billing.queries import customer_ledger, list_invoices
from verenigingen.db.migrate import upgrade
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.indexes import catalog, service
from verenigingen.indexes.dialects import for_engine, rolled_back
from verenigingen.indexes.impact import ProbeStatement
from verenigingen.members.models import Customer
from verenigingen.startup import load_subscribers

PER_CUSTOMER = 100
CHUNK = 10_000
STATUSES = ("Paid", "Paid", "Unpaid", "Overdue")
HISTORY_INDEXES = ("ix_invoice_customer_posting", "ix_payment_allocation_invoice_id")


def build(engine: Engine, invoices: int) -> User:
    """Migrate; ``invoices`` invoices over ``invoices / 100`` customers, half of them paid by a
    payment with one allocation; an administrator to act as."""
    upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        user = create_user(session, "bench@example.org", Role.ADMINISTRATOR)
    customers = invoices // PER_CUSTOMER
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            _fill_postgres(connection, customers, invoices)
        else:
            _fill_executemany(connection, customers, invoices)
    # VACUUM (PostgreSQL: sets hint bits and the visibility map after the bulk load) runs
    # outside a transaction; ANALYZE gives the planners their statistics on both.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("VACUUM ANALYZE")
        else:
            connection.exec_driver_sql("ANALYZE")
    return user


def _fill_postgres(connection: Connection, customers: int, invoices: int) -> None:
    # Skip the per-row foreign-key triggers while loading (the bench connects as a superuser);
    # the rows refer to ids generate_series made, so they are consistent by construction.
    connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
    statements = [
        "INSERT INTO customer (id, debtor_number, name) "
        "SELECT g, 'DEB-' || g, 'Klant ' || g FROM generate_series(1, :customers) AS g",
        "INSERT INTO invoice (id, number, customer_id, posting_date, due_date, grand_total, "
        "outstanding_amount, status, docstatus, is_return) "
        "SELECT g, 'INV-' || g, 1 + mod(g, :customers), date '2015-01-01' + mod(g, 3650), "
        "date '2015-01-15' + mod(g, 3650), 25, CASE WHEN mod(g, 2) = 0 THEN 0 ELSE 25 END, "
        "(ARRAY['Paid', 'Unpaid', 'Paid', 'Overdue'])[1 + mod(g, 4)], 1, false "
        "FROM generate_series(1, :invoices) AS g",
        "INSERT INTO payment (id, number, payment_type, customer_id, posting_date, paid_amount, "
        "unallocated_amount, mode_of_payment, docstatus) "
        "SELECT g / 2, 'PAY-' || g / 2, 'Receive', 1 + mod(g, :customers), "
        "date '2015-01-20' + mod(g, 3650), 25, 0, 'Bank Transfer', 1 "
        "FROM generate_series(2, :invoices, 2) AS g",
        "INSERT INTO payment_allocation (id, payment_id, invoice_id, allocated_amount) "
        "SELECT g / 2, g / 2, g, 25 FROM generate_series(2, :invoices, 2) AS g",
    ]
    for statement in statements:
        connection.execute(text(statement), {"customers": customers, "invoices": invoices})
    for table in ("customer", "invoice", "payment", "payment_allocation"):
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )


def _fill_executemany(connection: Connection, customers: int, invoices: int) -> None:
    start = dt.date(2015, 1, 1)

    def day(g: int, offset: int) -> dt.date:
        return start + dt.timedelta(days=g % 3650 + offset)

    rows: dict[Any, Callable[[int], dict[str, Any]]] = {
        Invoice: lambda g: {
            "id": g,
            "number": f"INV-{g}",
            "customer_id": 1 + g % customers,
            "posting_date": day(g, 0),
            "due_date": day(g, 14),
            "grand_total": 25,
            "outstanding_amount": 0 if g % 2 == 0 else 25,
            "status": STATUSES[g % 4] if g % 4 != 1 else "Unpaid",
            "docstatus": DocStatus.SUBMITTED,
            "is_return": False,
        },
    }
    customer_rows = [
        {"id": c, "debtor_number": f"DEB-{c}", "name": f"Klant {c}"}
        for c in range(1, customers + 1)
    ]
    connection.execute(insert(Customer), customer_rows)
    for model, make in rows.items():
        for begin in range(1, invoices + 1, CHUNK):
            batch = [make(g) for g in range(begin, min(begin + CHUNK, invoices + 1))]
            connection.execute(insert(model), batch)
    for begin in range(2, invoices + 1, CHUNK):
        evens = range(begin, min(begin + CHUNK, invoices + 1), 2)
        connection.execute(
            insert(Payment),
            [
                {
                    "id": g // 2,
                    "number": f"PAY-{g // 2}",
                    "payment_type": "Receive",
                    "customer_id": 1 + g % customers,
                    "posting_date": day(g, 19),
                    "paid_amount": 25,
                    "unallocated_amount": 0,
                    "mode_of_payment": "Bank Transfer",
                    "docstatus": DocStatus.SUBMITTED,
                }
                for g in evens
            ],
        )
        connection.execute(
            insert(PaymentAllocation),
            [
                {"id": g // 2, "payment_id": g // 2, "invoice_id": g, "allocated_amount": 25}
                for g in evens
            ],
        )


def _settlements(session: Session, invoice_id: int) -> None:
    # The settlement check before an invoice is cancelled (billing.service.invoices).
    session.execute(
        text(
            "SELECT payment.number FROM payment JOIN payment_allocation "
            "ON payment_allocation.payment_id = payment.id "
            "WHERE payment_allocation.invoice_id = :invoice_id AND payment.docstatus = 1 "
            "ORDER BY payment.id"
        ),
        {"invoice_id": invoice_id},
    ).all()


def capture_reads(engine: Engine, user: User) -> dict[str, list[ProbeStatement]]:
    """The statements (with parameters) of each payment-history read, as the services send them."""
    customer_id, invoice_id = 1, 2  # every customer has 100 invoices; invoice 2 is paid
    reads: dict[str, Callable[[Session], object]] = {
        "customer_ledger (history)": lambda s: customer_ledger(s, user, customer_id),
        "open invoices of a customer": lambda s: list_invoices(
            s, user, customer_id=customer_id, status="Unpaid"
        ),
        "payments settling an invoice": lambda s: _settlements(s, invoice_id),
    }
    captured: dict[str, list[ProbeStatement]] = {}
    with engine.connect() as connection:
        for label, read in reads.items():
            statements: list[ProbeStatement] = []

            def record(_c: Any, _cur: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
                if not many and sql.lstrip().upper().startswith("SELECT"):
                    statements.append(ProbeStatement(sql, params))  # noqa: B023 (used at once)

            event.listen(connection, "before_cursor_execute", record)
            with rolled_back(connection), Session(bind=connection) as session:
                read(session)
            event.remove(connection, "before_cursor_execute", record)
            captured[label] = statements
    return captured


Result = dict[str, list[tuple[float, str]]]
"""Per read: (median ms, plan) of each of its statements."""


def measure(engine: Engine, reads: dict[str, list[ProbeStatement]], runs: int) -> Result:
    dialect = for_engine(engine)
    results: Result = {}
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as connection:
        for label, statements in reads.items():
            measured = []
            for s in statements:
                plan = dialect.explain(connection, s.sql, s.parameters)
                connection.rollback()
                samples = []
                for number in range(runs + 1):
                    started = time.perf_counter_ns()
                    connection.exec_driver_sql(s.sql, s.parameters).all()
                    if number:  # the first run warms the caches
                        samples.append((time.perf_counter_ns() - started) / 1e6)
                    connection.rollback()
                measured.append((statistics.median(samples), plan))
            results[label] = measured
    return results


def _plan_line(plan: str) -> str:
    """The plan line that says how the statement's main table is read."""
    for line in plan.splitlines():
        lowered = line.lower()
        if any(w in lowered for w in ("scan", "search", "index")):
            return line.strip().lstrip("->").strip()[:100]
    return plan.splitlines()[0].strip()[:100] if plan else ""


STRATEGIC_NAMES = tuple(spec.name for spec in catalog.STRATEGIC)


def report(label: str, engine_factory: Any, invoices: int, runs: int) -> None:
    with engine_factory() as engine:
        started = time.perf_counter()
        user = build(engine, invoices)
        print(f"\n== {label}: {invoices:,} invoices built in {time.perf_counter() - started:.1f} s")
        reads = capture_reads(engine, user)
        migrated = measure(engine, reads, runs)
        with engine.begin() as connection:
            for name in HISTORY_INDEXES:
                connection.exec_driver_sql(f"DROP INDEX {name}")
        bare = measure(engine, reads, runs)
        started = time.perf_counter()
        outcomes = service.add_indexes(engine, user, catalog.STRATEGIC)
        built = ", ".join(f"{o.spec.name} {o.action}" for o in outcomes)
        print(f"index manager ({time.perf_counter() - started:.1f} s): {built}")
        strategic = measure(engine, reads, runs)
    sums = {"migrated": 0.0, "bare": 0.0, "strategic": 0.0}
    served = dict(sums)
    for read, statements in reads.items():
        print(f"\n{read}: {len(statements)} statements, median of {runs} runs each")
        for number, statement in enumerate(statements):
            print(f"  {number + 1}. {' '.join(statement.sql.split())[:120]}")
            results = {"migrated": migrated, "bare": bare, "strategic": strategic}
            uses = any(name in strategic[read][number][1] for name in STRATEGIC_NAMES)
            for name, result in results.items():
                ms, plan = result[read][number]
                sums[name] += ms
                if uses:
                    served[name] += ms
                print(f"     {name:<10}{ms:9.3f} ms  {_plan_line(plan)}")
            ratio = bare[read][number][0] / strategic[read][number][0]
            shipped = migrated[read][number][0] / strategic[read][number][0]
            print(f"     bare / strategic {ratio:.1f}x, migrated / strategic {shipped:.2f}x")
    for title, totals in (
        ("all statements", sums),
        ("statements a strategic index serves", served),
    ):
        print(
            f"\n{label}, {title}: migrated {totals['migrated']:.3f} ms, bare "
            f"{totals['bare']:.3f} ms, strategic {totals['strategic']:.3f} ms -> "
            f"bare / strategic {totals['bare'] / totals['strategic']:.1f}x (goal >= 10x), "
            f"migrated / strategic {totals['migrated'] / totals['strategic']:.2f}x"
        )


def main() -> None:
    load_subscribers()  # as every entry point does: the services record events
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--postgres-url", default=os.environ.get("VERENIGINGEN_TEST_POSTGRES_URL"), help="server"
    )
    args = parser.parse_args()
    report("SQLite", sqlite_engine, args.invoices, args.runs)
    if args.postgres_url:
        report(
            "PostgreSQL",
            lambda: postgres_engine(args.postgres_url, "bench_indexes"),
            args.invoices,
            args.runs,
        )


if __name__ == "__main__":
    main()
