"""Build, export and validate a direct-debit batch of N collections; statements and seconds.

    .venv/bin/python bench/sepa.py [--collections 10000] [--small 100]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres] [--databases both]

Each size runs on a fresh SQLite file, and on a throw-away PostgreSQL database when
--postgres-url (or VERENIGINGEN_TEST_POSTGRES_URL) is given: N members with an active mandate
and one submitted Unpaid invoice each, inserted in bulk; then, timed apart, ``create_batch``
(the candidates read, the batch, its entries and the mandate usages written, one transaction)
and ``export_batch`` (the pain.008.001.08 built with lxml and validated against the XSD and the
EPC rules). Statements come from ``perf.capture``; the batch's statements should not grow with N.
Besides the seconds on the clock each step prints the CPU seconds it cost this process and, on
a PostgreSQL server on this machine, the connection's server process (from /proc): on a shared,
loaded machine the clock counts the time spent waiting for a core, the CPU seconds do not.
The steps are timed inside their transactions: the commits are left out.
What it leaves out: submitting and processing (the payments through billing), the server's
background processes (WAL writer, checkpointer), and the network between the application and a
remote database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from engines import chunks, postgres_engine, sqlite_engine
from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice
from verenigingen.db.migrate import upgrade
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.members.models import Customer, Member
from verenigingen.perf.capture import capture
from verenigingen.sepa.batches import create_batch
from verenigingen.sepa.creditor import set_creditor
from verenigingen.sepa.models import SepaMandate
from verenigingen.sepa.pain008 import export_batch
from verenigingen.sepa.schemas import CreditorIn
from verenigingen.startup import load_subscribers

TODAY = dt.date(2026, 11, 16)
COLLECTION = dt.date(2026, 11, 18)
MORNING = dt.datetime(2026, 11, 16, 8, 0)
AMOUNT = Decimal("12.50")


def build(engine: Engine, count: int) -> int:
    """Migrate, insert ``count`` collectable members in bulk; the id of a treasurer."""
    upgrade(engine)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        user = create_user(session, "bench@example.org", Role.TREASURER)
        set_creditor(
            session,
            user,
            CreditorIn(
                name="Vereniging De Eendracht",
                iban="NL44RABO0123456789",
                creditor_identifier="NL51ZZZ405365330000",
            ),
        )
        connection = session.connection()
        numbers = range(1, count + 1)
        tables: list[tuple[type, Callable[[int], dict[str, Any]]]] = [
            (Customer, lambda i: {"id": i, "debtor_number": f"DEB-{i:06d}", "name": f"Lid {i}"}),
            (
                Member,
                lambda i: {
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
                },
            ),
            (
                SepaMandate,
                lambda i: {
                    "id": i,
                    "mandate_reference": f"M-{i}-20250101-001",
                    "member_id": i,
                    "account_holder": f"Lid {i}",
                    "iban": "NL91ABNA0417164300",
                    "bic": "ABNANL2A",
                    "sign_date": dt.date(2025, 1, 1),
                    "status": "Active",
                },
            ),
            (
                Invoice,
                lambda i: {
                    "id": i,
                    "number": f"INV-BENCH-{i:06d}",
                    "customer_id": i,
                    "member_id": i,
                    "posting_date": TODAY,
                    "due_date": dt.date(2026, 11, 30),
                    "grand_total": AMOUNT,
                    "outstanding_amount": AMOUNT,
                    "status": "Unpaid",
                    "docstatus": 1,
                },
            ),
        ]
        for model, row in tables:
            for rows in chunks([row(i) for i in numbers]):
                connection.execute(insert(model), rows)
        if engine.dialect.name == "postgresql":
            for table in ("customer", "member", "sepa_mandate", "invoice"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {count})")
                )
            connection.execute(text("ANALYZE"))
        return user.id


def server_cpu_seconds(session: Session) -> float | None:
    """CPU seconds the session's PostgreSQL server process has used, when it runs on this
    machine (its /proc entry is readable); None on SQLite or a remote server."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Timer:
    """The clock, this process's CPU and the server process's CPU over one unit of work."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> Timer:
        self.server_started = server_cpu_seconds(self.session)
        self.cpu_started = time.process_time()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self.started
        self.cpu = time.process_time() - self.cpu_started
        server_ended = server_cpu_seconds(self.session)
        self.server_cpu = (
            server_ended - self.server_started
            if server_ended is not None and self.server_started is not None
            else 0.0
        )


def measure(engine: Engine, count: int) -> dict[str, float]:
    user_id = build(engine, count)
    factory = make_session_factory(engine)
    with clock.frozen(TODAY):
        # The timer reads the server's CPU outside the capture; the commit is not timed.
        with (
            unit_of_work(factory) as session,
            Timer(session) as building,
            capture(detail=False) as log,
        ):
            user = session.get(User, user_id)
            assert user is not None
            batch = create_batch(session, user, COLLECTION, moment=MORNING)
            batch_id = batch.id
            assert batch.entry_count == count
            session.flush()
        build_statements = log.count
        with unit_of_work(factory) as session, Timer(session) as exporting:
            user = session.get(User, user_id)
            assert user is not None
            document = export_batch(session, user, batch_id)
    return {
        "build": building.seconds,
        "build_cpu": building.cpu,
        "build_server_cpu": building.server_cpu,
        "statements": build_statements,
        "export": exporting.seconds,
        "export_cpu": exporting.cpu,
        "export_server_cpu": exporting.server_cpu,
        "bytes": len(document),
    }


def report(
    label: str, engine_factory: Callable[[], AbstractContextManager[Engine]], sizes: list[int]
) -> None:
    for size in sizes:
        with engine_factory() as engine:
            figures = measure(engine, size)
        total = figures["build"] + figures["export"]
        cpu = sum(figures[key] for key in ("build_cpu", "export_cpu"))
        server = sum(figures[key] for key in ("build_server_cpu", "export_server_cpu"))
        print(
            f"{label}: {size:,} collections: built in {figures['build']:.2f} s "
            f"(CPU {figures['build_cpu']:.2f} s here, {figures['build_server_cpu']:.2f} s in "
            f"the server) with {figures['statements']:.0f} statements, exported and validated "
            f"in {figures['export']:.2f} s (CPU {figures['export_cpu']:.2f} s, "
            f"{figures['export_server_cpu']:.2f} s) ({figures['bytes'] / 1e6:.1f} MB); "
            f"{total:.2f} s in all (CPU {cpu + server:.2f} s), "
            f"{total / size * 1000:.3f} s per 1,000 collections"
        )


def main() -> None:
    load_subscribers()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--collections", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("VERENIGINGEN_TEST_POSTGRES_URL"),
        help="PostgreSQL server for a throw-away database (default: "
        "$VERENIGINGEN_TEST_POSTGRES_URL; skipped when unset)",
    )
    parser.add_argument(
        "--databases",
        choices=["both", "sqlite", "postgresql"],
        default="both",
        help="run on SQLite, on PostgreSQL, or on both (default)",
    )
    arguments = parser.parse_args()
    sizes = [arguments.small, arguments.collections]
    if arguments.databases != "postgresql":
        report("sqlite", sqlite_engine, sizes)
    if arguments.databases == "sqlite":
        return
    if arguments.postgres_url:
        report("postgresql", lambda: postgres_engine(arguments.postgres_url, "bench_sepa"), sizes)
    else:
        print("postgresql: skipped (no --postgres-url or VERENIGINGEN_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
