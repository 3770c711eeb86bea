"""Raw Huey against tracked jobs, on the same backend in the same run.

    .venv/bin/python bench/jobs.py [--jobs 5000] [--rounds 5]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6379/15]

Two shapes: SQLite + SqliteHuey (always), and PostgreSQL + Redis when both URLs are given (or
VERENIGINGEN_TEST_POSTGRES_URL / VERENIGINGEN_TEST_REDIS_URL are set). For each: N no-op jobs and
N jobs that write one row, enqueued one per transaction, then run by one consumer loop in this
process, in ``--rounds`` rounds that alternate raw and tracked (which goes first too); figures
are medians over the rounds. Raw: a Huey task called directly, on a Huey configured as the
engine's (for SQLite: the same storage settings); the write-row task commits its row. Tracked:
``jobs.enqueue`` + commit (row, after-commit dispatch), then the worker's own consumer path
(``consumer.run_next_group``: claim, run, result, status and notification, several waiting jobs
to a transaction where the database allows it, jobs.worker), with the worker's heartbeat thread
beside it (jobs.heartbeat: it renews leases and sweeps every 5 s, at its start too). Prints
throughput, per-job overhead and enqueue (+ commit) latency p50/p95, the ratios and the goals.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.config import Settings
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import upgrade
from verenigingen.db.scratch import throwaway_database
from verenigingen.db.session import make_session_factory
from verenigingen.jobs import enqueue, job
from verenigingen.jobs.consumer import run_next_group
from verenigingen.jobs.engine import JobEngine, sqlite_huey
from verenigingen.jobs.models import Queue
from verenigingen.jobs.outbox import JOB_ENGINE_KEY
from verenigingen.jobs.worker import Runtime
from verenigingen.startup import load_subscribers

bench_rows = Table(
    "bench_row", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer)
)
_db: Engine | None = None  # the raw tasks' database (set per shape)


@job("bench.noop", queue="short")
def tracked_noop(session: Session, user: User, *, n: int) -> None:
    return None


@job("bench.write_row", queue="short")
def tracked_write_row(session: Session, user: User, *, n: int) -> None:
    session.execute(insert(bench_rows).values(n=n))


def raw_noop(n: int) -> None:
    return None


def raw_write_row(n: int) -> None:
    assert _db is not None
    with _db.begin() as connection:
        connection.execute(insert(bench_rows).values(n=n))


@dataclass
class Measured:
    """One side (raw or tracked) of one kind, over all rounds."""

    round_seconds: list[float] = field(default_factory=list)
    round_jobs: list[int] = field(default_factory=list)
    enqueue_ms: list[float] = field(default_factory=list)

    def add(self, jobs: int, seconds: float, enqueue_ms: list[float]) -> None:
        self.round_jobs.append(jobs)
        self.round_seconds.append(seconds)
        self.enqueue_ms.extend(enqueue_ms)

    def ms_per_job(self) -> float:
        """The median over the rounds: one round slowed by the machine's other work (an fsync
        that waits behind someone else's writes) moves it less than it moves a total."""
        rounds = zip(self.round_seconds, self.round_jobs, strict=True)
        return statistics.median(seconds / jobs * 1000 for seconds, jobs in rounds)

    def throughput(self) -> float:
        return 1000 / self.ms_per_job()

    def p(self, q: int) -> float:
        return statistics.quantiles(self.enqueue_ms, n=100)[q - 1]


def measure_raw(task: Any, huey: Huey, start: int, jobs: int, into: Measured) -> None:
    latencies = []
    for n in range(start, start + jobs):
        started = time.perf_counter()
        task(n)
        latencies.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    while (message := huey.dequeue()) is not None:
        huey.execute(message)
    into.add(jobs, time.perf_counter() - started, latencies)


def measure_tracked(
    factory: sessionmaker[Session],
    runtime: Runtime,
    user: User,
    engine: JobEngine,
    name: str,
    start: int,
    jobs: int,
    into: Measured,
) -> None:
    latencies = []
    for n in range(start, start + jobs):  # the factory's sessions hand their jobs to ``engine``
        started = time.perf_counter()
        with factory() as session, session.begin():
            enqueue(session, name, user=user, n=n)
        latencies.append((time.perf_counter() - started) * 1000)
    # As in a worker process: its heartbeat renews the leases and sweeps beside the consumer.
    heartbeat = runtime.heartbeat()
    started = time.perf_counter()
    heartbeat.start()
    while run_next_group(runtime, engine, (Queue.SHORT,)) is not None:
        pass
    heartbeat.stop()
    into.add(jobs, time.perf_counter() - started, latencies)


@contextlib.contextmanager
def sqlite_shape(directory: Path) -> Iterator[tuple[Engine, Callable[[str], Huey], JobEngine]]:
    db = make_engine(f"sqlite:///{directory / 'bench.db'}")
    jobs_file = str(directory / "jobs.db")
    try:
        yield (
            db,
            # The product's SqliteHuey (same storage settings), so raw and tracked share a backend.
            lambda name: sqlite_huey(name, jobs_file),
            JobEngine.sqlite(jobs_file, f"bench{uuid.uuid4().hex[:6]}"),
        )
    finally:
        db.dispose()


