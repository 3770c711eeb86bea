"""Where a request's time goes, stage by stage, and what the request's session costs before and
after it was made an async dependency.

    .venv/bin/python bench/request_path.py [--members 300] [--requests 1000]
                                           [--serve] [--serve-option=--no-worker]
                                           [--port 8105]

A demo association (SQLite, 12 months) in a throw-away data dir. In process, the app is called
as uvicorn calls it (an ASGI call with a prepared scope; no socket, no HTTP parsing) and timed
from the call to the last byte sent, all variants interleaved; medians:

- stages: probe routes added to the real app (middleware, the control-character check, the
  Server-Timing capture and metrics all run), each adding one part of what the API's routes
  pay: an ``async`` route with no dependencies; a plain route (one thread-pool hop); the
  request's session without a statement; one statement (``SELECT 1``: connection, BEGIN, end);
  the bearer token's user. Then the routes the goals name: the warm payment history, the first
  page of members, and a payment created and submitted (``POST /payments`` with
  ``submit: true``). Routing is measured apart: the probe first among the app's routes against
  the same probe last.
- before/after: the payment history and the members list on the app as it is, against the same
  app with the session dependency as it was (a plain generator: opened and ended in two
  thread-pool hops).

With ``--serve``, the same demo is then served by a real ``verenigingen serve`` (its in-process
job consumer working off the demo's jobs and those of the payments meanwhile) and the figure is
the ``Server-Timing`` header's (database + app) as an Administrator sees it, over one keep-alive
connection: the history, the members and a payment POST in turn. ``--serve-option`` adds an
option to its command line (``--no-worker``: no consumer beside the requests).

Leaves out: the client's own time, and (in process) uvicorn's HTTP parsing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Message

from verenigingen.app_context import AppContext
from verenigingen.config import Settings
from verenigingen.jobs.models import ACTIVE_STATUSES, Job
from verenigingen.members.models import Customer, Member
from verenigingen.web import deps
from verenigingen.web.app import create_app
from verenigingen.web.deps import CurrentUser, SessionDep

BIN = Path(sys.executable).parent
PROBE = "/api/v1/request-path-probe"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--serve", action="store_true", help="also measure a real serve")
    parser.add_argument(
        "--serve-option", action="append", default=[], help="an option added to serve's command"
    )
    parser.add_argument("--port", type=int, default=8105)
    args = parser.parse_args()
    os.environ["VERENIGINGEN_DATA_DIR"] = tempfile.mkdtemp(prefix="verenigingen-path-")
    os.environ.pop("VERENIGINGEN_DATABASE_URL", None)
    os.environ.pop("VERENIGINGEN_REDIS_URL", None)
    token = load_demo(args.members)
    context = AppContext.build(Settings())
    with context.sessions() as session:
        member = session.scalars(select(Member).order_by(Member.id).limit(1)).one()
        member_id = member.id
        # The payments go to other customers: the measured history stays the same all along.
        customer_ids = list(
            session.scalars(
                select(Customer.id).where(Customer.id != member.customer_id).order_by(Customer.id)
            )
        )
    caller = AsgiCaller(token)
    asyncio.run(stages(caller, context, member_id, customer_ids, args.requests))
    asyncio.run(before_after(caller, context, member_id, args.requests))
    context.close()
    if args.serve:
        served(token, member_id, customer_ids, args.port, args.requests, args.serve_option)


def load_demo(members: int) -> str:
    cli = str(BIN / "verenigingen")
    quiet = {"check": True, "stdout": subprocess.DEVNULL}
    subprocess.run([cli, "init", "--admin-email", "admin@example.org"], **quiet)  # type: ignore[call-overload]
    subprocess.run([cli, "demo", "--members", str(members), "--months", "12"], **quiet)  # type: ignore[call-overload]
    return subprocess.run(
        [cli, "users", "token", "admin@example.org"], check=True, capture_output=True, text=True
    ).stdout.strip()


class AsgiCaller:
    """Calls an app as uvicorn would, with the token; how long until the response's last byte."""

    def __init__(self, token: str) -> None:
        self.headers = [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
        ]

    async def __call__(
        self, app: FastAPI, path: str, *, method: str = "GET", body: bytes = b""
    ) -> float:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
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

        started = time.perf_counter()
        await app(scope, receive, send)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if status >= 300:
            raise SystemExit(f"{method} {path}: {status}")
        return elapsed_ms


