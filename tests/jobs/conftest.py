"""In-process job fixtures: an in-memory engine, a runtime on the test's rolled-back connection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sample_tasks  # noqa: F401  (registers the test.* tasks)
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen.config import Settings
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Queue
from verenigingen.jobs.worker import Runtime, run_job


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        job_lease_grace_seconds=0.5,
        job_retry_backoff_seconds=0.0,
        job_stale_after_seconds=1.0,
        job_relay_interval_seconds=0.1,
    )


@pytest.fixture
def runtime(session: Session, settings: Settings) -> Runtime:
    """Runs jobs in savepoints of the test's connection: their commits are rolled back after."""
    return Runtime(savepoint_sessions(session), settings, worker_id="test:1")


@pytest.fixture
def marks(tmp_path: Path) -> str:
    path = tmp_path / "marks"
    path.mkdir()
    return str(path)


Drain = Callable[[], list[str]]


@pytest.fixture
def drain(job_engine: JobEngine, runtime: Runtime) -> Drain:
    """Run every message in the engine (as a worker would); returns the outcomes in order."""

    def run_all() -> list[str]:
        outcomes = []
        while True:
            message = next((m for q in Queue if (m := job_engine.take(q)) is not None), None)
            if message is None:
                return outcomes
            outcomes.append(run_job(runtime, message.args[0]))

    return run_all
