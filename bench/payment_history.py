"""A member's payment history six ways, side by side in one run, on SQLite and PostgreSQL.

    .venv/bin/python bench/payment_history.py [--runs 30]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]

On the seeded demo association (SQLite: the perf template; PostgreSQL: the same demo loaded into
a throw-away database) one more member is added whose customer has 100 invoices and 120
payments (100 allocated, 20 with money left over) and an active mandate. Its whole history is
read:

- naive, ORM: per-invoice loading as the original did it (written here only): the invoices,
  then per invoice its allocations, per allocation its payment, per invoice the member's
  mandate; per payment its allocations to find what is unallocated; the mandates; sums in
  Python; ORM entities through the session;
- naive, plain driver: the same loop and the same 424 statements written on the DB-API
  connection itself (``sqlite3`` or psycopg, no SQLAlchemy between): columns as tuples,
  amounts made ``Decimal`` where the driver gives floats, days as the driver gives them. What
  the hand-written loop costs without the ORM; its statements are counted by the loop, not by
  ``perf.capture``;
- ours, cold: ``history.service.payment_history_text`` with an empty cache (the API's path on
  a miss: three statements, the first also reading the member's permission and tag versions,
  then the page is built and written as JSON);
- ours, warm: the same call, served from the cache (one statement: the versions);
- floor: one hand-written SQL statement that fetches everything the history shows (the
  mandates with the summary, the page of invoices with their payments, the unallocated
  payments) through the session, its rows as the driver gives them: no types, no versions, no
  permission, no document;
- invoice rows only: the floor this bench first measured, the invoice rows with their
  payments and nothing else (printed for comparison; not what a history needs).

Each method reads in a read-only session (or, for the plain driver, a connection) of its own
and each timed call starts a transaction, as a request does. Times are medians (and minima) of
interleaved runs, each run in a shuffled order; the warm read is also timed back to back. Query
counts come from ``perf.capture``. None of these times include HTTP (routing, the response):
they are the service call in process. Then the mixed portal workload
(``perf.workloads.history``) runs on SQLite and its cache hit rate is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.billing.models import (
    DocStatus,
    Invoice,
    InvoiceStatus,
    ModeOfPayment,
    Payment,
    PaymentAllocation,
)
from verenigingen.cache import VersionedCache
from verenigingen.cache.memory import MemoryBackend
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import upgrade
from verenigingen.db.scratch import throwaway_database
from verenigingen.db.session import make_session_factory
from verenigingen.demo.generator import load_demo
from verenigingen.history.service import payment_history_text
from verenigingen.members.models import Customer, Member
from verenigingen.perf.capture import capture
from verenigingen.perf.workloads import get_workload, history
from verenigingen.perf.workloads.database import LARGE, RUN_DAY, DemoDatabase, acting_user
from verenigingen.perf.workloads.runner import run_workload
from verenigingen.sepa.models import MandateStatus, SepaMandate
from verenigingen.startup import load_subscribers

INVOICES = 100
PAYMENTS = 120


def add_big_member(session: Session) -> int:
    """A member whose customer has 100 invoices, 120 payments and an active mandate."""
    tag = uuid.uuid4().hex[:8]
    customer = Customer(debtor_number=f"BENCH-{tag}", name="Familie Groot")
    session.add(customer)
    session.flush()
    member = Member(
        member_id=f"Assoc-Member-2015-01-{tag}",
        first_name="Gerda",
        last_name="Groot",
        email=f"{tag}@example.org",
        customer_id=customer.id,
        status="Active",
    )
    session.add(member)
    session.flush()
    session.add(
        SepaMandate(
            mandate_reference=f"BENCH-{tag}",
            member_id=member.id,
            account_holder="G. Groot",
            iban="NL91ABNA0417164300",
            sign_date=dt.date(2015, 1, 1),
            status=MandateStatus.ACTIVE,
        )
    )
    start = dt.date(2016, 1, 1)
    session.execute(
        insert(Invoice),
        [
            {
                "number": f"B-{tag}-{i:03d}",
                "customer_id": customer.id,
                "member_id": member.id,
                "posting_date": start + dt.timedelta(days=30 * i),
                "due_date": start + dt.timedelta(days=30 * i + 14),
                "grand_total": Decimal("30.00"),
                "outstanding_amount": Decimal("5.00") if i % 10 == 0 else Decimal("0.00"),
                "status": InvoiceStatus.PARTLY_PAID if i % 10 == 0 else InvoiceStatus.PAID,
                "docstatus": DocStatus.SUBMITTED,
                "is_return": False,
            }
            for i in range(INVOICES)
        ],
    )
    invoice_ids = list(
        session.scalars(
            select(Invoice.id).where(Invoice.customer_id == customer.id).order_by(Invoice.id)
        )
    )
    session.execute(
        insert(Payment),
        [
            {
                "number": f"BP-{tag}-{i:03d}",
                "customer_id": customer.id,
                "posting_date": start + dt.timedelta(days=30 * (i % INVOICES) + 5),
                "paid_amount": Decimal("30.00"),
                "unallocated_amount": Decimal("0.00") if i < INVOICES else Decimal("30.00"),
                "mode_of_payment": ModeOfPayment.SEPA_DIRECT_DEBIT,
                "reference_no": f"SEPA {i}",
                "docstatus": DocStatus.SUBMITTED,
            }
            for i in range(PAYMENTS)
        ],
    )
    payment_ids = list(
        session.scalars(
            select(Payment.id).where(Payment.customer_id == customer.id).order_by(Payment.id)
        )
    )
    session.execute(
        insert(PaymentAllocation),
        [
            {
                "payment_id": payment_ids[i],
                "invoice_id": invoice_ids[i],
                "allocated_amount": Decimal("25.00") if i % 10 == 0 else Decimal("30.00"),
            }
            for i in range(INVOICES)
        ],
    )
    # Payments with allocations of 25.00 keep 5.00 unallocated.
    session.execute(
        update(Payment)
        .where(Payment.id.in_([payment_ids[i] for i in range(0, INVOICES, 10)]))
        .values(unallocated_amount=Decimal("5.00"))
    )
    return member.id


def naive(session: Session, member_id: int) -> dict[str, Any]:
    """The original's way: a statement per invoice, per allocation, per payment."""
    member = session.get(Member, member_id)
    assert member is not None
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == member.customer_id, Invoice.docstatus == 1)
        .order_by(Invoice.posting_date.desc())
    ).all()
    rows = []
    for invoice in invoices:
        allocations = session.scalars(
            select(PaymentAllocation).where(PaymentAllocation.invoice_id == invoice.id)
        ).all()
        payments = []
        for allocation in allocations:
            payment = session.scalar(select(Payment).where(Payment.id == allocation.payment_id))
            if payment is not None and payment.docstatus == 1:
                payments.append((payment.number, payment.posting_date, allocation.allocated_amount))
        mandate = session.scalar(
            select(SepaMandate)
            .where(SepaMandate.member_id == member_id, SepaMandate.sign_date <= invoice.due_date)
            .limit(1)
        )
        rows.append((invoice.number, invoice.outstanding_amount, payments, mandate))
    unallocated = []
    for payment in session.scalars(
        select(Payment).where(Payment.customer_id == member.customer_id)
    ):
        allocated = session.scalars(
            select(PaymentAllocation.allocated_amount).where(
                PaymentAllocation.payment_id == payment.id
            )
        ).all()
        if payment.paid_amount > sum(allocated, Decimal(0)):
            unallocated.append(payment.number)
    mandates = session.scalars(
        select(SepaMandate).where(
            SepaMandate.member_id == member_id, SepaMandate.status == "Active"
        )
    ).all()
    return {
        "invoices": rows,
        "unallocated": unallocated,
        "mandates": len(mandates),
        "outstanding": sum((r[1] for r in rows), Decimal(0)),
    }


