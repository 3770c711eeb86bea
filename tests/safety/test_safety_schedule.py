"""The scheduled safety run: the workers start it every ``safety_check_interval_minutes`` (once a
slot, whatever the number of workers; never at 0), and a critical failure rolls the
optimizations back only when ``safety_auto_rollback`` allows."""

from __future__ import annotations

import datetime as dt

from safety_factories import Installation, forget_a_tag_bump
from sqlalchemy import select

import verenigingen.safety.tasks  # noqa: F401  (registers safety.scheduled_check)
from verenigingen.app_context import AppContext
from verenigingen.auth.models import User
from verenigingen.db.session import unit_of_work
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.periodic import PeriodicJobs
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.safety.models import SafetyRun
from verenigingen.settings import runtime_of
from verenigingen.settings.service import set_setting

NOON = dt.datetime(2026, 3, 2, 12, 2)
TASK = "safety.scheduled_check"


def _set(installation: Installation, name: str, value: object) -> None:
    with unit_of_work(installation.context.sessions) as session:
        set_setting(session, session.get_one(User, installation.admin_id), name, value)


def _jobs(context: AppContext) -> list[Job]:
    with context.read_sessions() as session:
        return list(session.scalars(select(Job).where(Job.name == TASK).order_by(Job.id)))


def _flag(context: AppContext, name: str) -> bool:
    with context.read_sessions() as session:
        return bool(runtime_of(session).value_of(name))


def test_no_scheduled_run_while_the_interval_is_zero(installation: Installation) -> None:
    assert PeriodicJobs().start(installation.context.sessions, NOON) == []
    assert _jobs(installation.context) == []


def test_the_workers_start_one_run_a_slot(installation: Installation) -> None:
    _set(installation, "safety_check_interval_minutes", 5)
    sessions = installation.context.sessions

    first = PeriodicJobs().start(sessions, NOON)
    same_slot = PeriodicJobs().start(sessions, NOON + dt.timedelta(minutes=2))  # another worker
    next_slot = PeriodicJobs().start(sessions, NOON + dt.timedelta(minutes=3))

    assert len(first) == len(next_slot) == 1
    assert same_slot == []
    jobs = _jobs(installation.context)
    assert [job.id for job in jobs] == first + next_slot
    assert [job.dedup_key for job in jobs] == [
        f"every:{TASK}:2026-03-02T12:00",
        f"every:{TASK}:2026-03-02T12:05",
    ]
    assert {(job.user_id, job.queue, job.status) for job in jobs} == {
        (installation.admin_id, "short", JobStatus.QUEUED.value)
    }
    # Back at 0 the workers start none, whatever slot it is.
    _set(installation, "safety_check_interval_minutes", 0)
    assert PeriodicJobs().start(sessions, NOON + dt.timedelta(minutes=30)) == []


def _run_the_scheduled_check(installation: Installation) -> tuple[Job, SafetyRun]:
    installation.read_history()  # a history in the cache ...
    forget_a_tag_bump(installation)  # ... made stale by a write that bumped no tag
    _set(installation, "safety_check_interval_minutes", 5)
    context = installation.context
    [job_id] = PeriodicJobs().start(context.sessions, NOON)

    assert run_job(Runtime(context.sessions, context.settings), job_id) is RunOutcome.COMPLETED

    with context.read_sessions() as session:
        job = session.get_one(Job, job_id)
        run = session.get_one(SafetyRun, job.result["run"])
        session.expunge_all()
    return job, run


def test_a_critical_failure_rolls_back_when_the_setting_allows(
    installation: Installation,
) -> None:
    _set(installation, "safety_auto_rollback", True)

    job, run = _run_the_scheduled_check(installation)

    assert job.status == JobStatus.COMPLETED.value
    assert job.result == {
        "run": run.id,
        "passed": False,
        "failed_checks": ["cache consistency"],
        "rolled_back": True,
    }
    assert (run.trigger, run.critical_failed, run.rolled_back) == ("schedule", True, True)
    assert _flag(installation.context, "defer_heavy_handlers") is False


def test_without_the_setting_the_run_is_recorded_and_nothing_is_switched_off(
    installation: Installation,
) -> None:
    job, run = _run_the_scheduled_check(installation)

    assert job.result == {
        "run": run.id,
        "passed": False,
        "failed_checks": ["cache consistency"],
        "rolled_back": False,
    }
    assert (run.trigger, run.critical_failed, run.rolled_back) == ("schedule", True, False)
    assert _flag(installation.context, "defer_heavy_handlers") is True
