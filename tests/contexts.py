"""Application contexts for tests: a test's engine with a fresh cache, in-memory queues and an
in-process change signal for the runtime settings."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.app_context import CONTEXT_KEY, AppContext
from verenigingen.cache.memory import MemoryBackend
from verenigingen.cache.versioned import VersionedCache
from verenigingen.config import Settings
from verenigingen.jobs.engine import JobEngine
from verenigingen.settings.live import LiveSettings
from verenigingen.settings.signal import MemorySignal


def context_on(engine: Engine, settings: Settings | None = None) -> AppContext:
    """An application context on ``engine``: a fresh in-process cache, in-memory queues, and
    runtime settings whose changes only this context hears of (no file in the data directory)."""
    settings = settings or Settings()
    return AppContext.build(
        settings,
        database=engine,
        cache=VersionedCache(MemoryBackend()),
        jobs=JobEngine.memory(f"test{uuid.uuid4().hex[:8]}"),
        runtime=LiveSettings.start(settings, MemorySignal(), engine),
    )


def savepoint_sessions(session: Session) -> sessionmaker[Session]:
    """Sessions in savepoints of ``session``'s connection, with its context (and job engine):
    what a worker or a request of the test writes is rolled back with the test."""
    context: AppContext = session.info[CONTEXT_KEY]
    return sessionmaker(
        bind=session.connection(),
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        info=context.session_info(),
    )
