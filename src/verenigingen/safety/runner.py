"""Running the five checks and recording the run; reading the runs back.

The runner is a boundary of its own, as the index manager is: each check reads in a session of
its own (the performance probe rolls its writes back), and the run is written in a short
transaction at the end, so that a check that takes a while holds no write lock and a run is
recorded whatever the checks found. A check that cannot run (the database refused a statement,
the cache's Redis is down, an index operation holds the index) is recorded as failed, not
critical, with the reason: the run still judges the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.db.paging import check_page, count_rows
from verenigingen.db.session import unit_of_work
from verenigingen.errors import DomainError, PermissionDenied
from verenigingen.safety.cache_check import cache_consistency
from verenigingen.safety.checks import CheckResult, index_health, job_health, payment_integrity
from verenigingen.safety.errors import NoSafetyRun
from verenigingen.safety.models import SafetyRollbackStep, SafetyRun, Trigger
from verenigingen.safety.probe import submit_performance
from verenigingen.settings import runtime_of

log = logging.getLogger(__name__)


def require_administrator(user: User) -> None:
    if not (user.enabled and user.role == Role.ADMINISTRATOR):
        raise PermissionDenied(f"role {user.role} may not run or read the safety checks")


@dataclass(frozen=True)
class RunReport:
    """A recorded run: its row's figures and its checks' results."""

    id: int
    trigger: str
    requested_by: str
    started_at: dt.datetime
    finished_at: dt.datetime
    passed: bool
    critical_failed: bool
    rolled_back: bool
    checks: list[CheckResult]

    @property
    def failed_checks(self) -> list[str]:
        return [check.name for check in self.checks if not check.passed]

    @classmethod
    def of(cls, run: SafetyRun) -> RunReport:
        return cls(
            id=run.id,
            trigger=run.trigger,
            requested_by=run.requested_by,
            started_at=run.started_at,
            finished_at=run.finished_at,
            passed=run.passed,
            critical_failed=run.critical_failed,
            rolled_back=run.rolled_back,
            checks=[CheckResult.of_json(value) for value in run.checks],
        )


def run_checks(context: AppContext, actor: User, *, trigger: Trigger) -> RunReport:
    """Run the five checks in the name of the administrator ``actor`` and record the run.

    403 for anyone but an enabled administrator (nothing run, nothing written)."""
    require_administrator(actor)
    started = clock.now()
    with context.read_sessions() as session:
        runtime = runtime_of(session)
    checks = [
        _guarded(
            "job health",
            lambda: _in_session(
                context,
                lambda s: job_health(
                    s,
                    clock.now(),
                    failure_rate_limit_percent=runtime.safety_job_failure_rate_percent,
                    backlog_age_limit_seconds=runtime.safety_backlog_age_seconds,
                ),
            ),
        ),
        _guarded(
            "cache consistency",
            lambda: _in_session(
                context,
                lambda s: cache_consistency(
                    s, context.cache, sample_size=runtime.safety_cache_sample_size
                ),
            ),
        ),
        _guarded(
            "payment data integrity",
            lambda: _in_session(
                context,
                lambda s: payment_integrity(s, summary_sample=runtime.safety_cache_sample_size),
            ),
        ),
        _guarded("index health", lambda: index_health(context.database, actor)),
        _guarded(
            "handler performance",
            lambda: submit_performance(
                context.sessions,
                actor.id,
                probes=runtime.safety_submit_probes,
                p95_limit_ms=runtime.safety_payment_submit_p95_ms,
            ),
        ),
    ]
    with unit_of_work(context.sessions) as session:
        run = SafetyRun(
            trigger=trigger.value,
            requested_by=actor.email,
            started_at=started,
            finished_at=clock.now(),
            passed=all(check.passed for check in checks),
            critical_failed=any(check.critical and not check.passed for check in checks),
            checks=[check.as_json() for check in checks],
            rolled_back=False,
        )
        session.add(run)
        session.flush()
        return RunReport.of(run)


def _in_session(context: AppContext, check: Callable[[Session], CheckResult]) -> CheckResult:
    with context.read_sessions() as session:
        return check(session)


def _guarded(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    try:
        return check()
    except (SQLAlchemyError, redis.RedisError, DomainError) as error:
        reason = error.detail if isinstance(error, DomainError) else type(error).__name__
        log.warning("safety check %s could not run: %s", name, error)
        return CheckResult(name, False, False, f"could not run: {reason}", {})


def latest_run(session: Session, user: User) -> tuple[RunReport, list[SafetyRollbackStep]]:
    """The latest run with the rollback or restore steps recorded against it; 404
    ``no_safety_run`` before the first run, 403 for anyone but an administrator."""
    require_administrator(user)
    run = session.scalar(select(SafetyRun).order_by(SafetyRun.id.desc()).limit(1))
    if run is None:
        raise NoSafetyRun("the safety checks have never run; run `verenigingen safety check`")
    return RunReport.of(run), steps_of(session, run.id)


def latest_run_of(session: Session, run_id: int) -> tuple[RunReport, list[SafetyRollbackStep]]:
    """The run ``run_id`` as it is now recorded, with its steps."""
    return RunReport.of(session.get_one(SafetyRun, run_id)), steps_of(session, run_id)


def steps_of(session: Session, run_id: int) -> list[SafetyRollbackStep]:
    return list(
        session.scalars(
            select(SafetyRollbackStep)
            .where(SafetyRollbackStep.run_id == run_id)
            .order_by(SafetyRollbackStep.id)
        )
    )


def run_history(
    session: Session, user: User, *, limit: int = 20, offset: int = 0
) -> tuple[list[RunReport], int]:
    """The runs, newest first, with their total count; 422 for a page out of range."""
    require_administrator(user)
    check_page(limit, offset)
    statement = select(SafetyRun)
    total = count_rows(session, statement)
    runs = session.scalars(statement.order_by(SafetyRun.id.desc()).limit(limit).offset(offset))
    return [RunReport.of(run) for run in runs], total


def last_run_glance(session: Session) -> RunReport | None:
    """The latest run for ``/health`` (no permission: it shows only its status), or None."""
    run = session.scalar(select(SafetyRun).order_by(SafetyRun.id.desc()).limit(1))
    return RunReport.of(run) if run is not None else None
