"""The rollback after a critical failure, end to end, and the restore; on SQLite with the
in-process cache and on PostgreSQL with the cache in Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from safety_factories import Installation, forget_a_tag_bump, install
from sqlalchemy import Engine, inspect, select, update
from sqlalchemy.orm import Session

from server_databases import committed_engine_on
from verenigingen.app_context import AppContext
from verenigingen.billing.models import Invoice
from verenigingen.cache.memory import MemoryBackend
from verenigingen.cache.redis_backend import RedisBackend
from verenigingen.cache.versioned import VersionedCache
from verenigingen.config import Settings
from verenigingen.db.session import unit_of_work
from verenigingen.history.service import NAMESPACE
from verenigingen.indexes import catalog
from verenigingen.indexes.models import IndexChange, IndexState
from verenigingen.indexes.service import add_indexes
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Notification
from verenigingen.safety.errors import SafetyChecksFailing
from verenigingen.safety.models import SafetyRollbackStep, SafetyRun, Trigger
from verenigingen.safety.rollback import restore, roll_back
from verenigingen.safety.runner import run_checks
from verenigingen.settings import runtime_of
from verenigingen.settings.live import LiveSettings
from verenigingen.settings.models import RuntimeSettingChange
from verenigingen.settings.service import set_setting
from verenigingen.settings.signal import MemorySignal

MANAGED = [spec for spec in catalog.STRATEGIC if not spec.declared_by_models]


def _context(engine: Engine, cache: VersionedCache) -> AppContext:
    settings = Settings()
    return AppContext.build(
        settings,
        database=engine,
        cache=cache,
        jobs=JobEngine.memory(f"test{uuid.uuid4().hex[:8]}"),
        runtime=LiveSettings.start(settings, MemorySignal(), engine),
    )


@pytest.fixture(params=["sqlite", "postgres+redis"])
def shape(request: pytest.FixtureRequest, fresh_sqlite: Engine) -> Iterator[AppContext]:
    if request.param == "sqlite":
        context = _context(fresh_sqlite, VersionedCache(MemoryBackend()))
        yield context
        context.jobs.close()
        return
    redis_url: str = request.getfixturevalue("redis_url")
    for engine in committed_engine_on("VERENIGINGEN_TEST_POSTGRES_URL"):
        backend = RedisBackend(redis_url, prefix=f"test-safety-{uuid.uuid4().hex[:8]}")
        context = _context(engine, VersionedCache(backend))
        try:
            yield context
        finally:
            backend.clear()
            context.jobs.close()


def flag(context: AppContext, name: str) -> bool:
    with context.read_sessions() as session:
        return bool(runtime_of(session).value_of(name))


def present_indexes(context: AppContext) -> set[str]:
    tables = {spec.table for spec in MANAGED}
    inspector = inspect(context.database)
    return {index["name"] or "" for table in tables for index in inspector.get_indexes(table)}


def optimized(installation: Installation) -> None:
    """The optimizations on: the strategic indexes added by the manager, the cache filled."""
    admin = installation.admin()
    with unit_of_work(installation.context.sessions) as session:
        set_setting(session, session.get_one(type(admin), admin.id), "strategic_indexes", True)
    outcomes = add_indexes(installation.context.database, admin, MANAGED)
    assert [o.state for o in outcomes] == [IndexState.VALID] * len(MANAGED)
    installation.read_history()


def steps(session: Session, run_id: int) -> list[tuple[str, str, str]]:
    return [
        (s.action, s.name, s.outcome)
        for s in session.scalars(
            select(SafetyRollbackStep)
            .where(SafetyRollbackStep.run_id == run_id)
            .order_by(SafetyRollbackStep.id)
        )
    ]


def test_a_critical_failure_rolls_back_in_order_and_restore_turns_it_all_on_again(
    shape: AppContext,
) -> None:
    installation = install(shape)
    optimized(installation)
    assert MANAGED
    assert {s.name for s in MANAGED} <= present_indexes(shape)
    assert shape.cache.backend.keys(NAMESPACE, 10) != []
    forget_a_tag_bump(installation)
    admin = installation.admin()

    failed = run_checks(shape, admin, trigger=Trigger.COMMAND)
    assert failed.critical_failed
    assert failed.failed_checks == ["cache consistency"]
    report = roll_back(shape, admin, failed)

    with shape.read_sessions() as session:
        assert steps(session, failed.id) == [
            ("rollback", "turn deferral off", "done"),
            ("rollback", "clear every cache", "done"),
            ("rollback", "roll back the strategic indexes", "done"),
            ("rollback", "re-run the checks", "done"),
        ]
        assert session.get_one(SafetyRun, failed.id).rolled_back
        audit = session.scalars(
            select(RuntimeSettingChange).order_by(RuntimeSettingChange.id)
        ).all()
        assert [(a.name, a.new_value, a.changed_by) for a in audit[-2:]] == [
            ("defer_heavy_handlers", "false", f"safety monitor (for {admin.email})"),
            ("strategic_indexes", "false", f"safety monitor (for {admin.email})"),
        ]
        ledger = session.scalars(select(IndexChange.index_name).order_by(IndexChange.id)).all()
        assert ledger == [s.name for s in MANAGED]
        states = {
            c.index_name: c.state
            for c in session.scalars(select(IndexChange).order_by(IndexChange.id))
        }
        assert set(states.values()) == {IndexState.ROLLED_BACK}
        notes = session.scalars(select(Notification).where(Notification.user_id == admin.id)).all()
        assert [n.subject for n in notes] == [f"Safety rollback after run {failed.id}"]
        assert "cache consistency" in notes[0].message
    assert flag(shape, "defer_heavy_handlers") is False
    assert flag(shape, "strategic_indexes") is False
    assert shape.cache.backend.keys(NAMESPACE, 10) == []
    assert not {s.name for s in MANAGED} & present_indexes(shape)
    assert report.confirmation is not None
    assert (report.confirmation.passed, report.confirmation.trigger) == (True, "confirm")

    restored = restore(shape, admin)
    assert [(s.name, s.outcome) for s in restored.steps] == [
        ("turn the optimizations back on", "done"),
        ("add the strategic indexes again", "done"),
    ]
    assert flag(shape, "defer_heavy_handlers") is True
    assert flag(shape, "strategic_indexes") is True
    assert {s.name for s in MANAGED} <= present_indexes(shape)
    # A second restore finds nothing left to put back.
    again = restore(shape, admin)
    assert [s.outcome for s in again.steps] == ["skipped", "skipped"]


def test_restore_is_refused_while_a_critical_check_fails_and_changes_nothing(
    shape: AppContext,
) -> None:
    installation = install(shape)
    admin = installation.admin()
    forget_a_tag_bump(installation)
    installation.read_history()
    with unit_of_work(shape.sessions) as session:
        session.execute(
            update(Invoice)
            .where(Invoice.id == installation.invoice_id)
            .values(outstanding_amount=Decimal("12.00"))
        )
    failed = run_checks(shape, admin, trigger=Trigger.COMMAND)
    report = roll_back(shape, admin, failed)
    assert report.confirmation is not None
    assert report.confirmation.critical_failed
    assert report.steps[-1].outcome == "failed"
    assert "still failing: payment data integrity" in report.steps[-1].detail
    with pytest.raises(SafetyChecksFailing, match="payment data integrity"):
        restore(shape, admin)
    assert flag(shape, "defer_heavy_handlers") is False
    with shape.read_sessions() as session:
        assert [s for s in steps(session, failed.id) if s[0] == "restore"] == []
        runs = session.scalars(select(SafetyRun.trigger).order_by(SafetyRun.id)).all()
    assert runs == ["command", "confirm", "confirm"]  # the refusing run is recorded