def add_probes(app: FastAPI) -> None:
    """The probe routes, first among the app's routes (and one last, for routing's cost)."""

    async def nothing() -> Response:
        return Response(b"{}", media_type="application/json")

    def one_hop() -> Response:
        return Response(b"{}", media_type="application/json")

    def session_only(session: SessionDep) -> Response:
        return Response(b"{}", media_type="application/json")

    def one_statement(session: SessionDep) -> Response:
        session.execute(text("SELECT 1"))
        return Response(b"{}", media_type="application/json")

    def authenticated(session: SessionDep, user: CurrentUser) -> Response:
        return Response(b"{}", media_type="application/json")

    probes: list[tuple[str, Callable[..., Any]]] = [
        ("async", nothing),
        ("hop", one_hop),
        ("session", session_only),
        ("statement", one_statement),
        ("user", authenticated),
    ]
    for name, endpoint in probes:
        app.add_api_route(f"{PROBE}/{name}", endpoint, methods=["GET"])
    # Move them in front: the real routes' order is untouched, and routing to a probe is cheap.
    app.router.routes[:0] = [app.router.routes.pop() for _ in probes][::-1]
    app.add_api_route(f"{PROBE}/last", nothing, methods=["GET"])


def payment_bodies(customer_ids: list[int]) -> Iterator[bytes]:
    """A small payment for each customer in turn, submitted at once (it settles the oldest
    open invoice, or stays unallocated)."""
    while True:
        for customer_id in customer_ids:
            yield (
                f'{{"customer_id": {customer_id}, "paid_amount": "{Decimal("1.00")}", '
                f'"submit": true}}'
            ).encode()


async def stages(
    call: AsgiCaller, context: AppContext, member_id: int, customers: list[int], requests: int
) -> None:
    app = create_app(context)
    add_probes(app)
    bodies = payment_bodies(customers)
    measured: dict[str, Callable[[], Awaitable[float]]] = {
        "async route, no dependencies": lambda: call(app, f"{PROBE}/async"),
        "+ one thread-pool hop (plain route)": lambda: call(app, f"{PROBE}/hop"),
        "+ the request's session, no statement": lambda: call(app, f"{PROBE}/session"),
        "+ one statement (SELECT 1)": lambda: call(app, f"{PROBE}/statement"),
        "+ the token's user (current_user)": lambda: call(app, f"{PROBE}/user"),
        "payment history, warm": lambda: call(app, f"/api/v1/members/{member_id}/payment-history"),
        "members, first page": lambda: call(app, "/api/v1/members"),
        "POST payment, submitted": lambda: call(
            app, "/api/v1/payments", method="POST", body=next(bodies)
        ),
        "routing: the async probe last": lambda: call(app, f"{PROBE}/last"),
    }
    medians = await interleaved(measured, requests)
    print(f"Stages, in process (ASGI call to last byte), median of {requests} each")
    previous = None
    for name, median in medians.items():
        added = f"  (+{median - previous:.3f})" if previous and name.startswith("+") else ""
        print(f"  {name:<40} {median:7.3f} ms{added}")
        previous = median
    routing = medians["routing: the async probe last"] - medians["async route, no dependencies"]
    print(f"  routing to the last route costs {routing:.3f} ms more than to the first")


