"""The safety checks and the restore as jobs (the desk's safety page queues them): a run with
the trigger ``desk``, the rollback only when asked, and a restore that waits for passing checks."""

from __future__ import annotations

from safety_factories import Installation, forget_a_tag_bump
from sqlalchemy import select

import verenigingen.safety.tasks  # noqa: F401  (registers safety.check and safety.restore)
from verenigingen.auth.models import User
from verenigingen.db.session import unit_of_work
from verenigingen.jobs import enqueue
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.safety.models import SafetyRollbackStep, SafetyRun
from verenigingen.settings import runtime_of


def _run(installation: Installation, task: str, **params: object) -> Job:
    context = installation.context
    with unit_of_work(context.sessions) as session:
        job_id = enqueue(
            session, task, user=session.get_one(User, installation.admin_id), **params
        ).id
    assert run_job(Runtime(context.sessions, context.settings), job_id) is RunOutcome.COMPLETED
    with context.read_sessions() as session:
        job = session.get_one(Job, job_id)
        session.expunge(job)
    return job


def _deferral(installation: Installation) -> bool:
    with installation.context.read_sessions() as session:
        return bool(runtime_of(session).defer_heavy_handlers)


def test_a_passing_run_from_the_desk(installation: Installation) -> None:
    job = _run(installation, "safety.check", auto_rollback=False)
    assert job.status == JobStatus.COMPLETED.value
    with installation.context.read_sessions() as session:
        run = session.get_one(SafetyRun, job.result["run"])
        assert (run.trigger, run.passed, run.rolled_back) == ("desk", True, False)
    assert job.result == {"run": run.id, "passed": True, "failed_checks": [], "rolled_back": False}


def test_a_critical_failure_rolls_back_only_when_asked_then_restore_waits_for_the_checks(
    installation: Installation,
) -> None:
    installation.read_history()
    forget_a_tag_bump(installation)

    without = _run(installation, "safety.check", auto_rollback=False)
    assert (without.result["passed"], without.result["rolled_back"]) == (False, False)
    assert _deferral(installation) is True

    rolled = _run(installation, "safety.check", auto_rollback=True)
    assert rolled.result["failed_checks"] == ["cache consistency"]
    assert rolled.result["rolled_back"] is True
    assert _deferral(installation) is False

    # The rollback cleared every cache, so the checks pass again and the restore goes ahead.
    restored = _run(installation, "safety.restore")
    assert restored.status == JobStatus.COMPLETED.value
    assert restored.result["restored"] is True
    assert _deferral(installation) is True
    with installation.context.read_sessions() as session:
        steps = session.scalars(
            select(SafetyRollbackStep.action).where(
                SafetyRollbackStep.run_id == restored.result["run"]
            )
        ).all()
    assert set(steps) == {"restore"}


def test_a_restore_while_a_critical_check_fails_changes_nothing(installation: Installation) -> None:
    installation.read_history()
    forget_a_tag_bump(installation)
    job = _run(installation, "safety.restore")
    assert job.status == JobStatus.COMPLETED.value
    assert job.result["restored"] is False
    assert "cache consistency" in job.result["reason"]
    assert _deferral(installation) is True
