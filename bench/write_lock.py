"""The demo's follow-up work on the embedded shape, and how long SQLite's write lock is held
while it and a dues run are worked off with payments posted meanwhile.

    .venv/bin/python bench/write_lock.py [--members 2000] [--months 24] [--rate 10]

A demo association is loaded as ``make run`` loads it (``verenigingen init`` and ``verenigingen
demo`` in subprocesses, SQLite in a throw-away data dir). Then, in this process, the in-process
job consumer that ``verenigingen serve`` runs (jobs.consumer.consume in a thread, with its pause
between jobs) and a thread that posts a payment (``POST /api/v1/payments``, submitted, 1.00 for
the next customer) through the ASGI app ``--rate`` times a second. Two phases:

1. the demo's follow-up: from the consumer's start until no job the demo left is Queued or
   Running;
2. a dues run for the next month (``dues.generate``, queued as ``POST /api/v1/dues/generate``
   queues it) until it and the follow-up jobs it enqueued are done.

The payments' own follow-up jobs are worked off by the same consumer meanwhile (and counted in
the queue printed at each phase's end). Printed per phase: the seconds until it was done; the
write transactions (from the end of ``BEGIN IMMEDIATE``, when the lock is held, to the start of
``COMMIT``/``ROLLBACK``) of the job consumer, its heartbeat and the requests: count, p50 and
max, and the three longest with the part of them their statements spent executing (in the
driver; the rest is Python between the statements, e.g. compiling them); the POST's p50 and
p99 (ASGI call to last byte) and its errors (any status >= 400: a 503 or a 500 for "database
is locked").

Leaves out: the COMMIT itself (WAL with synchronous=NORMAL: no fsync), HTTP parsing and the
socket (the app is called as uvicorn calls it), and reads, which do not take the write lock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, func, select
from starlette.types import Message

from verenigingen import clock
from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.config import Settings
from verenigingen.db.session import unit_of_work
from verenigingen.jobs import enqueue
from verenigingen.jobs.consumer import consume, pause_between_jobs
from verenigingen.jobs.models import ACTIVE_STATUSES, Job, Queue
from verenigingen.jobs.worker import Runtime
from verenigingen.members.models import Customer
from verenigingen.startup import load_all
from verenigingen.web.app import create_app

BIN = Path(sys.executable).parent


@dataclass
class LockHolds:
    """Write transactions on the watched engines: milliseconds held, by who held them."""

    held_ms: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    longest: list[tuple[float, float, str, int, str]] = field(default_factory=list)
    """The longest holds: milliseconds, of which in the statements' execution (the driver's
    calls: the rest is Python between them), who, statements, the first write statement."""

    def watch(self, engine: Engine) -> None:
        # Registered after the engine's own "begin" listener: it runs once BEGIN IMMEDIATE has
        # returned, that is once the lock is held (the wait for it is not counted as holding).
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "before_cursor_execute", self._statement_starts)
        event.listen(engine, "after_cursor_execute", self._statement)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)

    def _begin(self, connection: Any) -> None:
        if connection.get_execution_options().get("sqlite_begin") == "DEFERRED":
            return  # a read: no write lock
        connection.info["write_lock_since"] = time.perf_counter()
        connection.info["write_lock_statements"] = 0
        connection.info["write_lock_first_write"] = ""
        connection.info["write_lock_executing_ms"] = 0.0

    def _statement_starts(self, connection: Any, *_args: Any) -> None:
        connection.info["write_lock_statement_since"] = time.perf_counter()

    def _statement(self, connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "write_lock_since" not in connection.info:
            return
        connection.info["write_lock_statements"] += 1
        started = connection.info.pop("write_lock_statement_since", None)
        if started is not None:
            executing = (time.perf_counter() - started) * 1000
            connection.info["write_lock_executing_ms"] += executing
        if not connection.info["write_lock_first_write"] and not statement.startswith("SELECT"):
            connection.info["write_lock_first_write"] = " ".join(statement.split())[:70]

    def _end(self, connection: Any) -> None:
        since = connection.info.pop("write_lock_since", None)
        if since is None:
            return
        held = (time.perf_counter() - since) * 1000
        name = threading.current_thread().name
        who = name if name.startswith("job-") else "requests"
        statements = connection.info.pop("write_lock_statements", 0)
        first = connection.info.pop("write_lock_first_write", "")
        executing = connection.info.pop("write_lock_executing_ms", 0.0)
        with self._lock:
            self.held_ms[who].append(held)
            self.longest.append((held, executing, who, statements, first))
            self.longest = sorted(self.longest, reverse=True)[:3]

    def take(self) -> tuple[dict[str, list[float]], list[tuple[float, float, str, int, str]]]:
        with self._lock:
            taken = dict(self.held_ms), self.longest
            self.held_ms.clear()
            self.longest = []
            return taken


class Poster:
    """Posts a submitted payment through the ASGI app every ``interval`` seconds, in a thread."""

    def __init__(self, context: AppContext, token: str, customers: list[int], rate: float):
        self.app = create_app(context)
        self.headers = [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
        ]
        self.customers = customers
        self.interval = 1 / rate
        self.stop = threading.Event()
        self.times_ms: list[float] = []
        self.errors: defaultdict[str, int] = defaultdict(int)
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="poster")

    def take(self) -> tuple[list[float], dict[str, int]]:
        taken = (self.times_ms, dict(self.errors))
        self.times_ms, self.errors = [], defaultdict(int)
        return taken

    async def _run(self) -> None:
        index = 0
        while not self.stop.is_set():
            customer = self.customers[index % len(self.customers)]
            index += 1
            body = f'{{"customer_id": {customer}, "paid_amount": "1.00", "submit": true}}'
            started = time.perf_counter()
            try:
                status = await self._post(body.encode())
            except Exception as error:  # a failure is what is counted here, not a crash
                status = 0
                self.errors[type(error).__name__] += 1
            elapsed = time.perf_counter() - started
            self.times_ms.append(elapsed * 1000)
            if status >= 400:
                self.errors[f"HTTP {status}"] += 1
            await asyncio.sleep(max(0.0, self.interval - elapsed))

    async def _post(self, body: bytes) -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/v1/payments",
            "raw_path": b"/api/v1/payments",
            "query_string": b"",
            "root_path": "",
            "headers": self.headers,
            "client": ("127.0.0.1", 50000),
            "server": ("bench", 80),
        }
        status = 0

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--rate", type=float, default=2.0, help="payments posted a second")
    args = parser.parse_args()
    os.environ["VERENIGINGEN_DATA_DIR"] = tempfile.mkdtemp(prefix="verenigingen-lock-")
    os.environ.pop("VERENIGINGEN_DATABASE_URL", None)
    os.environ.pop("VERENIGINGEN_REDIS_URL", None)
    token = load_demo(args.members, args.months)
    settings = Settings()
    load_all(settings)
    context = AppContext.build(settings)
    holds = LockHolds()
    holds.watch(context.database)
    runtime = Runtime.from_settings(settings, context.jobs)
    bind = runtime.session_factory.kw["bind"]
    holds.watch(bind)
    with context.sessions() as session:
        customers = list(session.scalars(select(Customer.id).order_by(Customer.id)))
        jobs_left = active_jobs(context)
    print(
        f"demo {args.members} members x {args.months} months (SQLite); jobs left by the demo: "
        f"{jobs_left}; payments posted {args.rate:g}/s through the ASGI app meanwhile"
    )
    poster = Poster(context, token, customers, args.rate)
    stop = threading.Event()
    consumer = threading.Thread(
        target=consume,
        args=(runtime, context.jobs, tuple(Queue), stop, pause_between_jobs(settings)),
        name="job-consumer",
        daemon=True,
    )
    started = time.monotonic()
    consumer.start()
    poster.thread.start()
    try:
        demo_jobs = Job.id <= last_job_id(context)
        done = wait_until_done(context, started, demo_jobs)
        report("1. the demo's follow-up", done, holds, poster, context)
        day = clock.add_months(clock.today(), 1)
        with unit_of_work(context.sessions) as session:
            treasurer = session.scalars(
                select(User).where(User.role == Role.TREASURER).order_by(User.id).limit(1)
            ).one()
            run = enqueue(session, "dues.generate", user=treasurer, day=day.isoformat())
            treasurer_id = treasurer.id
        started = time.monotonic()
        # The run and the follow-up jobs it enqueued in the treasurer's name (the payments
        # are posted in the administrator's).
        done = wait_until_done(context, started, Job.id >= run.id, Job.user_id == treasurer_id)
        report(f"2. a dues run for {day} and its follow-up", done, holds, poster, context)
    finally:
        poster.stop.set()
        poster.thread.join(timeout=30)
        stop.set()
        consumer.join(timeout=30)
        context.close()


def load_demo(members: int, months: int) -> str:
    cli = str(BIN / "verenigingen")
    quiet = {"check": True, "stdout": subprocess.DEVNULL}
    subprocess.run([cli, "init", "--admin-email", "admin@example.org"], **quiet)  # type: ignore[call-overload]
    started = time.monotonic()
    subprocess.run(  # type: ignore[call-overload]
        [cli, "demo", "--members", str(members), "--months", str(months)], **quiet
    )
    print(f"demo loaded in {time.monotonic() - started:.1f} s")
    return subprocess.run(
        [cli, "users", "token", "admin@example.org"], check=True, capture_output=True, text=True
    ).stdout.strip()


def active_jobs(context: AppContext, *conditions: Any) -> int:
    """Jobs Queued or Running (of those ``conditions`` select)."""
    with context.read_sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.status.in_(ACTIVE_STATUSES), *conditions)
            )
            or 0
        )


def last_job_id(context: AppContext) -> int:
    with context.read_sessions() as session:
        return int(session.scalar(select(func.max(Job.id))) or 0)


def wait_until_done(
    context: AppContext, started: float, *conditions: Any, limit: float = 1800
) -> float:
    """Seconds from ``started`` until no job that ``conditions`` select is Queued or Running
    (polled every 0.2 s)."""
    while active_jobs(context, *conditions):
        if time.monotonic() - started > limit:
            raise SystemExit(f"jobs still queued after {limit:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - started


def report(
    phase: str, seconds: float, holds: LockHolds, poster: Poster, context: AppContext
) -> None:
    print(
        f"{phase}: done after {seconds:.1f} s "
        f"(then {active_jobs(context)} jobs Queued or Running, the payments' own among them)"
    )
    held_by, longest = holds.take()
    for who, held in sorted(held_by.items()):
        print(
            f"  write lock, {who:<14} {len(held):6d} transactions  "
            f"p50 {statistics.median(held):7.2f} ms  max {max(held):7.2f} ms"
        )
    for held, executing, who, statements, first in longest:
        print(
            f"    longest: {held:7.2f} ms ({executing:.2f} executing), {who}, "
            f"{statements} statements, first write: {first}"
        )
    times, errors = poster.take()
    if len(times) >= 2:
        p99 = statistics.quantiles(times, n=100)[98]
        print(
            f"  POST payment: {len(times)} posted  p50 {statistics.median(times):7.2f} ms  "
            f"p99 {p99:7.2f} ms  errors: {errors or 'none'}"
        )


if __name__ == "__main__":
    main()
