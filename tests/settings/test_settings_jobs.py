"""Job timeouts per queue and per task are runtime settings, fixed when a job is enqueued; and
a worker's jobs see a change made by another process at their next transaction."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.cache.memory import MemoryBackend
from verenigingen.cache.versioned import VersionedCache
from verenigingen.config import Settings
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.history import tasks as history_tasks
from verenigingen.jobs import JobRequest, enqueue, enqueue_many, job
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Job
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.sepa import tasks as sepa_tasks
from verenigingen.settings import runtime_of
from verenigingen.settings.service import set_setting

PROBE = "test.settings_probe"


@job(PROBE, queue="short")
def settings_probe(session: Session, user: User) -> dict[str, Any]:
    """What a job sees of the runtime settings."""
    return {"payment_history_cache": runtime_of(session).payment_history_cache}


def test_a_task_without_a_timeout_takes_its_queues_setting(
    session: Session, admin: User, treasurer: User
) -> None:
    before = enqueue(session, PROBE, user=treasurer)
    set_setting(session, admin, "job_timeout_short_seconds", 45)
    after = enqueue(session, PROBE, user=treasurer)
    explicit = enqueue(session, PROBE, user=treasurer, timeout=7)
    on_long = enqueue(session, PROBE, user=treasurer, queue="long")
    assert [j.timeout for j in (before, after, explicit, on_long)] == [300, 45, 7, 1500]


def test_the_plans_task_timeouts_and_a_change_for_the_next_job(
    session: Session, admin: User, treasurer: User
) -> None:
    def timeouts() -> list[int]:
        requests = [
            JobRequest(history_tasks.APPLY_SUMMARY_DELTA, {"customer_id": 1}),
            JobRequest(history_tasks.RECALCULATE_SUMMARY, {"customer_id": 1}),
            JobRequest(history_tasks.RECALCULATE_SUMMARIES, {"customer_ids": [1]}),
            JobRequest(sepa_tasks.RECORD_MANDATE_USAGE, {"payment_id": 1}),
            JobRequest(history_tasks.UPDATE_PAYMENT_ANALYTICS, {"months": ["2026-03"]}),
            JobRequest(history_tasks.RECALCULATE_ALL, {}),  # no setting of its own: its queue's
        ]
        ids = enqueue_many(session, requests, user=treasurer)
        return list(session.scalars(select(Job.timeout).where(Job.id.in_(ids)).order_by(Job.id)))

    assert timeouts() == [300, 300, 300, 180, 600, 1500]
    set_setting(session, admin, "job_timeout_mandate_usage_seconds", 90)
    set_setting(session, admin, "job_timeout_payment_analytics_seconds", "1200")
    set_setting(session, admin, "job_timeout_long_seconds", 3600)
    assert timeouts() == [300, 300, 300, 90, 1200, 3600]


def test_a_task_naming_no_setting_of_seconds_is_refused_at_registration() -> None:
    for name in ("job_timeout_nothing_seconds", "payment_history_cache"):
        with pytest.raises(ValueError, match="no runtime setting of seconds"):
            job(f"test.{uuid.uuid4().hex[:6]}", timeout_setting=name)(settings_probe)


def test_a_workers_jobs_see_a_change_made_by_another_process(
    fresh_sqlite: Engine, tmp_path: Path
) -> None:
    settings = Settings(database_url=str(fresh_sqlite.url), data_dir=tmp_path)
    with unit_of_work(make_session_factory(fresh_sqlite)) as session:
        admin = create_user(session, "beheer@example.org", Role.ADMINISTRATOR)
        first = enqueue(session, PROBE, user=admin).id
        second = enqueue(session, PROBE, user=admin).id
    worker = Runtime.from_settings(settings, JobEngine.memory(f"t{uuid.uuid4().hex[:8]}"))
    assert run_job(worker, first) == RunOutcome.COMPLETED
    # Another process (the API, a command) on the same data directory changes the setting.
    api = AppContext.build(
        settings,
        database=fresh_sqlite,
        cache=VersionedCache(MemoryBackend()),
        jobs=JobEngine.memory(f"t{uuid.uuid4().hex[:8]}"),
    )
    with unit_of_work(api.sessions) as session:
        administrator = session.get(User, admin.id)
        assert administrator is not None
        set_setting(session, administrator, "payment_history_cache", False)
    assert run_job(worker, second) == RunOutcome.COMPLETED
    with make_session_factory(fresh_sqlite)() as session:
        rows = session.scalars(select(Job).where(Job.id.in_([first, second])).order_by(Job.id))
        results = [row.result for row in rows]
    assert results == [{"payment_history_cache": True}, {"payment_history_cache": False}]
