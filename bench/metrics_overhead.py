"""What the request metrics cost a request, and what a scrape of ``/metrics`` costs.

    .venv/bin/python bench/metrics_overhead.py [--rounds 30] [--members 50] [--jobs 100000]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

One process, one migrated database (SQLite in a temporary directory, or a throw-away database
on the PostgreSQL server given), two apps on it built by ``create_app``: one with the metrics
on (the default), one with ``metrics=False``. Both capture every request for Server-Timing, as
production does; what the metrics add is the observer: three histogram observations per request.

A cheap GET (``/api/v1/members/{member_id}`` as an administrator: the token lookup and one
member, two statements) is sent to both apps in turn, the order alternating from request to
request, straight into the ASGI app (no HTTP client, no socket): the time measured is the
server's, from the app's first line to its response's last byte. Prints the median per request
of each app and their ratio.

Then ``--jobs`` finished jobs (and a few hundred Queued and Running ones) are written to the job
table and ``/metrics`` is scraped ``--scrapes`` times: the median scrape, most of which is the
two statements over the job table, is printed beside the number of rows they read.
Left out: the network and the HTTP server (uvicorn), identical for both apps.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from engines import postgres_engine, sqlite_engine
from verenigingen import clock
from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user, issue_token
from verenigingen.cache.memory import MemoryBackend
from verenigingen.cache.versioned import VersionedCache
from verenigingen.config import Settings
from verenigingen.db.migrate import upgrade
from verenigingen.db.session import unit_of_work
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.members.models import Customer, Member
from verenigingen.perf.capture import capture
from verenigingen.web.app import create_app
from verenigingen.web.timing import ServerTimingMiddleware

ROUTE = "/api/v1/members/{member_id}"


@dataclasses.dataclass
class Answer:
    status: int
    body: bytes
    seconds: float
    cpu_seconds: float
    """The process's CPU time meanwhile (the endpoint's worker thread included): on a busy
    machine other processes stretch the wall clock, not this."""


async def call(app: FastAPI, path: str, token: str) -> Answer:
    """One GET straight into the ASGI app; the time from the call to the last byte."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }
    status, body = 0, bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            body.extend(message.get("body", b""))

    started, cpu_started = time.perf_counter(), time.process_time()
    await app(scope, receive, send)
    return Answer(
        status, bytes(body), time.perf_counter() - started, time.process_time() - cpu_started
    )


@contextlib.contextmanager
def database(postgres: str | None) -> Iterator[Engine]:
    with postgres_engine(postgres) if postgres else sqlite_engine() as engine:
        upgrade(engine)
        yield engine


def seed(context: AppContext, members: int) -> tuple[int, str, list[int]]:
    """An administrator (id and token) and ``members`` members."""
    with unit_of_work(context.sessions) as session:
        admin = create_user(session, "bench@example.org", Role.ADMINISTRATOR)
        token = issue_token(session, admin)
        ids = []
        for number in range(members):
            customer = Customer(debtor_number=f"DEB-{number:05d}", name=f"Lid {number}")
            session.add(customer)
            session.flush()
            member = Member(
                member_id=f"Assoc-Member-2026-01-{number:04d}",
                first_name="Lid",
                last_name=str(number),
                email=f"lid{number}@example.org",
                customer_id=customer.id,
            )
            session.add(member)
            session.flush()
            ids.append(member.id)
    return admin.id, token, ids


def add_jobs(session: Session, user_id: int, finished: int) -> None:
    """``finished`` ended jobs over ten task names, and 300 Queued and Running ones."""
    now = clock.now()
    statuses = [JobStatus.COMPLETED] * 8 + [JobStatus.FAILED, JobStatus.CANCELLED]
    rows = [
        {
            "name": f"bench.task_{number % 10}",
            "queue": ("short", "default", "long")[number % 3],
            "params": {},
            "user_id": user_id,
            "status": statuses[number % len(statuses)].value,
            "timeout": 300,
            "created_at": now,
        }
        for number in range(finished)
    ]
    rows += [
        {**rows[0], "status": (JobStatus.QUEUED if n % 2 else JobStatus.RUNNING).value}
        for n in range(300)
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(Job), rows[start : start + 5000])


