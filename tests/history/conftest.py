"""History fixtures: a Treasurer's ledger factory, a fresh cache per test, jobs run in process."""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

# The ledger factories live with the billing tests; the history is read from the same ledger.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "billing"))

from billing_factories import LedgerFactory
from history_factories import Drain, make_drain

from verenigingen.auth.models import User
from verenigingen.cache import VersionedCache, using_cache
from verenigingen.cache.memory import MemoryBackend
from verenigingen.config import Settings
from verenigingen.jobs.engine import JobEngine, using_engine
from verenigingen.jobs.worker import Runtime


@pytest.fixture(autouse=True)
def _every_test_on_the_frozen_clock(frozen_today: dt.date) -> None:
    """The history tests run on the root conftest's clock (DEFAULT_TODAY, a Monday)."""


@pytest.fixture(autouse=True)
def cache() -> Iterator[VersionedCache]:
    """A cache of this test only: ids and tag versions repeat between rolled-back tests."""
    with using_cache(VersionedCache(MemoryBackend(max_entries=1000))) as fresh:
        yield fresh


@pytest.fixture
def ledger(session: Session, treasurer: User) -> LedgerFactory:
    return LedgerFactory(session, treasurer)


@pytest.fixture
def job_engine() -> Iterator[JobEngine]:
    with using_engine(JobEngine.memory(f"history{uuid.uuid4().hex[:8]}")) as engine:
        yield engine


@pytest.fixture
def runtime(session: Session, tmp_path: Path) -> Runtime:
    """Runs jobs in savepoints of the test's connection: their commits are rolled back after."""
    factory = sessionmaker(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return Runtime(factory, Settings(data_dir=tmp_path, job_retry_backoff_seconds=0.0), "t:1")


@pytest.fixture
def drain(job_engine: JobEngine, runtime: Runtime) -> Drain:
    """After ``session.commit()``: run every dispatched job, as a worker would."""
    return make_drain(job_engine, runtime)
