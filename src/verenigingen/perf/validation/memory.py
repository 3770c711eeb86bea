"""The memory criterion: a real ``verenigingen serve`` process, its resident set after N requests.

The process serves its own copy of the association with the optimizations on (as the ``on``
side), with the embedded job consumer in its thread as ``serve`` runs by default, on a free port
of 127.0.0.1. The requests go over a real socket (keep-alive), one after the other: payment
histories of Zipf-drawn members, the lists a treasurer opens, member details and ``/health``.
RSS is ``VmRSS`` of ``/proc/<pid>/status``, read before the first request and as they go.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from verenigingen.db.engine import make_engine
from verenigingen.perf.validation.association import Association, configure
from verenigingen.perf.workloads.history import ZIPF_EXPONENT

DEFAULT_REQUESTS = 10_000
"""The plan's figure: RSS after 10,000 requests."""
SAMPLES = 20
START_TIMEOUT_SECONDS = 60.0


class ServeFailed(RuntimeError):
    """The ``serve`` process did not start or died during the run."""


@dataclass
class MemoryFigures:
    requests: int
    errors: int
    """Responses that were not 2xx."""
    rss_start_mb: float
    rss_end_mb: float
    samples: list[tuple[int, float]] = field(default_factory=list)
    """(requests done, RSS MB)."""
    seconds: float = 0.0

    @property
    def rss_peak_mb(self) -> float:
        return max([self.rss_end_mb, self.rss_start_mb, *(mb for _n, mb in self.samples)])


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MB (MiB), from ``/proc``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ServeFailed(f"no VmRSS for process {pid}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _command() -> str:
    beside = Path(sys.executable).parent / "verenigingen"
    found = str(beside) if beside.exists() else shutil.which("verenigingen")
    if found is None:
        raise ServeFailed("the verenigingen command is not installed")
    return found


def request_paths(members: Sequence[int], customers: Sequence[int], count: int) -> list[str]:
    """The requests of the run, in order: 70 % histories (Zipf-skewed members), the rest lists,
    member details and health checks."""
    rng = random.Random(20261203)
    popularity = list(members)
    rng.shuffle(popularity)
    weights = [1 / rank**ZIPF_EXPONENT for rank in range(1, len(popularity) + 1)]
    paths = []
    for _ in range(count):
        draw = rng.random()
        member = rng.choices(popularity, weights)[0]
        if draw < 0.70:
            paths.append(f"/api/v1/members/{member}/payment-history")
        elif draw < 0.80:
            paths.append(f"/api/v1/invoices?customer_id={rng.choice(customers)}")
        elif draw < 0.90:
            paths.append(f"/api/v1/members/{member}")
        elif draw < 0.95:
            paths.append("/api/v1/members?limit=50")
        else:
            paths.append("/health")
    return paths


def measure_serve_memory(
    association: Association,
    directory: Path,
    paths: Sequence[str],
    advance: Callable[[], None] = lambda: None,
) -> MemoryFigures:
    """Start ``verenigingen serve`` on a copy of the association, send ``paths`` one after the
    other, and read its RSS; the process is stopped afterwards."""
    folder = directory / "serve"
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "verenigingen.db"
    shutil.copyfile(association.template, database)
    engine = make_engine(f"sqlite:///{database}")
    try:
        configure(engine, optimized=True)
    finally:
        engine.dispose()
    port = _free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VERENIGINGEN_DATABASE_URL", "VERENIGINGEN_REDIS_URL")
    }
    environment["VERENIGINGEN_DATA_DIR"] = str(folder)
    log = (folder / "serve.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 (our own command; arguments built here)
        [_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"authorization": f"Bearer {association.token}"},
            timeout=30.0,
        ) as client:
            _wait_until_up(client, process)
            figures = MemoryFigures(len(paths), 0, rss_mb(process.pid), 0.0)
            every = max(len(paths) // SAMPLES, 1)
            started = time.perf_counter()
            for number, path in enumerate(paths, 1):
                if client.get(path).status_code >= 300:
                    figures.errors += 1
                if number % every == 0 or number == len(paths):
                    figures.samples.append((number, round(rss_mb(process.pid), 1)))
                    advance()
            figures.seconds = time.perf_counter() - started
            figures.rss_end_mb = rss_mb(process.pid)
            return figures
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServeFailed(f"verenigingen serve exited with {process.returncode}")
        try:
            client.get("/health")
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise ServeFailed(f"verenigingen serve did not answer within {START_TIMEOUT_SECONDS:.0f} s")
