"""A long task's progress: reported without a query, written by the heartbeat while it runs
and with the job's end, shown by the API's job shape and ``jobs show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from contexts import savepoint_sessions
from verenigingen.auth.models import User
from verenigingen.cli.app import app
from verenigingen.config import Settings, get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory
from verenigingen.jobs import enqueue, report_progress
from verenigingen.jobs.claims import LeaseTerms
from verenigingen.jobs.heartbeat import HeldJob, renew_leases
from verenigingen.jobs.models import Job
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.progress import Figures, Progress, listening, reporting_to
from verenigingen.jobs.schemas import JobOut, JobProgressOut
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.perf.capture import capture

runner = CliRunner()


def test_a_report_outside_a_job_does_nothing_and_a_listener_hears_each(session: Session) -> None:
    heard: list[tuple[int, int]] = []
    with capture() as log:
        report_progress(1, 2)  # nobody listens
        with listening(lambda done, total: heard.append((done, total))):
            report_progress(1, 2)
            report_progress(2, 2)
        report_progress(3, 3)
    assert heard == [(1, 2), (2, 2)]
    assert log.count == 0


def test_a_job_that_reports_ends_with_its_last_figures(
    session: Session, treasurer: User, runtime: Runtime, job_engine: object
) -> None:
    job = enqueue(session, "test.counts_to", user=treasurer, total=7)
    session.commit()
    assert run_job(runtime, job.id) == RunOutcome.COMPLETED
    session.expire_all()
    stored = session.get(Job, job.id)
    assert stored is not None
    assert (stored.progress_done, stored.progress_total) == (7, 7)
    assert JobOut.of(stored).progress == JobProgressOut(done=7, total=7, percent=100.0)


def test_a_job_that_reports_nothing_shows_no_progress(
    session: Session, treasurer: User, runtime: Runtime, marks: str
) -> None:
    job = enqueue(session, "test.record", user=treasurer, marks=marks, key="a")
    session.commit()
    assert run_job(runtime, job.id) == RunOutcome.COMPLETED
    session.expire_all()
    stored = session.get(Job, job.id)
    assert stored is not None
    assert stored.progress_total is None
    assert JobOut.of(stored).progress is None


def test_the_heartbeat_writes_the_figures_of_a_running_job_once_per_change(
    session: Session, treasurer: User, settings: Settings, marks: str
) -> None:
    runtime = Runtime(savepoint_sessions(session), settings, worker_id="progress:1")
    job = enqueue(session, "test.record", user=treasurer, marks=marks, key="b")
    session.commit()
    with runtime.session_factory() as claiming, claiming.begin():
        claimed = runtime.claims.claim(claiming, job.id)
    assert claimed is not None
    held = HeldJob(claimed[0])
    with reporting_to(held.progress):
        report_progress(250, 1000)
    terms = LeaseTerms(10, 0.5)
    with runtime.session_factory() as beating, beating.begin(), capture() as first:
        renew_leases(beating, "progress:1", [held], terms)
    with runtime.session_factory() as beating, beating.begin(), capture() as second:
        renew_leases(beating, "progress:1", [held], terms)
    session.expire_all()
    stored = session.get(Job, job.id)
    assert stored is not None
    assert (stored.progress_done, stored.progress_total) == (250, 1000)
    assert JobOut.of(stored).progress == JobProgressOut(done=250, total=1000, percent=25.0)
    updates = [q for q in first.queries if q.sql.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 2  # the lease, the progress
    again = [q for q in second.queries if q.sql.lstrip().upper().startswith("UPDATE")]
    assert len(again) == 1  # unchanged figures are not written again


def test_figures_are_never_negative_and_a_zero_total_has_no_percent() -> None:
    progress = Progress()
    progress.report(-3, -1)
    assert progress.figures == Figures(0, 0)
    job = Job(progress_done=0, progress_total=0)
    assert JobProgressOut.of(job) == JobProgressOut(done=0, total=0, percent=None)


def test_jobs_show_prints_the_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERENIGINGEN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VERENIGINGEN_DATABASE_URL", raising=False)
    monkeypatch.delenv("VERENIGINGEN_REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert runner.invoke(app, ["init"]).exit_code == 0
        engine = make_engine(f"sqlite:///{tmp_path / 'verenigingen.db'}")
        with make_session_factory(engine)() as session, session.begin():
            admin = session.scalars(select(User)).one()
            job = enqueue(session, "test.counts_to", user=admin, total=40)
            job.progress_done, job.progress_total = 10, 40
            job_id = job.id
        engine.dispose()
        shown = runner.invoke(app, ["jobs", "show", str(job_id)])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["progress"] == {"done": 10, "total": 40, "percent": 25.0}
    finally:
        get_settings.cache_clear()
