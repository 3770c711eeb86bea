"""The index manager's work as tracked jobs, for the desk's performance page: measure an index's
impact, roll it back, build it again; and the desired state of the runtime setting
``strategic_indexes`` applied when it changes (indexes.desired).

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
from verenigingen.indexes import catalog, desired, service
from verenigingen.indexes.errors import IndexBuildFailed, IndexBusy
from verenigingen.jobs import enqueue, job, report_progress
from verenigingen.jobs.models import Queue
from verenigingen.settings.registry import Value
from verenigingen.settings.service import applied_by

MEASURE_IMPACT = "indexes.measure_impact"
ROLLBACK = "indexes.rollback"
ADD = "indexes.add"
APPLY_STRATEGIC = "indexes.apply_strategic"
TASKS = (MEASURE_IMPACT, ROLLBACK, ADD, APPLY_STRATEGIC)

MAX_APPLY_ROUNDS = 3
"""The setting changed again while the job applied it: apply the newer state, this many times
at most (a later change queues a job of its own once this one has ended)."""


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


class IndexesBusy(RuntimeError):
    """Another index operation holds a strategic index: the job is retried after its backoff
    (not a domain error, which would fail it for good)."""


@applied_by(desired.SETTING)
def queue_apply_strategic(session: Session, user: User, value: Value) -> None:
    """``strategic_indexes`` changed: the job that applies it, in the changing transaction. One
    job while it waits or runs; it reads the state wanted when it runs, and again at its end."""
    enqueue(session, APPLY_STRATEGIC, user=user, dedup_key=APPLY_STRATEGIC)


@job(APPLY_STRATEGIC, queue=Queue.LONG)
def apply_strategic(session: Session, user: User) -> dict[str, Any]:
    """Build the strategic indexes online (``strategic_indexes`` on) or roll back those the
    manager added (off), each recorded in the index ledger. A build or rollback that fails
    fails the job with the reasons (the others are done and recorded)."""
    engine = _engine(session)
    present = desired.desired_present(engine, user)
    rounds: list[dict[str, object]] = []
    for _round in range(MAX_APPLY_ROUNDS):
        report_progress(len(rounds), len(rounds) + 1)
        try:
            state = desired.apply_strategic_indexes(engine, user, present=present)
        except IndexBusy as busy:
            raise IndexesBusy(busy.detail) from None
        rounds.append(state.as_result())
        if state.failed:
            raise IndexBuildFailed(state.detail)
        now = desired.desired_present(engine, user)
        if now == present:
            break
        present = now
    report_progress(len(rounds), len(rounds))
    return {"present": present, "rounds": rounds}