class PlainDriver:
    """A DB-API connection of the engine's driver (``sqlite3`` or psycopg) used directly: the
    statements a hand-written loop sends, counted here (``perf.capture`` sees only SQLAlchemy)."""

    def __init__(self, engine: Engine) -> None:
        self._pooled = engine.raw_connection()
        self.connection: Any = self._pooled.driver_connection
        # sqlite3 takes ``?`` placeholders, psycopg ``%s``.
        self.placeholder = "?" if engine.dialect.name == "sqlite" else "%s"
        self.sqlite = engine.dialect.name == "sqlite"
        self.statements = 0

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        cursor.execute(sql.replace("?", self.placeholder), params)
        self.statements += 1
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        cursor.close()
        return rows

    def begin(self) -> None:
        # The engine leaves sqlite3 in autocommit mode and sends BEGIN itself; psycopg begins a
        # transaction with the first statement.
        if self.sqlite:
            self.connection.execute("BEGIN")

    def rollback(self) -> None:
        if self.sqlite:
            self.connection.execute("ROLLBACK")
        else:
            self.connection.rollback()

    def close(self) -> None:
        self._pooled.close()


def _money(value: Any) -> Decimal:
    """An amount as a Decimal: psycopg gives one, sqlite3 an integer or a float."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def naive_driver(driver: PlainDriver, member_id: int) -> dict[str, Any]:
    """:func:`naive` written on the DB-API connection: the same statements, one per invoice,
    per allocation and per payment, each selecting only the columns it uses."""
    driver.begin()
    try:
        ((customer_id,),) = driver.rows("SELECT customer_id FROM member WHERE id = ?", member_id)
        invoices = driver.rows(
            "SELECT id, number, due_date, outstanding_amount FROM invoice"
            " WHERE customer_id = ? AND docstatus = 1 ORDER BY posting_date DESC",
            customer_id,
        )
        rows = []
        for invoice_id, number, due_date, outstanding in invoices:
            payments = []
            for payment_id, allocated in driver.rows(
                "SELECT payment_id, allocated_amount FROM payment_allocation WHERE invoice_id = ?",
                invoice_id,
            ):
                for payment_number, posting_date, docstatus in driver.rows(
                    "SELECT number, posting_date, docstatus FROM payment WHERE id = ?", payment_id
                ):
                    if docstatus == 1:
                        payments.append((payment_number, posting_date, _money(allocated)))
            mandate = driver.rows(
                "SELECT id, mandate_reference FROM sepa_mandate"
                " WHERE member_id = ? AND sign_date <= ? LIMIT 1",
                member_id,
                due_date,
            )
            rows.append((number, _money(outstanding), payments, mandate[0] if mandate else None))
        unallocated = []
        for payment_id, number, paid in driver.rows(
            "SELECT id, number, paid_amount FROM payment WHERE customer_id = ?", customer_id
        ):
            allocated = driver.rows(
                "SELECT allocated_amount FROM payment_allocation WHERE payment_id = ?", payment_id
            )
            if _money(paid) > sum((_money(a) for (a,) in allocated), Decimal(0)):
                unallocated.append(number)
        mandates = driver.rows(
            "SELECT id FROM sepa_mandate WHERE member_id = ? AND status = 'Active'", member_id
        )
    finally:
        driver.rollback()
    return {
        "invoices": rows,
        "unallocated": unallocated,
        "mandates": len(mandates),
        "outstanding": sum((r[1] for r in rows), Decimal(0)),
    }


# The floor: everything the history shows, in one hand-written statement, fetched as the driver
# gives it. The member's mandates with the summary of its customer's invoices; one page of
# invoices (newest first, the page's limit) with their allocations and submitted payments; the
# payments with money left unallocated. No cache-tag versions, no permission, no document.
FLOOR_SQL = """
SELECT 0, s.id, s.mandate_reference, s.status, s.iban, s.sign_date, s.expiry_date,
       NULL, NULL, NULL, NULL, NULL, NULL, t.invoices, t.total, t.outstanding, NULL