def plain_generator_session(request: Request) -> Iterator[Session]:
    """The session dependency as it was: a plain generator, which FastAPI enters and exits in
    its thread pool (two hops)."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    if request.method in deps.READ_METHODS:
        factory = getattr(request.app.state, "read_session_factory", None) or factory
    with factory() as session, session.begin():
        yield session


async def before_after(
    call: AsgiCaller, context: AppContext, member_id: int, requests: int
) -> None:
    after = create_app(context)
    before = create_app(context)
    before.dependency_overrides[deps.get_session] = plain_generator_session
    history = f"/api/v1/members/{member_id}/payment-history"
    measured: dict[str, Callable[[], Awaitable[float]]] = {
        "history, session before": lambda: call(before, history),
        "history, session after": lambda: call(after, history),
        "members, session before": lambda: call(before, "/api/v1/members"),
        "members, session after": lambda: call(after, "/api/v1/members"),
    }
    medians = await interleaved(measured, requests)
    print(f"Before/after, in process, median of {requests} each, interleaved")
    for route in ("history", "members"):
        was, now = medians[f"{route}, session before"], medians[f"{route}, session after"]
        print(
            f"  {route:<10} before {was:7.3f} ms   after {now:7.3f} ms   "
            f"after/before {now / was:.2f}"
        )


async def interleaved(
    measured: dict[str, Callable[[], Awaitable[float]]], requests: int
) -> dict[str, float]:
    """Each measurement ``requests`` times, taking turns (the order flipped every round), after
    100 unmeasured rounds; the median of each."""
    for _ in range(100):
        for measure in measured.values():
            await measure()
    times: dict[str, list[float]] = {name: [] for name in measured}
    names = list(measured)
    for index in range(requests):
        for name in names if index % 2 else reversed(names):
            times[name].append(await measured[name]())
    return {name: statistics.median(values) for name, values in times.items()}


def served(
    token: str,
    member_id: int,
    customer_ids: list[int],
    port: int,
    requests: int,
    options: list[str],
) -> None:
    """The payment history, the members list and a payment POST from a real ``verenigingen
    serve``, whose in-process consumer (unless ``options`` has ``--no-worker``) works off the
    demo's jobs (and the payments') meanwhile."""
    server = subprocess.Popen(
        [str(BIN / "verenigingen"), "serve", "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base_url}/health", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("verenigingen serve did not start") from None
                time.sleep(0.2)
        jobs_at_start = active_jobs()
        bodies = payment_bodies(customer_ids)
        requests_of: dict[str, tuple[str, str]] = {
            "payment history, warm": ("GET", f"/api/v1/members/{member_id}/payment-history"),
            "members, first page": ("GET", "/api/v1/members"),
            "POST payment, submitted": ("POST", "/api/v1/payments"),
        }
        times: dict[str, list[float]] = {name: [] for name in requests_of}
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            for index in range(requests + 100):
                for name, (method, path) in requests_of.items():
                    body = next(bodies) if method == "POST" else None
                    response = client.request(method, path, content=body)
                    response.raise_for_status()
                    if index >= 100:
                        times[name].append(server_ms(response))
        print(
            f"A real `{' '.join(['verenigingen serve', *options])}` (Server-Timing, db + app), "
            f"median of {requests} each; "
            f"jobs Queued or Running: {jobs_at_start} at the start, {active_jobs()} at the end"
        )
        for name, values in times.items():
            print(f"  {name:<40} {statistics.median(values):7.3f} ms")
    finally:
        server.terminate()
        server.wait(timeout=30)


def active_jobs() -> int:
    """Jobs not yet worked off (Queued or Running), read from the job table."""
    context = AppContext.build(Settings())
    try:
        with context.read_sessions() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(Job).where(Job.status.in_(ACTIVE_STATUSES))
                )
                or 0
            )
    finally:
        context.close()


def server_ms(response: httpx.Response) -> float:
    parts = [part.strip() for part in response.headers["server-timing"].split(",")]
    return sum(float(part.split("dur=")[1].split(";")[0]) for part in parts)


if __name__ == "__main__":
    main()
