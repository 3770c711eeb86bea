"""A national association on PostgreSQL: load N members with a year of dues, payments and
mandates in bulk, then time the payment history, every list and the members search, then the
next month's dues run with two workers; the figures of each size are kept, and a table and a
chart of cost against size are written from them.

    nice -n 10 .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000 | --members N]
        [--server postgresql://postgres@127.0.0.1:5432/postgres]
        [--database verenigingen_scale] [--redis redis://127.0.0.1:6379/9]
        [--samples 100] [--requests 20] [--dues-limit SECONDS] [--skip-requests] [--skip-dues]
        [--keep]

For each size: the database ``verenigingen_scale`` is dropped and made again on the server, the
project's migrations run on it, and ``scale_loader`` copies the rows in (see its docstring for
what they hold and leave out); the months' payment analytics are computed by the app's own
``history.analytics.update_months`` and ``ANALYZE`` ends the load. ``scale_measure``, in a
process of its own (as an API process is: not the one that generated the rows), then times the
requests on the loaded association. Last, two ``dues.generate`` jobs for the day after the
loaded year (every monthly schedule, and the quarterly and annual ones whose period starts
then) are queued and a real ``verenigingen worker --workers 2 --queues long`` (Redis in the
database of ``--redis``, in a namespace of the run's own) works them off; the figure is the time
from the workers' start until both jobs have ended, and apart the first job's start to the last
one's end; with ``--dues-limit`` the workers are stopped after that many seconds and the
invoices the run had billed are counted (each batch of the run commits). The workers are then
stopped (the follow-up jobs the run queued stay Queued). The database is dropped at the end
unless ``--keep`` is given.

The figures of every size measured so far are kept in ``bench/scale_results.json``, saved after
each stage (a size measured again replaces its entry); the markdown table is printed and the
chart of cost against size written to ``docs/scale_chart.svg`` from them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

from scale_loader import AS_OF, FIRST_MONTH, MONTHS, ScaleLoader
from scale_report import markdown_table, write_chart
from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user, issue_token, set_password
from verenigingen.billing.models import Invoice
from verenigingen.clock import add_months
from verenigingen.config import Settings
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import upgrade
from verenigingen.db.session import unit_of_work
from verenigingen.demo.sign_in import DEMO_PASSWORD
from verenigingen.dues.models import DuesSchedule, ScheduleStatus
from verenigingen.history.analytics import update_months
from verenigingen.jobs import enqueue
from verenigingen.jobs.models import ACTIVE_STATUSES, Job
from verenigingen.startup import load_all

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATABASE = "verenigingen_scale"
RESULTS = ROOT / "bench" / "scale_results.json"
CHART = ROOT / "docs" / "scale_chart.svg"
ADMIN = "admin@example.org"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--sizes", help="several sizes, e.g. 10000,100000,1000000")
    parser.add_argument(
        "--server",
        default=os.environ.get(
            "VERENIGINGEN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--database", default=DATABASE, help="the database made for the run")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--samples", type=int, default=100, help="members whose history is read")
    parser.add_argument("--requests", type=int, default=20, help="requests per list figure")
    parser.add_argument(
        "--dues-limit", type=float, help="stop the dues run after this many seconds"
    )
    parser.add_argument(
        "--dues-batch",
        type=int,
        help="schedules per committed batch of the dues run (the task's default)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="the figures kept per size")
    parser.add_argument("--chart", type=Path, default=CHART, help="the SVG chart written")
    parser.add_argument(
        "--skip-requests",
        action="store_true",
        help="load and run the dues only; the requests' figures kept from an earlier run",
    )
    parser.add_argument(
        "--skip-dues",
        action="store_true",
        help="load and time the requests only; the dues run's figures kept from an earlier run",
    )
    parser.add_argument("--keep", action="store_true", help="keep the last size's database")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")] if args.sizes else [args.members]
    load_all(Settings())  # the task registry, for enqueue, and the subscribers
    for index, size in enumerate(sizes):
        keep = args.keep and index == len(sizes) - 1
        run_size(
            size, args, lambda figures, size=size: _save(args.results, size, figures), keep=keep
        )
    results = _load_results(args.results)
    print(markdown_table(results))
    write_chart(results, args.chart)
    print(f"chart: {args.chart}")


def run_size(
    size: int, args: argparse.Namespace, save: Callable[[dict[str, Any]], None], *, keep: bool
) -> dict[str, Any]:
    """Load, then the requests, then the dues run; the figures are saved after each stage."""
    print(f"== {size:,} members, {MONTHS} months from {FIRST_MONTH}, as of {AS_OF}", flush=True)
    figures: dict[str, Any] = {"members": size, "measured_at": dt.datetime.now(dt.UTC).isoformat()}
    url = _fresh_database(args.server, args.database)
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        started = time.perf_counter()
        counts = ScaleLoader(url, size).load()
        rows_done = time.perf_counter()
        # A namespace of this run's own in Redis: no other run's job messages reach its workers.
        namespace = f"verenigingen-scale-{uuid.uuid4().hex[:10]}"
        settings = Settings(database_url=url, redis_url=args.redis, jobs_namespace=namespace)
        context = AppContext.build(settings)
        with unit_of_work(context.sessions) as session:
            update_months(
                session, [f"{add_months(FIRST_MONTH, month):%Y-%m}" for month in range(MONTHS)]
            )
        analytics_done = time.perf_counter()
        with context.database.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        ended = time.perf_counter()
        figures["load"] = {
            **asdict(counts),
            "rows": counts.rows,
            "seconds": {
                **counts.seconds,
                "analytics": analytics_done - rows_done,
                "analyze": ended - analytics_done,
                "total": ended - started,
            },
        }
        print(f"load: {counts.rows:,} rows in {ended - started:.1f} s {figures['load']['seconds']}")
        save(figures)
        token, admin_id = _administrator(context)
        if not args.skip_requests:
            figures["requests"] = measure_in_process_of_its_own(
                url, args.redis, namespace, token, samples=args.samples, requests=args.requests
            )
            for name, timing in figures["requests"].items():
                print(
                    f"  {name:<45} p50 {timing['p50']:8.2f} ms  p99 {timing['p99']:8.2f}"
                    f"  db {timing['db']:7.2f}"
                )
            save(figures)
        # Migrations added to the code since the load (a long run on a shared tree) are run as
        # an operator would before starting the workers, which refuse an outdated schema.
        if not args.skip_dues:
            upgrade(context.database)
            figures["dues"] = dues_run(
                context, url, args.redis, admin_id, args.dues_limit, batch_size=args.dues_batch
            )
            print(f"dues run: {figures['dues']}", flush=True)
            save(figures)
        context.close()
    finally:
        if not keep:
            _drop_database(args.server, args.database)
    return figures


def measure_in_process_of_its_own(
    url: str, redis_url: str, namespace: str, token: str, *, samples: int, requests: int
) -> dict[str, Any]:
    """The requests' figures from ``bench/scale_measure.py`` run in a fresh process."""
    finished = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "scale_measure.py"),
            *("--database-url", url, "--redis", redis_url, "--namespace", namespace),
            *("--token", token, "--email", ADMIN, "--password", DEMO_PASSWORD),
            *("--samples", str(samples), "--requests", str(requests)),
        ],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    figures: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return figures