async def measure(args: argparse.Namespace, engine: Engine) -> None:
    context = AppContext.build(
        Settings(),
        database=engine,
        cache=VersionedCache(MemoryBackend()),
        jobs=JobEngine.memory(f"bench{uuid.uuid4().hex[:8]}"),
    )
    off_settings = context.settings.model_copy(update={"metrics": False})
    apps = {
        "metrics on": create_app(context),
        "metrics off": create_app(dataclasses.replace(context, settings=off_settings)),
    }
    admin_id, token, ids = seed(context, args.members)
    paths = [f"/api/v1/members/{member_id}" for member_id in ids]
    for app in apps.values():  # warm-up: compiled statements, the page cache
        for path in paths:
            assert (await call(app, path, token)).status == 200

    walls: dict[str, list[float]] = {name: [] for name in apps}
    cpus: dict[str, list[float]] = {name: [] for name in apps}
    names = list(apps)
    gc.collect()
    for round_number in range(args.rounds):
        for index, path in enumerate(paths):
            order = names if (round_number + index) % 2 == 0 else names[::-1]
            for name in order:
                answer = await call(apps[name], path, token)
                assert answer.status == 200, answer.body
                walls[name].append(answer.seconds)
                cpus[name].append(answer.cpu_seconds)

    print(f"{engine.dialect.name}: GET {ROUTE} as an administrator")
    print(f"{len(walls[names[0]])} requests per app, interleaved; per request (median):")
    print(f"  {'':<12} {'wall':>9} {'CPU':>9}")
    for name in sorted(names, reverse=True):
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"  {name:<12} {wall * 1e6:6.0f} µs {cpu * 1e6:6.0f} µs")
    for clock_name, figures in (("wall", walls), ("CPU", cpus)):
        on, off = (
            statistics.median(figures["metrics on"]),
            statistics.median(figures["metrics off"]),
        )
        difference = (on - off) * 1e6
        print(f"  ratio on/off ({clock_name}): {on / off:.3f} ({difference:+.0f} µs per request)")
    observer = observer_cost(apps["metrics on"])
    print(
        f"  the observer alone (three histogram observations): {observer * 1e6:.1f} µs per request"
    )

    with unit_of_work(context.sessions) as session:
        add_jobs(session, user_id=admin_id, finished=args.jobs)
    scrape_app = apps["metrics on"]
    scrapes = []
    for _ in range(args.scrapes):
        answer = await call(scrape_app, "/metrics", token)
        assert answer.status == 200, answer.body
        scrapes.append(answer.seconds)
    print(
        f"GET /metrics over {args.jobs:,} finished and 300 Queued and Running jobs: "
        f"{statistics.median(scrapes) * 1000:.1f} ms (median of {args.scrapes}), "
        f"{len(answer.body):,} bytes"
    )
    context.close()


def observer_cost(app: FastAPI, calls: int = 20_000) -> float:
    """Seconds per call of the metrics observer, for a request to :data:`ROUTE`: what the
    metrics add to a request, measured alone (a request's time varies by more than that)."""
    timing = next(m for m in app.user_middleware if m.cls is ServerTimingMiddleware)
    observe = timing.kwargs["observer"]
    scope = {"type": "http", "method": "GET", "route": route_of(app, ROUTE)}
    with capture(detail=False) as log:
        started = time.perf_counter()
        for _ in range(calls):
            observe(scope, 200, 0.004, log)
        return (time.perf_counter() - started) / calls


def route_of(app: FastAPI, template: str) -> Any:
    """The route object the router leaves in the scope of a GET on ``template``."""
    return next(
        context.original_route
        for context in iter_route_contexts(app.routes)
        if context.path_format == template
        and "GET" in getattr(context.original_route, "methods", ())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--scrapes", type=int, default=21)
    parser.add_argument("--postgres", help="a PostgreSQL server for a throw-away database")
    args = parser.parse_args()
    with database(args.postgres) as engine:
        asyncio.run(measure(args, engine))


if __name__ == "__main__":
    main()
