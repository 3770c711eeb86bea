"""Real worker processes (``python -m verenigingen worker``) on one shape, for the fault tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.auth.models import User
from verenigingen.config import Settings
from verenigingen.db.session import read_only
from verenigingen.jobs import enqueue
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Job

TESTS_DIR = Path(__file__).parent
SRC_DIR = TESTS_DIR.parents[1] / "src"

# Short leases, quick heartbeats and relay rounds, so that a lost job comes back within seconds.
FAST = {
    "VERENIGINGEN_JOB_LEASE_SECONDS": "1.5",
    "VERENIGINGEN_JOB_HEARTBEAT_SECONDS": "0.25",
    "VERENIGINGEN_JOB_LEASE_GRACE_SECONDS": "0.5",
    "VERENIGINGEN_JOB_RELAY_INTERVAL_SECONDS": "0.2",
    "VERENIGINGEN_JOB_STALE_AFTER_SECONDS": "1",
    "VERENIGINGEN_JOB_RETRY_BACKOFF_SECONDS": "0.05",
    "VERENIGINGEN_JOB_TASK_MODULES": "sample_tasks",
}


def settings_from(env: dict[str, str]) -> Settings:
    values = {k.removeprefix("VERENIGINGEN_").lower(): v for k, v in env.items()}
    return Settings(**values)


@dataclass
class Shape:
    """A database, an engine and the environment that points worker processes at them."""

    name: str
    env: dict[str, str]
    factory: sessionmaker[Session]
    engine: JobEngine
    marks: Path
    user_id: int
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: int = 0

    def process_env(self) -> dict[str, str]:
        path = os.pathsep.join([str(TESTS_DIR), str(SRC_DIR)])
        return {**os.environ, **self.env, "PYTHONPATH": path}

    def start_worker(self, **env: str) -> subprocess.Popen[bytes]:
        """A worker process; ``env`` adds to (or overrides) the shape's environment."""
        self.started += 1
        path = self.logs / f"worker-{self.started}.log"
        log = path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "verenigingen", "worker"],
            env={**self.process_env(), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        # Wait until it serves, so that a slow start (a loaded machine) is not counted against
        # the job timings of the tests.
        deadline = time.monotonic() + 90
        while b" serving " not in path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker did not start; see {path}")
            time.sleep(0.05)
        return process

    def ensure_workers(self, count: int = 2) -> None:
        self.workers = [w for w in self.workers if w.poll() is None]
        while len(self.workers) < count:
            self.start_worker()

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers = []

    def enqueue(self, name: str, **options: Any) -> int:
        with self.factory() as session, session.begin():
            user = session.get(User, self.user_id)
            assert user is not None
            return enqueue(session, name, user=user, **options).id

    def job(self, job_id: int) -> Job:
        # read_only: on SQLite a reader must not queue for the write lock a running job holds.
        with read_only(self.factory) as session:
            job = session.get(Job, job_id)
            assert job is not None
            session.expunge(job)  # keep its loaded values past the read-only rollback
            return job

    def wait_for(self, job_id: int, *statuses: str, timeout: float = 30.0) -> Job:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job.status in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"job {job_id} is {job.status} after {timeout} s, not {statuses}; "
                    f"worker logs in {self.logs}"
                )
            time.sleep(0.05)

    def running(self) -> list[int]:
        with read_only(self.factory) as session:
            return list(session.scalars(select(Job.id).where(Job.status == "Running")).all())

    def runs(self, key: str) -> int:
        path = self.marks / key
        return len(path.read_text().splitlines()) if path.exists() else 0
