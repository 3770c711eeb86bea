"""Time the daily dues run over N due schedules and count its statements, at N and at N/10.

    .venv/bin/python bench/dues_generation.py [--schedules 10000] [--batch-size 500]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]

Runs on a fresh SQLite file, and on a throw-away PostgreSQL database when --postgres-url (or
VERENIGINGEN_TEST_POSTGRES_URL) is given. The statement count shows the run costs a constant
number of statements per batch, not per schedule.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, event, insert, text

from engines import chunks, postgres_engine, sqlite_engine
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.db.migrate import upgrade
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.dues.models import DuesSchedule
from verenigingen.dues.service import generate_dues
from verenigingen.members.models import Customer, Member, Membership, MembershipType
from verenigingen.startup import load_subscribers

TODAY = dt.date(2026, 11, 15)


def build(engine: Engine, count: int) -> int:
    """Migrate and insert ``count`` due monthly schedules in bulk; the id of a treasurer."""
    upgrade(engine)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        user_id = create_user(session, "bench@example.org", Role.TREASURER).id
        membership_type = MembershipType(
            name="Maandlid",
            billing_period="Monthly",
            amount=Decimal("12.50"),
            minimum_amount=Decimal("0.00"),
            enforce_minimum_period=True,
            is_default=True,
        )
        session.add(membership_type)
        session.flush()
        # Ids are assigned in order on a fresh database, so rows can refer to them directly.
        connection = session.connection()
        for rows in chunks(
            [
                {"id": i, "debtor_number": f"DEB-{i:06d}", "name": f"Lid {i}"}
                for i in range(1, count + 1)
            ]
        ):
            connection.execute(insert(Customer), rows)
        for rows in chunks(
            [
                {
                    "id": i,
                    "member_id": f"BENCH-{i:06d}",
                    "first_name": "Lid",
                    "last_name": str(i),
                    "email": f"lid{i}@example.org",
                    "status": "Active",
                    "application_status": "Approved",
                    "payment_method": "SEPA Direct Debit",
                    "customer_id": i,
                    "member_since": TODAY,
                }
                for i in range(1, count + 1)
            ]
        ):
            connection.execute(insert(Member), rows)
        for rows in chunks(
            [
                {
                    "id": i,
                    "member_id": i,
                    "membership_type_id": membership_type.id,
                    "start_date": TODAY,
                    "renewal_date": dt.date(2027, 11, 15),
                    "status": "Active",
                }
                for i in range(1, count + 1)
            ]
        ):
            connection.execute(insert(Membership), rows)
        for rows in chunks(
            [
                {
                    "id": i,
                    "membership_id": i,
                    "member_id": i,
                    "customer_id": i,
                    "billing_frequency": "Monthly",
                    "billing_months": 1,
                    "dues_rate": Decimal("12.50"),
                    "next_invoice_date": TODAY,
                    "invoice_days_before": 30,
                    "status": "Active",
                    "auto_generate": True,
                }
                for i in range(1, count + 1)
            ]
        ):
            connection.execute(insert(DuesSchedule), rows)
        if engine.dialect.name == "postgresql":
            for table in ("customer", "member", "membership", "dues_schedule"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {count})")
                )
            connection.execute(text("ANALYZE"))
    return user_id


def measure(engine: Engine, count: int, batch_size: int) -> tuple[int, float, int]:
    """(invoices created, seconds, statements) of one dues run over ``count`` due schedules."""
    user_id = build(engine, count)
    factory = make_session_factory(engine)
    statements = 0

    def counter(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal statements
        if (
            not statement.lstrip()
            .upper()
            .startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"))
        ):
            statements += 1

    with unit_of_work(factory) as session:
        user = session.get(User, user_id)
        assert user is not None
    event.listen(engine, "before_cursor_execute", counter)
    try:
        started = time.perf_counter()
        with unit_of_work(factory) as session:
            result = generate_dues(session, user, today=TODAY, batch_size=batch_size)
        elapsed = time.perf_counter() - started
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    return result.invoices_created, elapsed, statements


def report(label: str, engine_factory: Any, count: int, batch_size: int) -> None:
    small = max(1, count // 10)
    with engine_factory() as engine:
        invoices, elapsed, statements = measure(engine, count, batch_size)
    with engine_factory() as engine:
        small_invoices, small_elapsed, small_statements = measure(engine, small, batch_size)
    batches = -(-count // batch_size)
    small_batches = -(-small // batch_size)
    print(
        f"{label}: {invoices:,} invoices in {elapsed:.2f} s "
        f"({elapsed / invoices * 1000:.3f} s per 1,000 invoices), {statements} statements "
        f"in {batches} batch(es)"
    )
    print(
        f"{label}: {small_invoices:,} invoices in {small_elapsed:.2f} s "
        f"({small_elapsed / small_invoices * 1000:.3f} s per 1,000 invoices), "
        f"{small_statements} statements in {small_batches} batch(es)"
    )
    print(
        f"{label}: {count:,} vs {small:,} schedules -> {statements} vs {small_statements} "
        f"statements (x{statements / small_statements:.1f} for x{count / small:.0f} the "
        f"schedules; {statements / batches:.1f} vs {small_statements / small_batches:.1f} "
        "per batch)"
    )


def main() -> None:
    load_subscribers()  # as every entry point does: the services record events
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("VERENIGINGEN_TEST_POSTGRES_URL"),
        help="PostgreSQL server to create a throw-away database on (default: "
        "$VERENIGINGEN_TEST_POSTGRES_URL; skipped when unset)",
    )
    arguments = parser.parse_args()
    print(
        f"dues generation: {arguments.schedules:,} due monthly schedules, "
        f"batch size {arguments.batch_size}"
    )
    report("sqlite", sqlite_engine, arguments.schedules, arguments.batch_size)
    if arguments.postgres_url:
        report(
            "postgresql",
            lambda: postgres_engine(arguments.postgres_url, "bench_dues"),
            arguments.schedules,
            arguments.batch_size,
        )
    else:
        print("postgresql: skipped (no --postgres-url or VERENIGINGEN_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
