"""Import and reconcile a camt.053 of N lines against 2,000 open invoices; lines per second and
statements per 1,000 lines.

    .venv/bin/python bench/bank.py [--lines 10000] [--small 1000] [--invoices 2000]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]

Each size runs on a fresh SQLite file, and on a throw-away PostgreSQL database when
--postgres-url (or VERENIGINGEN_TEST_POSTGRES_URL) is given: 2,000 members, each with an IBAN, a
name and one submitted Unpaid invoice, inserted in bulk; then one camt.053 of N credit lines,
built in memory, is imported (``import_statement_file``, one transaction) and reconciled
(``reconcile_open_lines``, one transaction), each timed apart. Line k pays member k mod 2,000 in
turn by invoice number and amount (0.95), by IBAN and amount (0.90), by name and amount (0.60,
review) or is a gift (review): the first 2,000 lines pay half the invoices, every later line
waits in review (its invoice is paid, or it was never sure). Each size runs ``--repeat`` times
on a fresh database; the medians are printed. Statements come from ``perf.capture``; per 1,000
lines they should not grow with N.

What it leaves out: parsing an MT940 file (the camt.053 path only), SEPA batch lines and
returns, the network between the application and a remote database, the jobs the payments
enqueue (the outbox rows are written; no worker runs them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

from schwifty import IBAN
from sqlalchemy import Engine, insert, text

from engines import chunks, postgres_engine, sqlite_engine
from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.bank.reconcile import reconcile_open_lines
from verenigingen.bank.service import add_account, import_statement_file
from verenigingen.billing.models import Invoice
from verenigingen.db.migrate import upgrade
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.members.models import Customer, Member
from verenigingen.perf.capture import capture
from verenigingen.startup import load_subscribers

TODAY = dt.date(2026, 11, 16)
ACCOUNT = "NL20INGB0001234567"


def nl_iban(number: int) -> str:
    """A Dutch IBAN of the made-up bank ``BENC`` with valid check digits."""
    return str(IBAN.generate("NL", bank_code="BENC", account_code=f"{number:010d}"))


def amount_of(member: int) -> Decimal:
    return Decimal(10 + member % 50) + Decimal("0.50")


def invoice_number(member: int) -> str:
    return f"ACC-SINV-2026-{member:05d}"


def build(engine: Engine, invoices: int) -> int:
    """Migrate; the account and ``invoices`` members with an open invoice each; a treasurer."""
    upgrade(engine)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        user = create_user(session, "bench@example.org", Role.TREASURER)
        add_account(session, user, ACCOUNT)
        connection = session.connection()
        numbers = range(1, invoices + 1)
        tables: list[tuple[type, Callable[[int], dict[str, Any]]]] = [
            (Customer, lambda i: {"id": i, "debtor_number": f"DEB-{i:06d}", "name": f"Lid {i}"}),
            (
                Member,
                lambda i: {
                    "id": i,
                    "member_id": f"BENCH-{i:06d}",
                    "first_name": "Jan",
                    "last_name": f"Lid{i:05d}",
                    "email": f"lid{i}@example.org",
                    "status": "Active",
                    "application_status": "Approved",
                    "payment_method": "Bank Transfer",
                    "iban": nl_iban(i),
                    "customer_id": i,
                    "member_since": TODAY,
                },
            ),
            (
                Invoice,
                lambda i: {
                    "id": i,
                    "number": invoice_number(i),
                    "customer_id": i,
                    "member_id": i,
                    "posting_date": TODAY,
                    "due_date": dt.date(2026, 11, 30),
                    "grand_total": amount_of(i),
                    "outstanding_amount": amount_of(i),
                    "status": "Unpaid",
                    "docstatus": 1,
                },
            ),
        ]
        for model, row in tables:
            for rows in chunks([row(i) for i in numbers]):
                connection.execute(insert(model), rows)
        if engine.dialect.name == "postgresql":
            for table in ("customer", "member", "invoice"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {invoices})")
                )
            connection.execute(text("ANALYZE"))
        return user.id


def statement(lines: int, invoices: int) -> bytes:
    """A balanced camt.053 of ``lines`` credits, paying the members in turn four ways."""
    entries = []
    total = Decimal("0.00")
    for k in range(lines):
        member = k % invoices + 1
        amount = amount_of(member)
        name, iban, remittance = "", "", "gift"
        kind = k % 4
        if kind == 0:
            remittance = f"Contributie {invoice_number(member)}"
        elif kind == 1:
            iban, remittance = nl_iban(member), "contributie"
        elif kind == 2:
            name, remittance = f"Jan Lid{member:05d}", "lidmaatschap"
        total += amount
        entries.append(
            f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
            f"<BookgDt><Dt>2026-11-16</Dt></BookgDt><AcctSvcrRef>B-{k}</AcctSvcrRef>"
            f"<NtryDtls><TxDtls><RltdPties><Dbtr><Nm>{name}</Nm></Dbtr><DbtrAcct><Id>"
            f"<IBAN>{iban}</IBAN></Id></DbtrAcct></RltdPties><RmtInf><Ustrd>{remittance}"
            "</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        )
    return (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<Stmt><Id>BENCH-1</Id><Acct><Id><IBAN>{ACCOUNT}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-15</Dt></Dt></Bal>"
        f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{total}</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-16</Dt></Dt></Bal>{''.join(entries)}"
        "</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def measure(engine: Engine, lines: int, invoices: int) -> dict[str, float]:
    user_id = build(engine, invoices)
    document = statement(lines, invoices)
    factory = make_session_factory(engine)
    with clock.frozen(TODAY):
        started = time.perf_counter()
        with capture(detail=False) as imported, unit_of_work(factory) as session:
            user = session.get(User, user_id)
            assert user is not None
            result = import_statement_file(session, user, document)
            assert result.lines_added == lines
        import_seconds = time.perf_counter() - started
        started = time.perf_counter()
        with capture(detail=False) as reconciled, unit_of_work(factory) as session:
            user = session.get(User, user_id)
            assert user is not None
            outcome = reconcile_open_lines(session, user)
        reconcile_seconds = time.perf_counter() - started
    assert outcome.allocated + outcome.review == lines
    return {
        "import": import_seconds,
        "import_statements": imported.count,
        "reconcile": reconcile_seconds,
        "reconcile_statements": reconciled.count,
        "allocated": outcome.allocated,
        "review": outcome.review,
        "megabytes": len(document) / 1e6,
    }


def report(
    label: str,
    engine_factory: Callable[[], AbstractContextManager[Engine]],
    sizes: list[int],
    invoices: int,
    repeat: int,
) -> None:
    for size in sizes:
        runs = []
        for _ in range(repeat):
            with engine_factory() as engine:
                runs.append(measure(engine, size, invoices))
        f = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        per_thousand = 1000 / size
        print(
            f"{label}: {size:,} lines ({f['megabytes']:.1f} MB) against {invoices:,} invoices, "
            f"median of {repeat}: "
            f"import {f['import']:.2f} s ({size / f['import']:,.0f} lines/s, "
            f"{f['import_statements']:.0f} statements, "
            f"{f['import_statements'] * per_thousand:.1f} per 1,000 lines); "
            f"reconcile {f['reconcile']:.2f} s ({size / f['reconcile']:,.0f} lines/s, "
            f"{f['reconcile_statements']:.0f} statements, "
            f"{f['reconcile_statements'] * per_thousand:.1f} per 1,000 lines; "
            f"{f['allocated']:,.0f} paid, {f['review']:,.0f} to review)"
        )


def main() -> None:
    load_subscribers()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--invoices", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (the median)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("VERENIGINGEN_TEST_POSTGRES_URL"),
        help="PostgreSQL server for a throw-away database (default: "
        "$VERENIGINGEN_TEST_POSTGRES_URL; skipped when unset)",
    )
    arguments = parser.parse_args()
    sizes = [arguments.small, arguments.lines]
    report("sqlite", sqlite_engine, sizes, arguments.invoices, arguments.repeat)
    if arguments.postgres_url:
        report(
            "postgresql",
            lambda: postgres_engine(arguments.postgres_url, "bench_bank"),
            sizes,
            arguments.invoices,
            arguments.repeat,
        )
    else:
        print("postgresql: skipped (no --postgres-url or VERENIGINGEN_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
