"""``verenigingen safety``: check (exit 1 on a critical failure), the rollback, restore, history;
on the embedded shape."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select, update
from typer.testing import CliRunner

from verenigingen import clock
from verenigingen.cli.app import app
from verenigingen.config import get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.safety.models import SafetyRollbackStep, SafetyRun
from verenigingen.settings.models import RuntimeSetting

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("VERENIGINGEN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VERENIGINGEN_DATABASE_URL", raising=False)
    monkeypatch.delenv("VERENIGINGEN_REDIS_URL", raising=False)
    monkeypatch.setattr("verenigingen.cli.safety.console", Console(width=250, soft_wrap=True))
    get_settings.cache_clear()
    assert runner.invoke(app, ["init"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


def database(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'verenigingen.db'}"


def a_job_stuck_running(data_dir: Path) -> None:
    engine = make_engine(database(data_dir))
    with unit_of_work(make_session_factory(engine)) as session:
        session.add(
            Job(
                name="history.apply_summary_delta",
                queue="default",
                params={},
                user_id=1,
                status=JobStatus.RUNNING,
                timeout=300,
                lease_until=clock.now() - dt.timedelta(minutes=5),
            )
        )
    engine.dispose()


def its_lease_taken_back(data_dir: Path) -> None:
    engine = make_engine(database(data_dir))
    with unit_of_work(make_session_factory(engine)) as session:
        session.execute(update(Job).values(status=JobStatus.QUEUED, lease_until=None))
    engine.dispose()


def test_check_passes_then_fails_rolls_back_and_restores_after_the_fix(data_dir: Path) -> None:
    passed = runner.invoke(app, ["safety", "check"])
    assert passed.exit_code == 0, passed.output
    assert "job health" in passed.output
    assert "│ failed" not in passed.output

    a_job_stuck_running(data_dir)
    failed = runner.invoke(app, ["safety", "check"])
    assert failed.exit_code == 1
    assert "1 Running job(s) past their lease" in failed.output
    assert "a critical safety check failed" in failed.output

    rolled = runner.invoke(app, ["safety", "check", "--auto-rollback"])
    assert rolled.exit_code == 1  # a stuck job is not something the rollback mends
    assert "1. turn deferral off" in rolled.output
    assert "still failing: job health" in rolled.output

    refused = runner.invoke(app, ["safety", "restore"])
    assert refused.exit_code == 1
    assert "the optimizations stay off" in refused.output

    its_lease_taken_back(data_dir)
    restored = runner.invoke(app, ["safety", "restore"])
    assert restored.exit_code == 0, restored.output
    assert "turn the optimizations back on" in restored.output

    engine = make_engine(database(data_dir))
    with make_session_factory(engine)() as session:
        triggers = session.scalars(select(SafetyRun.trigger).order_by(SafetyRun.id)).all()
        outcomes = session.scalars(
            select(SafetyRollbackStep.outcome).order_by(SafetyRollbackStep.id)
        ).all()
        defer = session.get_one(RuntimeSetting, "defer_heavy_handlers")
        assert (defer.value, defer.updated_by) == ("true", "safety monitor (for admin@example.org)")
    engine.dispose()
    assert triggers == ["command", "command", "command", "confirm", "confirm", "confirm"]
    assert outcomes == ["done", "done", "skipped", "failed", "done", "skipped"]

    history = runner.invoke(app, ["safety", "history"])
    assert history.exit_code == 0
    assert "safety runs (6 in all)" in history.output
    assert "job health" in history.output


def test_history_refuses_a_limit_out_of_range(data_dir: Path) -> None:
    result = runner.invoke(app, ["safety", "history", "--limit", "0"])
    assert result.exit_code == 2