@contextlib.contextmanager
def server_shape(
    pg: str, redis_url: str
) -> Iterator[tuple[Engine, Callable[[str], Huey], JobEngine]]:
    with throwaway_database(pg, "bench_jobs") as url:
        db = make_engine(url)
        namespace = f"bench{uuid.uuid4().hex[:6]}"
        engine = JobEngine.redis(redis_url, namespace)
        try:
            yield (
                db,
                lambda n: RedisHuey(
                    f"{namespace}{n}", url=redis_url, results=False, blocking=False
                ),
                engine,
            )
        finally:
            engine.flush()
            db.dispose()


def run_shape(label: str, shape: Any, jobs: int, rounds: int, directory: Path) -> dict[str, float]:
    global _db
    print(
        f"\n## {label}: {jobs:,} jobs of each kind, one consumer loop in this process,"
        f" {rounds} rounds alternating raw and tracked (medians of the rounds)"
    )
    print(f"{'kind':<10} {'':<8} {'jobs/s':>9} {'ms/job':>8} {'enqueue p50':>12} {'p95':>8}")
    figures: dict[str, float] = {}
    with shape as (db, make_huey, engine):
        _db = db
        upgrade(db)
        bench_rows.create(db)
        factory = make_session_factory(db, info={JOB_ENGINE_KEY: engine})
        with factory() as session, session.begin():
            create_user(session, "bench@example.org", Role.ADMINISTRATOR)
        with factory() as session, session.begin():
            user = session.get(User, 1)
        assert user is not None
        settings = Settings(data_dir=directory)
        runtime = Runtime(factory, settings, worker_id="bench:1")
        for kind, raw_function, tracked_name in (
            ("no-op", raw_noop, "bench.noop"),
            ("write-row", raw_write_row, "bench.write_row"),
        ):
            huey = make_huey(f"raw{kind}")
            task = huey.task(retries=0, name=f"raw_{raw_function.__name__}")(raw_function)
            raw, tracked = Measured(), Measured()
            per_round = jobs // rounds
            for number in range(rounds):
                start = number * per_round
                # Both sides in every round, in turns first, so that neither always runs
                # while the machine is busier (a checkpoint, another process's writes).
                for side in ("raw", "tracked") if number % 2 == 0 else ("tracked", "raw"):
                    if side == "raw":
                        measure_raw(task, huey, start, per_round, raw)
                    else:
                        measure_tracked(
                            factory, runtime, user, engine, tracked_name, start, per_round, tracked
                        )
            for which, m in (("raw", raw), ("tracked", tracked)):
                print(
                    f"{kind:<10} {which:<8} {m.throughput():>9,.0f} {m.ms_per_job():>8.3f}"
                    f" {m.p(50):>10.3f}ms {m.p(95):>6.3f}ms"
                )
            ratio = tracked.throughput() / raw.throughput()
            overhead = tracked.ms_per_job() - raw.ms_per_job()
            print(
                f"{kind:<10} tracked/raw throughput {ratio:.1%}; overhead {overhead:.3f} ms/job;"
                f" enqueue+commit p50 {tracked.p(50):.3f} ms (raw enqueue {raw.p(50):.3f} ms)"
            )
            figures[f"{kind}.ratio"] = ratio
            figures[f"{kind}.enqueue_p50"] = tracked.p(50)
        engine.close()
    return figures


def main() -> None:
    load_subscribers()  # as every entry point does: the services record events
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres-url", default=os.environ.get("VERENIGINGEN_TEST_POSTGRES_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("VERENIGINGEN_TEST_REDIS_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        sqlite = run_shape(
            "SQLite + SqliteHuey",
            sqlite_shape(Path(directory)),
            args.jobs,
            args.rounds,
            Path(directory),
        )
        server = None
        if args.postgres_url and args.redis_url:
            server = run_shape(
                "PostgreSQL + Redis",
                server_shape(args.postgres_url, args.redis_url),
                args.jobs,
                args.rounds,
                Path(directory),
            )
    print("\n## Goals")
    p50 = sqlite["no-op.enqueue_p50"]
    verdict = "met" if p50 <= 2 else "NOT met"
    print(f"enqueue + commit p50 <= 2 ms on SQLite: {p50:.3f} ms -> {verdict}")
    if server is None:
        print("tracked >= 50% of raw throughput on Redis + PostgreSQL: not run (no URLs given)")
    else:
        for kind in ("no-op", "write-row"):
            ratio = server[f"{kind}.ratio"]
            verdict = "met" if ratio >= 0.5 else "NOT met"
            print(f"tracked >= 50% of raw on Redis + PostgreSQL ({kind}): {ratio:.1%} -> {verdict}")


if __name__ == "__main__":
    main()
