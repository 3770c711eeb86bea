"""Process a direct-debit batch of N collections, then import a pain.002 rejecting R of them.

    .venv/bin/python bench/sepa_returns.py [--collections 2000] [--small 200] [--reject-share 0.1]
        [--reason AM04] [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--databases both]

Each size runs on a fresh SQLite file, and on a throw-away PostgreSQL database when
--postgres-url (or VERENIGINGEN_TEST_POSTGRES_URL) is given: N members with an active mandate
and one submitted Unpaid invoice each (bench/sepa.py's ``build``), a batch created, exported and
submitted (not timed), then timed apart: ``process_batch`` (one payment per entry through billing,
chunks of 500) and ``import_status_report`` of a pain.002 that rejects every tenth entry with
``--reason`` (AM04: each payment cancelled through billing, the reason on the entry and usage, a
retry scheduled; a stop code such as AC04 suspends the mandates too and notifies). Statements
come from ``perf.capture``; the clock, this process's CPU and the PostgreSQL server process's
CPU from bench/sepa.py's ``Timer`` (inside the transaction: the commit is left out). The side by
side is the two sizes: statements and seconds per entry or per reject should stay flat as N
grows; on a loaded machine the CPU seconds tell it better than the clock.
What it leaves out: follow-up jobs (queued, not run), the server's background processes, and
the network between the application and a remote database.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import Engine, select

from engines import postgres_engine, sqlite_engine
from sepa import COLLECTION, MORNING, TODAY, Timer, build
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


def pain_002(message_id: str, end_to_end_ids: list[str], reason: str = "AM04") -> bytes:
    transactions = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>RJCT</TxSts>"
        f"<StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf></TxInfAndSts>"
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


def measure(engine: Engine, count: int, reject_share: float, reason: str) -> dict[str, float]:
    user_id = build(engine, count)
    factory = make_session_factory(engine)
    with clock.frozen(TODAY):
        with unit_of_work(factory) as session:
            user = session.get_one(User, user_id)
            batch = create_batch(session, user, COLLECTION, moment=MORNING)
            export_batch(session, user, batch.id)
            submit_batch(session, user, batch.id)
            batch_id, message_id = batch.id, batch.message_id
        with (
            unit_of_work(factory) as session,
            Timer(session) as processing,
            capture(detail=False) as processed,
        ):
            process_batch(session, session.get_one(User, user_id), batch_id)
            session.flush()
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
        document = pain_002(message_id, rejected, reason)
        with (
            unit_of_work(factory) as session,
            Timer(session) as importing,
            capture(detail=False) as imported,
        ):
            outcome = import_status_report(session, session.get_one(User, user_id), document)
            session.flush()
        assert outcome.tally.invoices_reopened == len(rejected)
    return {
        "processed": processing.seconds,
        "process_cpu": processing.cpu + processing.server_cpu,
        "process_statements": processed.count,
        "rejects": len(rejected),
        "imported": importing.seconds,
        "import_cpu": importing.cpu + importing.server_cpu,
        "import_statements": imported.count,
        "mandates_stopped": outcome.tally.mandates_stopped + outcome.tally.mandates_invalidated,
    }


def report(
    label: str,
    engine_factory: Callable[[], AbstractContextManager[Engine]],
    sizes: list[int],
    reject_share: float,
    reason: str,
) -> list[dict[str, float]]:
    results = []
    for size in sizes:
        with engine_factory() as engine:
            figures = measure(engine, size, reject_share, reason)
        results.append(figures)
        rejects = figures["rejects"]
        print(
            f"{label}: {size:,} collections processed in {figures['processed']:.2f} s "
            f"(CPU {figures['process_cpu']:.2f} s) with {figures['process_statements']:.0f} "
            f"statements ({figures['processed'] / size * 1000:.2f} s, CPU "
            f"{figures['process_cpu'] / size * 1000:.2f} s per 1,000); a pain.002 of "
            f"{rejects:,.0f} {reason} rejects ({figures['mandates_stopped']:,.0f} mandates "
            f"stopped) imported in {figures['imported']:.2f} s (CPU {figures['import_cpu']:.2f} "
            f"s) with {figures['import_statements']:.0f} statements "
            f"({figures['import_statements'] / rejects:.2f} per reject, "
            f"{figures['imported'] / rejects * 1000:.2f} s, CPU "
            f"{figures['import_cpu'] / rejects * 1000:.2f} s per 1,000 rejects)"
        )
    small, large = results

    def per_reject(figures: dict[str, float], key: str) -> float:
        return figures[key] / figures["rejects"]

    statements = per_reject(large, "import_statements") / per_reject(small, "import_statements")
    seconds = per_reject(large, "imported") / per_reject(small, "imported")
    cpu = per_reject(large, "import_cpu") / per_reject(small, "import_cpu")
    print(
        f"{label}: per reject, large/small: statements {statements:.2f}, seconds {seconds:.2f}, "
        f"CPU seconds {cpu:.2f}"
    )
    return results


def main() -> None:
    load_all(get_settings())
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--collections", type=int, default=2_000)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--reject-share", type=float, default=0.1)
    parser.add_argument("--reason", default="AM04", help="the reason code of every reject")
    parser.add_argument(
        "--databases",
        choices=["both", "sqlite", "postgresql"],
        default="both",
        help="run on SQLite, on PostgreSQL, or on both (default)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("VERENIGINGEN_TEST_POSTGRES_URL"),
        help="PostgreSQL server for a throw-away database (default: "
        "$VERENIGINGEN_TEST_POSTGRES_URL; skipped when unset)",
    )
    arguments = parser.parse_args()
    sizes = [arguments.small, arguments.collections]
    if arguments.databases != "postgresql":
        report("sqlite", sqlite_engine, sizes, arguments.reject_share, arguments.reason)
    if arguments.databases == "sqlite":
        return
    if arguments.postgres_url:
        report(
            "postgresql",
            lambda: postgres_engine(arguments.postgres_url, "bench_returns"),
            sizes,
            arguments.reject_share,
            arguments.reason,
        )
    else:
        print("postgresql: skipped (no --postgres-url or VERENIGINGEN_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
