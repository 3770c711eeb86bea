"""What a page of ``GET /invoices`` and ``GET /members`` costs as the tables grow: paging by
number with a count (as every list did before keyset paging, on the schema without the list
indexes of migration 0015) against paging by cursor (on the schema with them).

Two databases of the same rows are grown side by side to each size: the *before* one has the
five list indexes dropped and is asked ``?offset=K&count=true``, the *after* one is asked
``?after=<cursor>``. Both apps run in this process, called over ASGI (no socket), requests
interleaved; a figure is the ``Server-Timing`` server time (database + app) of the median
request, and its database part, for the first page and for a page halfway down the table.

    .venv/bin/python bench/lists.py [--sizes 10000,50000,200000] [--requests 40] [--postgres URL]

Without ``--postgres`` the databases are SQLite files in a throw-away folder; with it, two
databases ``bench_lists_before`` and ``bench_lists_after`` are (re)created on that server.
Leaves out: the socket and uvicorn, filters (a customer's or a status's invoices are a range of
their own indexes), and lines (the bench's invoices have none, so the page's second statement
finds no rows).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, func, insert, select, text

from verenigingen.app_context import AppContext
from verenigingen.billing.models import DocStatus, Invoice, InvoiceStatus
from verenigingen.config import Settings
from verenigingen.members.models import Customer, Member
from verenigingen.web.app import create_app

BIN = Path(sys.executable).parent
LIST_INDEXES = {
    "ix_invoice_posting_date_id": "invoice",
    "ix_payment_posting_date_id": "payment",
    "ix_member_name": "member",
    "ix_membership_start_date_id": "membership",
    "ix_bank_statement_closing_date_id": "bank_statement",
}
CHUNK = 10_000
FIRST_DAY = dt.date(2024, 1, 1)


@dataclass
class Side:
    name: str
    url: str
    engine: Engine
    client: httpx.AsyncClient | None = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--postgres", help="a server URL (postgresql://user@host:port/db)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if args.postgres:
        urls = {name: _postgres_database(args.postgres, f"bench_lists_{name}") for name in SIDES}
    else:
        folder = Path(tempfile.mkdtemp(prefix="verenigingen-lists-"))
        urls = {name: f"sqlite:///{folder / name}.db" for name in SIDES}
    tokens = {name: _install(url) for name, url in urls.items()}
    before = Side("before", urls["before"], create_engine(_driver(urls["before"])))
    after = Side("after", urls["after"], create_engine(_driver(urls["after"])))
    with before.engine.begin() as connection:
        for index, table in LIST_INDEXES.items():
            connection.execute(text(f"DROP INDEX {index}" + _on(before, table)))
    dialect = before.engine.dialect.name
    print(f"GET /invoices and /members on {dialect}, {args.requests} requests per figure")
    print("before: ?offset=K&count=true without the list indexes; after: ?after=cursor")
    grown = 0
    for size in sizes:
        for side in (before, after):
            _grow(side.engine, grown, size)
        grown = size
        asyncio.run(measure(before, after, tokens, size, args.requests))


SIDES = ("before", "after")


def _driver(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _on(side: Side, table: str) -> str:
    return f" ON {table}" if side.engine.dialect.name == "mysql" else ""


def _postgres_database(server_url: str, name: str) -> str:
    admin = create_engine(_driver(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def _install(url: str) -> str:
    """``verenigingen init`` on ``url`` and an administrator's token."""
    environment = {**os.environ, "VERENIGINGEN_DATABASE_URL": _driver(url)}
    environment.pop("VERENIGINGEN_REDIS_URL", None)
    environment["VERENIGINGEN_DATA_DIR"] = tempfile.mkdtemp(prefix="verenigingen-lists-data-")
    cli = str(BIN / "verenigingen")
    subprocess.run(
        [cli, "init", "--admin-email", "admin@example.org"],
        check=True,
        stdout=subprocess.DEVNULL,
        env=environment,
    )
    return subprocess.run(
        [cli, "users", "token", "admin@example.org"],
        check=True,
        capture_output=True,
        text=True,
        env=environment,
    ).stdout.strip()


