"""The scheduled safety run: a periodic job (``safety_check_interval_minutes``, 0: none) that runs
the five checks and, when a critical one fails and ``safety_auto_rollback`` allows, the rollback.

Like ``verenigingen safety check``, the run is a boundary of its own: the checks read and record
in transactions of their own (a run is recorded whatever its checks find), so the job's session
only reads the runtime settings. The job runs in a worker, which has no application context: the
run gets one on the worker's database, with the cache of the installation's settings (with Redis,
the entries every process is served from; in memory, an empty cache of its own, so that the
cache-consistency check compares nothing, as from the command line).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from verenigingen.app_context import AppContext, NoContext, context_of, settings_of
from verenigingen.auth.models import User
from verenigingen.jobs import job
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Queue
from verenigingen.safety.errors import SafetyChecksFailing
from verenigingen.safety.models import Trigger
from verenigingen.safety.rollback import restore, roll_back
from verenigingen.safety.runner import run_checks
from verenigingen.settings import runtime_of


@job(
    "safety.scheduled_check",
    queue=Queue.SHORT,
    every_setting="safety_check_interval_minutes",
)
def scheduled_check(session: Session, user: User) -> dict[str, Any]:
    """Run the checks as a scheduled run in ``user``'s name (the first enabled administrator);
    on a critical failure, roll back when ``safety_auto_rollback`` is on. The run's id, whether
    it passed, and whether it rolled back."""
    auto_rollback = runtime_of(session).safety_auto_rollback
    context, owned = _context(session)
    try:
        run = run_checks(context, user, trigger=Trigger.SCHEDULE)
        rolled_back = False
        if run.critical_failed and auto_rollback:
            roll_back(context, user, run)
            rolled_back = True
    finally:
        if owned:
            context.jobs.close()
            context.runtime.close()
    return {
        "run": run.id,
        "passed": run.passed,
        "failed_checks": run.failed_checks,
        "rolled_back": rolled_back,
    }


@job("safety.check", queue=Queue.SHORT)
def check(session: Session, user: User, *, auto_rollback: bool = False) -> dict[str, Any]:
    """The checks on demand (the desk's safety page) in ``user``'s name; with ``auto_rollback``
    a critical failure runs the rollback steps, as ``POST /api/v1/safety/check`` does."""
    context, owned = _context(session)
    try:
        run = run_checks(context, user, trigger=Trigger.DESK)
        rolled_back = False
        if run.critical_failed and auto_rollback:
            roll_back(context, user, run)
            rolled_back = True
    finally:
        _close(context, owned)
    return {
        "run": run.id,
        "passed": run.passed,
        "failed_checks": run.failed_checks,
        "rolled_back": rolled_back,
    }


@job("safety.restore", queue=Queue.SHORT)
def restore_optimizations(session: Session, user: User) -> dict[str, Any]:
    """``verenigingen safety restore`` as a job (the desk's safety page): the checks first, then
    what the rollbacks switched off back on. While a critical check fails nothing is restored:
    the job completes saying so (the run is recorded), as the command refuses with 409."""
    context, owned = _context(session)
    try:
        report = restore(context, user)
    except SafetyChecksFailing as failing:
        return {"restored": False, "reason": failing.detail}
    finally:
        _close(context, owned)
    return {
        "restored": True,
        "run": report.run.id,
        "steps": [f"{step.name}: {step.outcome}" for step in report.steps],
    }


def _close(context: AppContext, owned: bool) -> None:
    if owned:
        context.jobs.close()
        context.runtime.close()


def _context(session: Session) -> tuple[AppContext, bool]:
    """The session's application context, or one built on its database for this run (and so
    to be closed by the caller, but not its engine, which is the worker's)."""
    try:
        return context_of(session), False
    except NoContext:
        pass
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    jobs = JobEngine.memory(f"safety-{uuid.uuid4().hex[:8]}")
    return AppContext.build(settings_of(session), database=engine, jobs=jobs), True