FROM member m
LEFT JOIN sepa_mandate s ON s.member_id = m.id
LEFT JOIN (SELECT count(*) AS invoices, sum(grand_total) AS total,
                  sum(outstanding_amount) AS outstanding
           FROM invoice
           WHERE customer_id = (SELECT customer_id FROM member WHERE id = :member)
             AND docstatus = 1 AND is_return = :no) t ON 1 = 1
WHERE m.id = :member
UNION ALL
SELECT 1, i.id, i.number, i.status, p.number, i.posting_date, i.due_date, i.coverage_start,
       i.coverage_end, p.posting_date, p.mode_of_payment, p.reference_no, i.is_return,
       i.grand_total, i.outstanding_amount, a.allocated_amount, p.id
FROM (SELECT id, number, status, posting_date, due_date, coverage_start, coverage_end,
             is_return, grand_total, outstanding_amount
      FROM invoice
      WHERE customer_id = (SELECT customer_id FROM member WHERE id = :member) AND docstatus = 1
      ORDER BY posting_date DESC, id DESC LIMIT :rows) i
LEFT JOIN payment_allocation a ON a.invoice_id = i.id
LEFT JOIN payment p ON p.id = a.payment_id AND p.docstatus = 1
UNION ALL
SELECT 2, p.id, p.number, p.mode_of_payment, p.reference_no, p.posting_date, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, p.paid_amount, p.unallocated_amount, NULL, NULL
FROM payment p
WHERE p.customer_id = (SELECT customer_id FROM member WHERE id = :member) AND p.docstatus = 1
  AND p.unallocated_amount > 0