def _grow(engine: Engine, start: int, end: int) -> None:
    """Members ``start`` to ``end`` (one customer each) and as many submitted invoices."""
    with engine.begin() as connection:
        for low in range(start, end, CHUNK):
            numbers = range(low, min(low + CHUNK, end))
            customer_ids = (
                connection.execute(
                    insert(Customer).returning(Customer.id, sort_by_parameter_order=True),
                    [{"debtor_number": f"DEB-{n:07d}", "name": f"Klant {n}"} for n in numbers],
                )
                .scalars()
                .all()
            )
            connection.execute(
                insert(Member),
                [
                    {
                        "member_id": f"Assoc-Member-{n:07d}",
                        "first_name": f"Voornaam{n % 97}",
                        "last_name": f"Achternaam{(n * 7919) % 50_021}",
                        "email": f"lid{n}@example.org",
                        "customer_id": customer_id,
                    }
                    for n, customer_id in zip(numbers, customer_ids, strict=True)
                ],
            )
            connection.execute(
                insert(Invoice),
                [
                    {
                        "number": f"ACC-SINV-{n:07d}",
                        "customer_id": customer_id,
                        "posting_date": FIRST_DAY + dt.timedelta(days=(n * 31) % 730),
                        "due_date": FIRST_DAY + dt.timedelta(days=(n * 31) % 730 + 14),
                        "grand_total": Decimal("25.00"),
                        "outstanding_amount": Decimal("25.00"),
                        "status": InvoiceStatus.UNPAID.value,
                        "docstatus": DocStatus.SUBMITTED,
                    }
                    for n, customer_id in zip(numbers, customer_ids, strict=True)
                ],
            )
        connection.execute(text("ANALYZE"))  # the planner's statistics of the new size


def server_ms(response: httpx.Response) -> tuple[float, float]:
    """The request's server time and its database part (the ``Server-Timing`` header)."""
    assert response.status_code == 200, response.text
    parts = {
        part.strip().split(";")[0]: float(part.split("dur=")[1].split(";")[0])
        for part in response.headers["server-timing"].split(",")
    }
    return sum(parts.values()), parts["db"]


async def measure(
    before: Side, after: Side, tokens: dict[str, str], size: int, requests: int
) -> None:
    clients = {}
    for side in (before, after):
        context = AppContext.build(Settings(database_url=_driver(side.url)))
        clients[side.name] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(context)),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {tokens[side.name]}"},
        )
    with after.engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(Invoice)).scalar_one()
    halfway = size // 2
    for path in ("/api/v1/invoices", "/api/v1/members"):
        # The cursor of row ``halfway``: the after side walks there once, by cursor.
        cursor = await _cursor_at(clients["after"], path, halfway)
        cases = {
            "first page": ({"count": "true", "offset": "0"}, {}),
            "halfway": ({"count": "true", "offset": str(halfway)}, {"after": cursor}),
        }
        for case, (old, new) in cases.items():
            times: dict[str, list[float]] = {"before": [], "after": []}
            database: dict[str, list[float]] = {"before": [], "after": []}
            for _ in range(3):  # warm both
                await clients["before"].get(path, params=old)
                await clients["after"].get(path, params=new)
            for index in range(requests):
                order = ("before", "after") if index % 2 else ("after", "before")
                for name in order:
                    params = old if name == "before" else new
                    total, db = server_ms(await clients[name].get(path, params=params))
                    times[name].append(total)
                    database[name].append(db)
            old_ms, new_ms = (statistics.median(times[name]) for name in ("before", "after"))
            old_db, new_db = (statistics.median(database[name]) for name in ("before", "after"))
            print(
                f"{rows:>8,} rows {path:<17} {case:<10} before {old_ms:8.2f} ms (db {old_db:7.2f})"
                f"  after {new_ms:6.2f} ms (db {new_db:5.2f})  before/after {old_ms / new_ms:6.1f}x"
            )
    for client in clients.values():
        await client.aclose()


async def _cursor_at(client: httpx.AsyncClient, path: str, row: int) -> str:
    cursor: str | None = None
    walked = 0
    while walked < row:
        params = {"limit": str(min(500, row - walked))}
        if cursor is not None:
            params["after"] = cursor
        page = (await client.get(path, params=params)).json()
        walked += len(page["items"])
        cursor = page["next_cursor"]
        assert cursor is not None
    assert cursor is not None
    return cursor


if __name__ == "__main__":
    main()
