"""Two real API servers side by side, asked the portal's reads in turn: what one way of serving
costs a request against another, measured in the same minutes.

    .venv/bin/python bench/serve_ab.py [--a "--loop auto --http auto"]
        [--b "--loop asyncio --http h11"] [--a-src DIR] [--b-src DIR]
        [--members 1000] [--months 12] [--requests 4000] [--connections 1]

This machine is shared: runs of the load test minutes apart differ by a factor of two in
requests per second and by half in CPU per request for the same code (docs/benchmarks.md, "The
load test"), so two ways of serving are compared here at the same time. A demo association
(SQLite, a throw-away data dir) gets 50 portal logins (``bench/load/run.py``'s fixture); then
two ``verenigingen serve --no-worker`` processes start on it, ``--a`` and ``--b`` added to their
command lines, and, with ``--a-src``/``--b-src``, the project's code taken from that directory
(``PYTHONPATH``; a git worktree of another commit). The client sends the portal mix's reads
(a member's payment history 4, invoices 2, financial summary 1, notifications 1; the members
in turn) to A and B alternately, each over its own keep-alive connections (``--connections``
threads per server, each alternating), and times each from the request's start to its last
byte. Per server: the median and 99th percentile of those times and the CPU time the server
process spent per request (user + system, ``/proc/PID/stat``), then B's figures over A's.

Leaves out: writes, the job consumer (``--no-worker``), PostgreSQL and Redis (the requests
read SQLite and the in-process cache), and the first 200 requests per server (warm-up).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).with_name("load")))
from run import portal_fixture

from memory import BIN, load_demo, wait_until_up

WARM_UP = 200
MIX = (("history", 4), ("invoices", 2), ("summary", 1), ("notifications", 1))


@dataclass
class Server:
    label: str
    extra: list[str]
    source: str | None
    port: int
    process: subprocess.Popen[bytes] | None = None

    def cpu_seconds(self) -> float:
        assert self.process is not None
        text = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = text[text.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--a", default="--loop auto --http auto", help="serve's options for A")
    parser.add_argument("--b", default="--loop asyncio --http h11", help="serve's options for B")
    parser.add_argument("--a-src", help="A's source directory (PYTHONPATH)")
    parser.add_argument("--b-src", help="B's source directory (PYTHONPATH)")
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--requests", type=int, default=4000, help="per server")
    parser.add_argument("--connections", type=int, default=1, help="per server")
    parser.add_argument("--port", type=int, default=8130)
    args = parser.parse_args()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VERENIGINGEN_DATABASE_URL", "VERENIGINGEN_REDIS_URL", "PYTHONPATH")
    }
    environment["VERENIGINGEN_DATA_DIR"] = tempfile.mkdtemp(prefix="verenigingen-serve-ab-")
    load_demo(environment, args.members, args.months)
    fixture = portal_fixture(environment)
    servers = [
        Server("A", shlex.split(args.a), args.a_src, args.port),
        Server("B", shlex.split(args.b), args.b_src, args.port + 1),
    ]
    try:
        for server in servers:
            server_environment = dict(environment)
            if server.source:
                server_environment["PYTHONPATH"] = server.source
            command = [str(BIN / "verenigingen"), "serve", "--no-worker"]
            command += ["--port", str(server.port), *server.extra]
            server.process = subprocess.Popen(
                command,
                env=server_environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        for server in servers:
            assert server.process is not None
            wait_until_up(f"http://127.0.0.1:{server.port}", server.process)
        times, cpu = ask_in_turn(servers, fixture["members"], args)  # type: ignore[arg-type]
    finally:
        for server in servers:
            if server.process is not None:
                server.process.terminate()
                server.process.wait(timeout=30)
    print(
        f"serve --no-worker, a demo of {args.members} members x {args.months} months (SQLite); "
        f"{args.requests} portal reads per server after {WARM_UP} to warm up, "
        f"{args.connections} connection(s) per server, A and B in turn"
    )
    for server in servers:
        source = f" (code from {server.source})" if server.source else ""
        print(f"  {server.label}: serve {' '.join(server.extra)}{source}")
    print(f"  {'':<3} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/request':>15}")
    for server in servers:
        ordered = sorted(times[server.label])
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        print(
            f"  {server.label:<3} {statistics.median(ordered):8.3f} {p99:8.3f} "
            f"{cpu[server.label]:15.3f}"
        )
    a, b = (statistics.median(times[label]) for label in ("A", "B"))
    print(f"  B / A: p50 {b / a:.2f}, CPU per request {cpu['B'] / cpu['A']:.2f}")


def ask_in_turn(
    servers: list[Server], logins: list[dict[str, object]], args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Each connection thread asks A and B in turn; the times after warm-up, CPU per request."""
    paths = [(name, login) for login in logins for name, weight in MIX for _ in range(weight)]
    times: dict[str, list[float]] = {server.label: [] for server in servers}
    lock = threading.Lock()
    per_thread = (args.requests + WARM_UP) // args.connections
    started = threading.Barrier(args.connections + 1)
    measuring = threading.Barrier(args.connections + 1)
    cpu_start: dict[str, float] = {}

    def connection(offset: int) -> None:
        clients = {
            server.label: httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30)
            for server in servers
        }
        started.wait()
        requests = cycle(paths[offset:] + paths[:offset])
        for index in range(per_thread):
            if index == WARM_UP // args.connections:
                measuring.wait()
                measuring.wait()  # the CPU clocks are read between the two
            name, login = next(requests)
            for server in servers:
                elapsed = timed_get(clients[server.label], name, login)
                if index >= WARM_UP // args.connections:
                    with lock:
                        times[server.label].append(elapsed)
        for client in clients.values():
            client.close()

    threads = [
        threading.Thread(target=connection, args=(index * 7,)) for index in range(args.connections)
    ]
    for thread in threads:
        thread.start()
    started.wait()
    measuring.wait()
    for server in servers:
        cpu_start[server.label] = server.cpu_seconds()
    measuring.wait()
    for thread in threads:
        thread.join()
    cpu = {
        server.label: 1000
        * (server.cpu_seconds() - cpu_start[server.label])
        / len(times[server.label])
        for server in servers
    }
    return times, cpu


def timed_get(client: httpx.Client, name: str, login: dict[str, object]) -> float:
    member_id = login["member_id"]
    path = {
        "history": f"/api/v1/members/{member_id}/payment-history",
        "invoices": "/api/v1/invoices",
        "summary": f"/api/v1/members/{member_id}/financial-summary",
        "notifications": "/api/v1/notifications",
    }[name]
    headers = {"Authorization": f"Bearer {login['token']}"}
    start = time.perf_counter()
    response = client.get(path, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{path}: {response.status_code} {response.text[:200]}")
    return elapsed


if __name__ == "__main__":
    main()
