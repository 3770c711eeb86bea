"""In-process job fixtures: an in-memory engine, a runtime on the test's rolled-back connection."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sample_tasks  # noqa: F401  (registers the test.* tasks)
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.config import Settings
from verenigingen.jobs.engine import JobEngine, using_engine
from verenigingen.jobs.models import Queue
from verenigingen.jobs.worker import Runtime, run_job


@pytest.fixture
def job_engine() -> Iterator[JobEngine]:
    with using_engine(JobEngine.memory(f"test{uuid.uuid4().hex[:8]}")) as engine:
        yield engine


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
    factory = sessionmaker(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return Runtime(factory, settings, worker_id="test:1")


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