"""

# The first floor this bench measured: only the invoice rows with their payments (no mandates,
# no summary, no unallocated payments), printed for comparison.
INVOICE_ROWS_SQL = """
SELECT i.id, i.number, i.posting_date, i.due_date, i.grand_total, i.outstanding_amount,
       i.status, a.allocated_amount, p.number, p.posting_date, p.mode_of_payment, p.reference_no
FROM invoice i
LEFT JOIN payment_allocation a ON a.invoice_id = i.id
LEFT JOIN payment p ON p.id = a.payment_id AND p.docstatus = 1
WHERE i.customer_id = (SELECT customer_id FROM member WHERE id = :member) AND i.docstatus = 1
ORDER BY i.posting_date DESC, i.id DESC
"""

LIMIT = 500


def floor(session: Session, member_id: int) -> list[Any]:
    params = {"member": member_id, "rows": LIMIT + 1, "no": False}
    return list(session.execute(text(FLOOR_SQL), params).all())


def invoice_rows(session: Session, member_id: int) -> list[Any]:
    return list(session.execute(text(INVOICE_ROWS_SQL), {"member": member_id}).all())


def measure(name: str, engine: Engine, member_id: int, user_id: int, runs: int) -> None:
    cache = VersionedCache(MemoryBackend())
    warm_cache = VersionedCache(MemoryBackend())

    def ours_cold(session: Session, user: User) -> object:
        cache.clear()
        return payment_history_text(session, user, member_id, limit=LIMIT, cache=cache)

    def ours_warm(session: Session, user: User) -> object:
        return payment_history_text(session, user, member_id, limit=LIMIT, cache=warm_cache)

    driver = PlainDriver(engine)
    methods: dict[str, Callable[[Session, User], object]] = {
        "naive, ORM": lambda s, u: naive(s, member_id),
        "naive, plain driver": lambda s, u: naive_driver(driver, member_id),
        "ours, cold": ours_cold,
        "ours, warm (hit)": ours_warm,
        "floor (one SQL)": lambda s, u: floor(s, member_id),
        "invoice rows only": lambda s, u: invoice_rows(s, member_id),
    }
    times: dict[str, list[float]] = {m: [] for m in methods}
    counts: dict[str, int] = {}
    # Each method reads in a session of its own, as a request would, with the read-only begin
    # of the API's reads (on SQLite: BEGIN DEFERRED, no write lock).
    reader = engine.execution_options(sqlite_begin="DEFERRED")
    sessions = {method: Session(reader) for method in methods}
    with Session(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        # Detached, as a request holds the user it authenticated: a rollback does not expire it.
        session.expunge(user)
    ours_warm(sessions["ours, warm (hit)"], user)  # fill the warm cache once
    for method, call in methods.items():
        with capture() as log:
            call(sessions[method], user)
        counts[method] = log.count
        sessions[method].rollback()
    driver.statements = 0
    naive_driver(driver, member_id)
    counts["naive, plain driver"] = driver.statements
    # The demo's objects, built once, are not what is measured: out of the collector's way, so
    # that a collection during a timed call scans only what the calls allocate.
    gc.collect()
    gc.freeze()
    # Interleaved, each run in an order of its own (shuffled, seeded): in a fixed order, even
    # turned, a method always follows the same one, and following the naive reads (whose
    # hundreds of statements leave the CPU's caches cold) costs a short call a quarter more.
    order, shuffle = list(methods), random.Random(7).shuffle
    for _ in range(runs):
        shuffle(order)
        for method in order:
            call, session = methods[method], sessions[method]
            started = time.perf_counter_ns()
            call(session, user)
            times[method].append((time.perf_counter_ns() - started) / 1e6)
            session.rollback()
    # The same hit back to back, as a portal answering read after read: interleaved with the
    # naive and cold methods, a sub-millisecond call also pays for the caches those evicted.
    warm_session = sessions["ours, warm (hit)"]
    steady: list[float] = []
    for _ in range(runs * 10):
        started = time.perf_counter_ns()
        ours_warm(warm_session, user)
        steady.append((time.perf_counter_ns() - started) / 1e6)
        warm_session.rollback()
    for session in sessions.values():
        session.close()
    driver.close()
    gc.unfreeze()
    medians = {m: statistics.median(t) for m, t in times.items()}
    print(f"\n{name}: member with {INVOICES} invoices and {PAYMENTS} payments, {runs} runs")
    print(f"  {'method':<20} {'median ms':>10} {'min ms':>8} {'queries':>8}")
    for method in methods:
        print(
            f"  {method:<20} {medians[method]:>10.3f} {min(times[method]):>8.3f}"
            f" {counts[method]:>8}"
        )
    cold, warm = medians["ours, cold"], medians["ours, warm (hit)"]
    naive_orm, naive_plain = medians["naive, ORM"], medians["naive, plain driver"]
    print(f"  naive ORM / cold          = {naive_orm / cold:6.1f}x   (goal >= 10x)")
    print(f"  naive plain driver / cold = {naive_plain / cold:6.1f}x")
    print(
        f"  naive ORM / naive plain   = {naive_orm / naive_plain:6.2f}x"
        "   (what the ORM adds to the same statements)"
    )
    print(f"  cold / floor              = {cold / medians['floor (one SQL)']:6.2f}x   (goal <= 3x)")
    print(f"  cold / invoice rows only  = {cold / medians['invoice rows only']:6.2f}x")
    print(f"  warm p50                  = {warm:6.3f} ms (goal <= 0.2 ms), interleaved")
    print(
        f"  warm p50                  = {statistics.median(steady):6.3f} ms (goal <= 0.2 ms),"
        f" {len(steady)} hits back to back"
    )


@contextlib.contextmanager
def postgres_demo(url: str) -> Iterator[Engine]:
    with throwaway_database(url, "bench_history") as database_url:
        engine = make_engine(database_url)
        try:
            upgrade(engine)
            load_demo(make_session_factory(engine), LARGE)
            yield engine
        finally:
            engine.dispose()


def prepare(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session, session.begin():
        member_id = add_big_member(session)
        user_id = acting_user(session).id
    return member_id, user_id


def main() -> None:
    load_subscribers()  # as every entry point does: the services record events
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres-url", default=os.environ.get("VERENIGINGEN_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    data_dir = Path(os.environ.get("VERENIGINGEN_DATA_DIR", tempfile.gettempdir())) / "perf"
    database = DemoDatabase(LARGE, data_dir)
    # No job engine on the bench's sessions: the jobs its writes enqueue wait in their table.
    with clock.frozen(RUN_DAY):
        with database.fresh_copy() as engine:
            member_id, user_id = prepare(engine)
            measure("SQLite (demo association, 200 members)", engine, member_id, user_id, args.runs)
        if args.postgres_url:
            with postgres_demo(args.postgres_url) as engine:
                member_id, user_id = prepare(engine)
                measure("PostgreSQL (same demo)", engine, member_id, user_id, args.runs)
        result = run_workload(get_workload("mixed_portal"), database)
        hits, lookups = history.LAST_PORTAL.hit_rate()
        print(
            f"\nmixed portal (SQLite, {result.iterations} units, after one warm read per member):"
            f" {hits}/{lookups} history lookups hit = {hits / lookups:.1%} (goal >= 90 %), "
            f"{result.log.count / result.iterations:.2f} statements per unit"
        )


if __name__ == "__main__":
    main()
