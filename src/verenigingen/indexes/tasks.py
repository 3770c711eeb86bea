"""The index manager's work as tracked jobs, for the desk's performance page: measure an index's
impact, roll it back, build it again.

Measuring takes seconds (interleaved timed runs of the index's reads), and a build or a MariaDB
rollback (which measures before and after IGNORED) grows with the table, so the page queues them
and shows their progress. Like :mod:`verenigingen.indexes.service` they are boundaries of their
own: the service runs the DDL and writes the ledger on connections of its own. The job's session
is never used, only its engine: on SQLite a statement on it would take the write lock the
ledger's transactions need.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.indexes import catalog, service
from verenigingen.indexes.errors import IndexBuildFailed
from verenigingen.jobs import job, report_progress
from verenigingen.jobs.models import Queue

MEASURE_IMPACT = "indexes.measure_impact"
ROLLBACK = "indexes.rollback"
ADD = "indexes.add"
TASKS = (MEASURE_IMPACT, ROLLBACK, ADD)


def dedup_key(task: str, index: str) -> str:
    """One job per task and index while it waits or runs: a second press is the same job."""
    return f"{task}:{index}"


def _engine(session: Session) -> Engine:
    bind = session.get_bind()  # no statement: the session's transaction stays unbegun
    return bind if isinstance(bind, Engine) else bind.engine


@job(MEASURE_IMPACT, queue=Queue.LONG)
def measure_index_impact(session: Session, user: User, *, index: str) -> dict[str, Any]:
    """``verenigingen indexes impact NAME`` as a job: the medians with and without the index,
    written to its latest ledger entry when the manager added it."""
    report = service.measure_impact(_engine(session), user, catalog.resolve(index).name)
    return {
        "index": report.index,
        "runs": report.runs,
        "without_ms": round(report.total_without_ms, 3),
        "with_ms": round(report.total_with_ms, 3),
        "improvement": round(report.improvement, 4),
        "flagged": report.flagged,
    }


@job(ROLLBACK, queue=Queue.LONG)
def rollback_index(session: Session, user: User, *, index: str) -> dict[str, Any]:
    """``verenigingen indexes rollback NAME`` as a job; recorded in the ledger."""
    report_progress(0, 1)
    outcome = service.rollback_index(_engine(session), user, catalog.resolve(index).name)
    report_progress(1, 1)
    return {"index": outcome.spec.name, "state": outcome.state, "detail": outcome.detail}


@job(ADD, queue=Queue.LONG)
def add_index(session: Session, user: User, *, index: str) -> dict[str, Any]:
    """``verenigingen indexes add NAME`` as a job (built online; already valid: skipped);
    recorded in the ledger. A failed build fails the job with the ledger's reason."""
    report_progress(0, 1)
    (outcome,) = service.add_indexes(_engine(session), user, [catalog.resolve(index)])
    if outcome.failed:
        raise IndexBuildFailed(f"{outcome.spec.name}: {outcome.state}: {outcome.detail}")
    report_progress(1, 1)
    return {"index": outcome.spec.name, "action": outcome.action, "detail": outcome.detail}
