"""What an API process holds in memory: a real ``verenigingen serve`` measured from outside.

    .venv/bin/python bench/memory.py [--members 2000] [--months 24] [--requests 10000]
                                     [--port 8105] [--connections 1] [--no-worker]
                                     [--loop auto|asyncio] [--http auto|h11]

A demo association is loaded into a throw-away SQLite data dir; then ``verenigingen serve`` is
started as a subprocess (by default with its in-process job consumer, as ``make run`` starts
it) and its resident set size is read from ``/proc/PID/status`` (``VmRSS``; ``VmHWM`` is the
peak): once idle after start-up, then every 2,000 requests up to ``--requests``. The requests
are the API's reads an Administrator makes, over one keep-alive connection (or ``--connections``
at once, which the server answers from several threads of its pool): a member's payment
history and financial summary (every member in turn, so each history is computed once and
then cached), the member, the first page of members, invoices and payments, notifications.

The goal (issue 19): under 100 MB, idle and after 10,000 requests. Leaves out: writes (each
would also import the job engine's dispatch path if it were not loaded yet) and the pages.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
GOAL_MB = 100
REPORT_EVERY = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--port", type=int, default=8105)
    parser.add_argument(
        "--connections", type=int, default=1, help="keep-alive connections reading at once"
    )
    parser.add_argument("--no-worker", action="store_true", help="serve without a job consumer")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto")
    args = parser.parse_args()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VERENIGINGEN_DATABASE_URL", "VERENIGINGEN_REDIS_URL")
    }
    environment["VERENIGINGEN_DATA_DIR"] = tempfile.mkdtemp(prefix="verenigingen-memory-")
    token = load_demo(environment, args.members, args.months)
    command = [str(BIN / "verenigingen"), "serve", "--port", str(args.port)]
    command += ["--loop", args.loop, "--http", args.http]
    if args.no_worker:
        command.append("--no-worker")
    server = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base_url = f"http://127.0.0.1:{args.port}"
        wait_until_up(base_url, server)
        time.sleep(2)  # let start-up's last allocations settle
        print(
            f"verenigingen serve --loop {args.loop} --http {args.http}"
            f"{' --no-worker' if args.no_worker else ''} on a demo of "
            f"{args.members} members x {args.months} months (SQLite)"
        )
        report("idle", server.pid)
        with contextlib.ExitStack() as stack:
            clients = [
                stack.enter_context(
                    httpx.Client(
                        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
                    )
                )
                for _ in range(args.connections)
            ]
            send_reads(clients, server.pid, read_paths(args.requests, args.members))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(environment["VERENIGINGEN_DATA_DIR"])


def load_demo(environment: dict[str, str], members: int, months: int) -> str:
    """The demo association in the data dir; an Administrator's API token."""
    cli = str(BIN / "verenigingen")
    quiet = {"check": True, "env": environment, "stdout": subprocess.DEVNULL}
    subprocess.run([cli, "init", "--admin-email", "admin@example.org"], **quiet)  # type: ignore[call-overload]
    subprocess.run([cli, "demo", "--members", str(members), "--months", str(months)], **quiet)  # type: ignore[call-overload]
    return subprocess.run(
        [cli, "users", "token", "admin@example.org"],
        check=True,
        env=environment,
        capture_output=True,
        text=True,
    ).stdout.strip()


def wait_until_up(base_url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"verenigingen serve exited with {server.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("verenigingen serve did not answer within 60 s")


def read_paths(requests: int, members: int) -> list[str]:
    """``requests`` reads; the demo's member ids run from 1 to ``members`` in a fresh database."""
    member_ids = cycle(range(1, members + 1))
    lists = cycle(
        ["/api/v1/members", "/api/v1/invoices", "/api/v1/payments", "/api/v1/notifications"]
    )
    paths: list[str] = []
    while len(paths) < requests:
        member_id = next(member_ids)
        paths += [
            f"/api/v1/members/{member_id}/payment-history",
            f"/api/v1/members/{member_id}/financial-summary",
            f"/api/v1/members/{member_id}",
            next(lists),
        ]
    return paths


def send_reads(clients: list[httpx.Client], pid: int, paths: list[str]) -> None:
    """The reads in rounds of ``REPORT_EVERY``, each round shared out over the connections."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        for start in range(0, len(paths), REPORT_EVERY):
            batch = paths[start : start + REPORT_EVERY]
            shares = [batch[index :: len(clients)] for index in range(len(clients))]
            list(pool.map(read_all, clients, shares))
            report(f"after {start + len(batch)} requests", pid)
    seconds = time.perf_counter() - started
    print(
        f"{len(paths)} requests in {seconds:.1f} s ({len(paths) / seconds:.0f} requests/s, "
        f"{len(clients)} connection{'s' if len(clients) > 1 else ''})"
    )


def read_all(client: httpx.Client, paths: list[str]) -> None:
    for path in paths:
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.text[:200]}")


def report(moment: str, pid: int) -> None:
    figures = memory_of(pid)
    rss = figures["VmRSS"]
    verdict = "within" if rss < GOAL_MB else "over"
    print(
        f"  {moment:<22} RSS {rss:6.1f} MB   peak {figures['VmHWM']:6.1f} MB   "
        f"({verdict} the {GOAL_MB} MB goal)"
    )


def memory_of(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB (the kernel reports kB)."""
    figures: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[name] = int(value.split()[0]) / 1024
    return figures


if __name__ == "__main__":
    main()