def dues_run(
    context: AppContext,
    url: str,
    redis_url: str,
    admin_id: int,
    limit: float | None,
    *,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Two ``dues.generate`` jobs for :data:`AS_OF`, worked off by two worker processes; after
    ``limit`` seconds the workers are stopped and what the run billed by then is counted (each
    batch commits, so the count is what the run had done)."""
    with context.read_sessions() as session:
        due = session.scalar(
            select(func.count())
            .select_from(DuesSchedule)
            .where(
                DuesSchedule.status == ScheduleStatus.ACTIVE,
                DuesSchedule.auto_generate.is_(True),
                text("next_invoice_date - invoice_days_before <= :day").bindparams(day=AS_OF),
            )
        )
    options: dict[str, Any] = {"day": AS_OF.isoformat()}
    if batch_size is not None:
        options["batch_size"] = batch_size
    with unit_of_work(context.sessions) as session:
        admin = session.get_one(User, admin_id)
        job_ids = [
            enqueue(session, "dues.generate", user=admin, timeout=4 * 3600, **options).id
            for _ in range(2)
        ]
    environment = {
        **os.environ,
        "VERENIGINGEN_DATABASE_URL": url,
        "VERENIGINGEN_REDIS_URL": redis_url,
        "VERENIGINGEN_JOBS_NAMESPACE": context.settings.jobs_namespace,
        "VERENIGINGEN_DAILY_JOBS": "false",
        "VERENIGINGEN_DATA_DIR": tempfile.mkdtemp(prefix="verenigingen-scale-"),
    }
    log = Path(environment["VERENIGINGEN_DATA_DIR"]) / "worker.log"
    started = time.perf_counter()
    stopped = False
    with log.open("w") as output, _workers(environment, output) as workers:
        while True:
            time.sleep(1.0)
            if workers.poll() is not None:
                raise RuntimeError(f"the workers stopped (exit {workers.returncode}); see {log}")
            with context.read_sessions() as session:
                jobs = session.scalars(select(Job).where(Job.id.in_(job_ids))).all()
                if all(job.status not in ACTIVE_STATUSES for job in jobs):
                    break
            if limit is not None and time.perf_counter() - started > limit:
                stopped = True
                break
    # Measured once the workers have exited: a stop lets the jobs in hand finish first.
    seconds = time.perf_counter() - started
    with context.read_sessions() as session:
        billed = session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.posting_date == AS_OF)
        )
        jobs = session.scalars(select(Job).where(Job.id.in_(job_ids))).all()
    results = [
        {
            "status": job.status,
            "worker": job.worker,
            "seconds": (job.finished_at - job.started_at).total_seconds()
            if job.finished_at and job.started_at
            else None,
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "result": job.result,
            "error": (job.error or "")[:300] or None,
        }
        for job in jobs
    ]
    starts = [job.started_at for job in jobs if job.started_at]
    ends = [job.finished_at for job in jobs if job.finished_at]
    # From the first job's start to the last one's end: the run without the workers' start-up.
    span = (max(ends) - min(starts)).total_seconds() if starts and ends else None
    return {
        "batch_size": batch_size,
        "seconds": seconds,
        "jobs_span_seconds": span,
        "complete": all(job.status not in ACTIVE_STATUSES for job in jobs),
        "stopped_by_limit": stopped,
        "due": due,
        "invoices": billed,
        "jobs": results,
        "worker_log": str(log),
    }


@contextlib.contextmanager
def _workers(environment: dict[str, str], output: Any) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [str(BIN / "verenigingen"), "worker", "--workers", "2", "--queues", "long"],
        env=environment,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _administrator(context: AppContext) -> tuple[str, int]:
    """An administrator with the demo's password (the desk) and an API token."""
    with unit_of_work(context.sessions) as session:
        admin = create_user(session, ADMIN, Role.ADMINISTRATOR, full_name="Administrator")
        set_password(session, admin, DEMO_PASSWORD)
        return issue_token(session, admin, label="scale"), admin.id


def _server_engine(server: str) -> Any:
    url = server.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, isolation_level="AUTOCOMMIT")


def _fresh_database(server: str, name: str) -> str:
    _drop_database(server, name)
    admin = _server_engine(server)
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + (
        f"/{name}"
    )


def _drop_database(server: str, name: str) -> None:
    if not name.isidentifier() or not name.startswith("verenigingen_scale"):
        raise SystemExit(f"--database must be verenigingen_scale or start with it, got {name!r}")
    admin = _server_engine(server)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _load_results(path: Path) -> dict[str, Any]:
    if path.exists():
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded
    return {}


def _save(path: Path, size: int, figures: dict[str, Any]) -> None:
    results = _load_results(path)
    # A stage measured again replaces its figures; the others of an earlier run stay.
    results[str(size)] = {**results.get(str(size), {}), **figures}
    ordered = dict(sorted(results.items(), key=lambda item: int(item[0])))
    path.write_text(json.dumps(ordered, indent=2) + "\n")


if __name__ == "__main__":
    main()
