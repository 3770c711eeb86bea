"""Process a direct-debit batch of N collections, then import a pain.002 rejecting R of them.

    .venv/bin/python bench/sepa_returns.py [--collections 2000] [--small 200] [--reject-share 0.1]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]

Each size runs on a fresh SQLite file, and on a throw-away PostgreSQL database when
--postgres-url (or VERENIGINGEN_TEST_POSTGRES_URL) is given: N members with an active mandate
and one submitted Unpaid invoice each (bench/sepa.py's ``build``), a batch created, exported and
submitted (not timed), then timed apart: ``process_batch`` (one payment per entry through billing,
chunks of 500) and ``import_status_report`` of a pain.002 that rejects every tenth entry with
AM04 (each payment cancelled through billing, the reason on the entry and usage, a retry
scheduled). Statements come from ``perf.capture``. The side by side is the two sizes: statements
and seconds per entry or per reject should stay flat as N grows.
What it leaves out: mandate actions (AM04 leaves the mandate alone; a stopped mandate adds a
lock, an update and a notification per reject), follow-up jobs (queued, not run), and the
network between the application and a remote database.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import Engine, select

from engines import postgres_engine, sqlite_engine
from sepa import COLLECTION, MORNING, TODAY, build
from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.config import get_settings
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.perf.capture import capture
from verenigingen.sepa.batches import create_batch, process_batch, submit_batch
from verenigingen.sepa.models import DirectDebitBatch, DirectDebitEntry
from verenigingen.sepa.pain008 import export_batch
from verenigingen.sepa.returns import import_status_report
from verenigingen.startup import load_all


def pain_002(message_id: str, end_to_end_ids: list[str]) -> bytes:
    transactions = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>RJCT</TxSts>"
        "<StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf></TxInfAndSts>"
        for e2e in end_to_end_ids
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>'
        "<GrpHdr><MsgId>BENCH-STS</MsgId><CreDtTm>2026-11-19T10:00:00</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{message_id}</OrgnlMsgId>"
        "<OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId><GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>"
        f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>{message_id}-RCUR</OrgnlPmtInfId>{transactions}"
        "</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
    ).encode()


def measure(engine: Engine, count: int, reject_share: float) -> dict[str, float]:
    user_id = build(engine, count)
    factory = make_session_factory(engine)
    with clock.frozen(TODAY):
        with unit_of_work(factory) as session:
            user = session.get_one(User, user_id)
            batch = create_batch(session, user, COLLECTION, moment=MORNING)
            export_batch(session, user, batch.id)
            submit_batch(session, user, batch.id)
            batch_id, message_id = batch.id, batch.message_id
        started = time.perf_counter()
        with capture(detail=False) as processing, unit_of_work(factory) as session:
            process_batch(session, session.get_one(User, user_id), batch_id)
        processed = time.perf_counter() - started
        with unit_of_work(factory) as session:
            ids = list(
                session.scalars(
                    select(DirectDebitEntry.end_to_end_id)
                    .where(DirectDebitEntry.batch_id == batch_id)
                    .order_by(DirectDebitEntry.id)
                )
            )
            assert session.get_one(DirectDebitBatch, batch_id).status == "Processed"
        step = max(1, round(1 / reject_share))
        rejected = ids[::step]
        document = pain_002(message_id, rejected)
        started = time.perf_counter()
        with capture(detail=False) as importing, unit_of_work(factory) as session:
            outcome = import_status_report(session, session.get_one(User, user_id), document)
        imported = time.perf_counter() - started
        assert outcome.tally.invoices_reopened == len(rejected)
    return {
        "processed": processed,
        "process_statements": processing.count,
        "rejects": len(rejected),
        "imported": imported,
        "import_statements": importing.count,
    }


def report(
    label: str,
    engine_factory: Callable[[], AbstractContextManager[Engine]],
    sizes: list[int],
    reject_share: float,
) -> list[dict[str, float]]:
    results = []
    for size in sizes:
        with engine_factory() as engine:
            figures = measure(engine, size, reject_share)
        results.append(figures)
        rejects = figures["rejects"]
        print(
            f"{label}: {size:,} collections processed in {figures['processed']:.2f} s with "
            f"{figures['process_statements']:.0f} statements "
            f"({figures['processed'] / size * 1000:.2f} s per 1,000); a pain.002 of "
            f"{rejects:,.0f} rejects imported in {figures['imported']:.2f} s with "
            f"{figures['import_statements']:.0f} statements "
            f"({figures['import_statements'] / rejects:.1f} per reject, "
            f"{figures['imported'] / rejects * 1000:.2f} s per 1,000 rejects)"
        )
    small, large = results

    def per_reject(figures: dict[str, float], key: str) -> float:
        return figures[key] / figures["rejects"]

    statements = per_reject(large, "import_statements") / per_reject(small, "import_statements")
    seconds = per_reject(large, "imported") / per_reject(small, "imported")
    print(f"{label}: per reject, large/small: statements {statements:.2f}, seconds {seconds:.2f}")
    return results


def main() -> None:
    load_all(get_settings())
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--collections", type=int, default=2_000)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--reject-share", type=float, default=0.1)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("VERENIGINGEN_TEST_POSTGRES_URL"),
        help="PostgreSQL server for a throw-away database (default: "
        "$VERENIGINGEN_TEST_POSTGRES_URL; skipped when unset)",
    )
    arguments = parser.parse_args()
    sizes = [arguments.small, arguments.collections]
    report("sqlite", sqlite_engine, sizes, arguments.reject_share)
    if arguments.postgres_url:
        report(
            "postgresql",
            lambda: postgres_engine(arguments.postgres_url, "bench_returns"),
            sizes,
            arguments.reject_share,
        )
    else:
        print("postgresql: skipped (no --postgres-url or VERENIGINGEN_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
