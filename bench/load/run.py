"""The load test (``make load``): locust, headless, against both shapes of the system.

    .venv/bin/python bench/load/run.py [--shape embedded|distributed|both] [--users 8]
        [--seconds 30] [--members 1000] [--months 12] [--api-processes 2] [--job-workers 2]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6379/13] [--loop auto|asyncio] [--http auto|h11]

For each shape a demo association is loaded, 50 of its members get a portal login with an API
token (as the portal's users would have), a Treasurer gets a token, and the servers start on
loopback:

- embedded: SQLite in a throw-away data dir, one ``verenigingen serve`` (port 8110) with its
  in-process job consumer, as ``make run`` starts it;
- distributed: the database ``verenigingen_load`` on PostgreSQL (created here, dropped at the
  end), jobs and cache in Redis (the database of ``--redis-url``, emptied first),
  ``verenigingen serve --workers N --no-worker`` (port 8111) and ``--job-workers`` separate
  ``verenigingen worker`` processes.

Then each mix runs for ``--seconds`` with ``--users`` users started at once, back to back (no
think time): the portal mix (members reading their payment history, invoices, financial
summary and notifications) and the treasurer mix (the members, invoices and payments lists, a
member's history, and a payment recorded and submitted one time in nine). Printed per shape and
mix: requests per second, the median and 99th percentile response time as locust measured it
(client side, so the client's own time and the socket are in), the failures, and the CPU time
the API processes spent per request (user + system, from ``/proc``: ``serve`` and the processes
it started, not the job workers or locust), which moves far less with the machine's other load
than the requests per second do.

``--loop asyncio --http h11`` serves as uvicorn does without uvloop and httptools (the API
process's event loop and HTTP parser, pure Python), for the comparison with the default (both,
in C).

Leaves out: the pages (HTML), sign-in, and any client that is not on this machine. locust runs
on the same two cores as the servers and takes a share of them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import redis
from pg_waits import WaitSampler
from sqlalchemy import select

from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user, issue_token
from verenigingen.config import Settings
from verenigingen.db.session import unit_of_work
from verenigingen.members.models import Member

BIN = Path(sys.executable).parent
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
LOAD_DATABASE = "verenigingen_load"
PORTAL_LOGINS = 50
PORTS = {"embedded": 8110, "distributed": 8111}
MIXES = ("PortalMember", "Treasurer")


@dataclass(frozen=True)
class MixResult:
    shape: str
    mix: str
    requests: int
    failures: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    payment_p50_ms: float | None
    payment_p99_ms: float | None
    waits: list[str]
    api_cpu_seconds: float
    """CPU time the API processes (``serve`` and the processes it started) spent during the mix."""

    @property
    def api_cpu_ms_per_request(self) -> float:
        return 1000 * self.api_cpu_seconds / max(self.requests, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["embedded", "distributed", "both"], default="both")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--api-processes", type=int, default=2)
    parser.add_argument("--job-workers", type=int, default=2)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "VERENIGINGEN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto")
    args = parser.parse_args()
    shapes = ["embedded", "distributed"] if args.shape == "both" else [args.shape]
    results: list[MixResult] = []
    for shape in shapes:
        results += run_shape(shape, args)
    print()
    print(
        f"{args.users} users, {args.seconds} s per mix, demo of {args.members} members x "
        f"{args.months} months; response times as locust measured them"
    )
    header = ("shape", "mix", "requests", "req/s", "p50 ms", "p99 ms", "failures", "API CPU ms/req")
    print("  {:<12} {:<13} {:>8} {:>7} {:>7} {:>7} {:>8} {:>14}".format(*header))
    for result in results:
        print(
            f"  {result.shape:<12} {result.mix:<13} {result.requests:>8} "
            f"{result.requests_per_second:>7.1f} {result.p50_ms:>7.0f} {result.p99_ms:>7.0f} "
            f"{result.failures:>8} {result.api_cpu_ms_per_request:>14.2f}"
        )
    for result in results:
        if result.payment_p50_ms is not None:
            print(
                f"  {result.shape} {result.mix}: POST /payments p50 "
                f"{result.payment_p50_ms:.0f} ms, p99 {result.payment_p99_ms:.0f} ms"
            )
        if result.waits:
            print(f"  {result.shape} {result.mix}: PostgreSQL's backends")
            print("\n".join(result.waits))


def run_shape(shape: str, args: argparse.Namespace) -> list[MixResult]:
    work = Path(tempfile.mkdtemp(prefix=f"verenigingen-load-{shape}-"))
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("VERENIGINGEN_DATABASE_URL", "VERENIGINGEN_REDIS_URL")
    }
    env["VERENIGINGEN_DATA_DIR"] = str(work / "data")
    database_admin_url = None
    if shape == "distributed":
        database_admin_url = args.postgres_url
        env["VERENIGINGEN_DATABASE_URL"] = recreate_database(database_admin_url)
        env["VERENIGINGEN_REDIS_URL"] = args.redis_url
        redis.Redis.from_url(args.redis_url).flushdb()
    print(f"{shape}: loading the demo ({args.members} members x {args.months} months)")
    cli = str(BIN / "verenigingen")
    quiet = {"check": True, "env": env, "stdout": subprocess.DEVNULL}
    subprocess.run([cli, "init", "--admin-email", "admin@example.org"], **quiet)  # type: ignore[call-overload]
    demo = [cli, "demo", "--members", str(args.members), "--months", str(args.months)]
    subprocess.run(demo, **quiet)  # type: ignore[call-overload]
    fixture = work / "fixture.json"
    fixture.write_text(json.dumps(portal_fixture(env)))
    port = PORTS[shape]
    servers = start_servers(shape, env, port, args)
    try:
        wait_until_up(f"http://127.0.0.1:{port}", servers[0])
        results = []
        for mix in MIXES:
            print(f"{shape}: {mix} mix, {args.users} users, {args.seconds} s")
            api = servers[0].pid
            if database_admin_url is None:
                results.append(run_mix(shape, mix, port, fixture, work, args, api, waits=None))
                continue
            with WaitSampler(database_admin_url, LOAD_DATABASE) as sampler:
                result = run_mix(shape, mix, port, fixture, work, args, api, waits=sampler)
            results.append(result)
        return results
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=60)
        if database_admin_url is not None:
            drop_database(database_admin_url)


def recreate_database(admin_url: str) -> str:
    """The load test's own PostgreSQL database, empty; its URL."""
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {LOAD_DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {LOAD_DATABASE}")
    return admin_url.rsplit("/", 1)[0] + f"/{LOAD_DATABASE}"


def drop_database(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {LOAD_DATABASE} WITH (FORCE)")


def portal_fixture(env: dict[str, str]) -> dict[str, object]:
    """Portal logins for the first members and a Treasurer, each with an API token."""
    settings = Settings(
        data_dir=Path(env["VERENIGINGEN_DATA_DIR"]),
        database_url=env.get("VERENIGINGEN_DATABASE_URL"),
        redis_url=env.get("VERENIGINGEN_REDIS_URL"),
    )
    context = AppContext.build(settings)
    try:
        with unit_of_work(context.sessions) as session:
            members = list(
                session.scalars(
                    select(Member)
                    .where(Member.user_id.is_(None), Member.customer_id.is_not(None))
                    .order_by(Member.id)
                    .limit(PORTAL_LOGINS)
                )
            )
            logins = []
            for member in members:
                user = create_user(session, f"load-{member.id}@example.org", Role.MEMBER)
                member.user_id = user.id
                logins.append({"member_id": member.id, "token": issue_token(session, user)})
            treasurer = create_user(session, "load-treasurer@example.org", Role.TREASURER)
            return {
                "members": logins,
                "treasurer": issue_token(session, treasurer),
                "customers": [member.customer_id for member in members],
            }
    finally:
        context.close()


def start_servers(
    shape: str, env: dict[str, str], port: int, args: argparse.Namespace
) -> list[subprocess.Popen[bytes]]:
    """The API first, then the job workers (distributed only)."""
    cli = str(BIN / "verenigingen")
    logs = Path(env["VERENIGINGEN_DATA_DIR"]).parent
    serve = [cli, "serve", "--host", "127.0.0.1", "--port", str(port)]
    serve += ["--loop", args.loop, "--http", args.http]
    if shape == "distributed":
        serve += ["--workers", str(args.api_processes), "--no-worker"]
    commands = [serve]
    if shape == "distributed":
        commands += [[cli, "worker"] for _ in range(args.job_workers)]
    servers = []
    for index, command in enumerate(commands):
        log = (logs / f"server-{index}.log").open("wb")
        servers.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
    return servers


def wait_until_up(base_url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"verenigingen serve exited with {server.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("verenigingen serve did not answer within 120 s")


def run_mix(
    shape: str,
    mix: str,
    port: int,
    fixture: Path,
    work: Path,
    args: argparse.Namespace,
    api_pid: int,
    *,
    waits: WaitSampler | None,
) -> MixResult:
    prefix = work / f"{shape}-{mix}"
    cpu_before = process_tree_cpu_seconds(api_pid)
    subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.users),
            "--run-time",
            f"{args.seconds}s",
            "--host",
            f"http://127.0.0.1:{port}",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
            mix,
        ],
        check=False,  # locust exits 1 when a request failed: the failures are reported below
        env={**os.environ, "LOAD_FIXTURE": str(fixture)},
        stdout=subprocess.DEVNULL,
    )
    api_cpu_seconds = process_tree_cpu_seconds(api_pid) - cpu_before
    with Path(f"{prefix}_stats.csv").open(newline="") as stats:
        rows = list(csv.DictReader(stats))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    payment = next((row for row in rows if row["Name"] == "POST /payments"), None)
    return MixResult(
        shape=shape,
        mix=mix,
        requests=int(total["Request Count"]),
        failures=int(total["Failure Count"]),
        requests_per_second=float(total["Requests/s"]),
        p50_ms=float(total["50%"]),
        p99_ms=float(total["99%"]),
        payment_p50_ms=float(payment["50%"]) if payment else None,
        payment_p99_ms=float(payment["99%"]) if payment else None,
        waits=waits.report() if waits is not None else [],
        api_cpu_seconds=api_cpu_seconds,
    )


def process_tree_cpu_seconds(root: int) -> float:
    """User and system CPU seconds of process ``root`` and its living descendants (``/proc``).

    The API's share of the machine, whatever else runs beside it: on a shared machine the
    requests per second move with the neighbours' load, the CPU a request costs much less.
    """
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after the command's name
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    tree = {root}
    grown = True
    while grown:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= children
        grown = bool(children)
    return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
