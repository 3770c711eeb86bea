"""History fixtures: a Treasurer's ledger factory, a fresh cache per test, jobs run in process."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from contexts import savepoint_sessions

# The ledger factories live with the billing tests; the history is read from the same ledger.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "billing"))

from billing_factories import LedgerFactory
from history_factories import Drain, make_drain

from verenigingen.app_context import context_of
from verenigingen.auth.models import User
from verenigingen.cache import VersionedCache
from verenigingen.config import Settings
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.worker import Runtime


@pytest.fixture(autouse=True)
def _every_test_on_the_frozen_clock(frozen_today: dt.date) -> None:
    """The history tests run on the root conftest's clock (DEFAULT_TODAY, a Monday)."""


@pytest.fixture
def cache(session: Session) -> VersionedCache:
    """The cache of the test session's context: this test's only (ids and tag versions repeat
    between rolled-back tests)."""
    return context_of(session).cache


@pytest.fixture
def ledger(session: Session, treasurer: User) -> LedgerFactory:
    return LedgerFactory(session, treasurer)


@pytest.fixture
def runtime(session: Session, tmp_path: Path) -> Runtime:
    """Runs jobs in savepoints of the test's connection: their commits are rolled back after."""
    settings = Settings(data_dir=tmp_path, job_retry_backoff_seconds=0.0)
    return Runtime(savepoint_sessions(session), settings, "t:1")


@pytest.fixture
def drain(job_engine: JobEngine, runtime: Runtime) -> Drain:
    """After ``session.commit()``: run every dispatched job, as a worker would."""
    return make_drain(job_engine, runtime)
