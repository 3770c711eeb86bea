"""The safety checks: each watches one thing the optimizations could break, and says so.

A check reads, never writes (the performance probe writes only inside a transaction it rolls
back), and returns a :class:`CheckResult`: whether it passed, whether a failure is critical
(``--auto-rollback`` acts on critical failures only), the figures it judged, and a message a
person reads. The limits are runtime settings (``safety_*``), read once per run.

1. :func:`job_health`: the job table, which every worker writes (one place for all processes).
2. :func:`cache_consistency` (``safety.cache_check``): cached histories recomputed.
3. :func:`payment_integrity`: the ledger invariants in SQL over every submitted document
   (``billing.integrity``), and a sample of member summaries against the ledger.
4. :func:`index_health`: the strategic indexes as the database and the index ledger have them.
5. :func:`submit_performance` (``safety.probe``): the 95th percentile of a payment submit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.integrity import ledger_violations
from verenigingen.history.models import MemberFinancialSummary
from verenigingen.history.summary import ledger_figures
from verenigingen.indexes import catalog
from verenigingen.indexes.models import IndexChange, IndexState
from verenigingen.indexes.service import index_status
from verenigingen.jobs.models import Job, JobStatus

Figure = int | float | str | None

IMPACT_BAR = Decimal("0.30")
"""An index improving its reads by less than this is flagged (not failed): the plan's 30 %."""
MAX_LISTED = 10
"""Problems named in a message; the figures count them all."""


@dataclass(frozen=True)
class CheckResult:
    """What one check found."""

    name: str
    passed: bool
    critical: bool
    """A failure of this check starts the rollback (with ``--auto-rollback``)."""
    message: str
    figures: dict[str, Figure] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "critical": self.critical,
            "message": self.message,
            "figures": dict(self.figures),
        }

    @classmethod
    def of_json(cls, value: dict[str, Any]) -> CheckResult:
        return cls(
            name=str(value["name"]),
            passed=bool(value["passed"]),
            critical=bool(value["critical"]),
            message=str(value["message"]),
            figures=dict(value.get("figures") or {}),
        )


def listed(problems: list[str]) -> str:
    """The first problems, and how many more there are."""
    shown = "; ".join(problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    return f"{shown}; and {more} more" if more > 0 else shown


def job_health(
    session: Session,
    now: dt.datetime,
    *,
    failure_rate_limit_percent: Decimal,
    backlog_age_limit_seconds: int,
) -> CheckResult:
    """The jobs of the last hour failed no more often than the limit, no Running job outlived
    its lease, and no due Queued job has waited longer than the limit. Three statements."""
    hour_ago = now - dt.timedelta(hours=1)
    rows = session.execute(
        select(Job.status, func.count())
        .where(
            Job.finished_at >= hour_ago,
            Job.status.in_([JobStatus.COMPLETED, JobStatus.FAILED]),
        )
        .group_by(Job.status)
    )
    finished: dict[str, int] = {row[0]: row[1] for row in rows}
    failed, completed = finished.get(JobStatus.FAILED, 0), finished.get(JobStatus.COMPLETED, 0)
    total = failed + completed
    failure_rate = (Decimal(failed * 100) / total).quantize(Decimal("0.01")) if total else None
    running_past_lease = session.scalar(
        select(func.count()).where(Job.status == JobStatus.RUNNING, Job.lease_until < now)
    )
    oldest_due = session.scalar(
        select(func.min(func.coalesce(Job.run_after, Job.created_at))).where(
            Job.status == JobStatus.QUEUED, or_(Job.run_after.is_(None), Job.run_after <= now)
        )
    )
    backlog_age = max((now - oldest_due).total_seconds(), 0.0) if oldest_due else 0.0
    problems = []
    if failure_rate is not None and failure_rate > failure_rate_limit_percent:
        problems.append(
            f"{failed} of {total} jobs failed in the last hour ({failure_rate} %, "
            f"limit {failure_rate_limit_percent} %)"
        )
    if running_past_lease:
        problems.append(f"{running_past_lease} Running job(s) past their lease")
    if backlog_age > backlog_age_limit_seconds:
        problems.append(
            f"the oldest due job has waited {backlog_age:.0f} s "
            f"(limit {backlog_age_limit_seconds} s)"
        )
    return CheckResult(
        "job health",
        passed=not problems,
        critical=True,
        message=listed(problems)
        or f"{total} jobs finished in the last hour, {failed} failed; backlog {backlog_age:.0f} s",
        figures={
            "finished_last_hour": total,
            "failed_last_hour": failed,
            "failure_rate_percent": str(failure_rate) if failure_rate is not None else None,
            "running_past_lease": running_past_lease or 0,
            "backlog_age_seconds": round(backlog_age, 1),
        },
    )


_ADDITIVE = ("invoice_count", "total_invoiced", "total_credited", "total_paid", "outstanding")
"""The summary's figures a delta adds to; overdue count and last payment date follow the day."""


def payment_integrity(session: Session, *, summary_sample: int) -> CheckResult:
    """Outstanding = total - allocations - credit notes for every submitted invoice, no payment
    allocating more than it paid (``billing.integrity``, a constant number of statements), and
    the ``summary_sample`` most recently updated member summaries equal their customer's
    ledger, minus the deltas still pending (one statement per summary)."""
    problems = ledger_violations(session)
    ledger_problems = len(problems)
    summaries = session.scalars(
        select(MemberFinancialSummary)
        .order_by(MemberFinancialSummary.updated_at.desc(), MemberFinancialSummary.member_id)
        .limit(summary_sample)
    ).all()
    for row in summaries:
        ledger = ledger_figures(session, row.customer_id, minus_pending=True)
        for name in _ADDITIVE:
            kept, expected = getattr(row, name), getattr(ledger, name)
            if kept != expected:
                problems.append(
                    f"member {row.member_id}'s summary: {name} {kept}, the ledger says {expected}"
                )
    return CheckResult(
        "payment data integrity",
        passed=not problems,
        critical=True,
        message=listed(problems)
        or f"the ledger holds its invariants; {len(summaries)} summaries equal the ledger",
        figures={
            "ledger_violations": ledger_problems,
            "summaries_compared": len(summaries),
            "summary_mismatches": len(problems) - ledger_problems,
        },
    )


def index_health(engine: Engine, user: User) -> CheckResult:
    """No strategic index invalid, ignored, or present without an index ledger entry (built
    outside the index manager: nobody measured or can roll it back); one whose measured impact
    is below 30 % is flagged in the message, not failed (``verenigingen indexes rollback`` is the
    administrator's call)."""
    strategic = set(catalog.strategic_names())
    problems: list[str] = []
    present = 0
    for status in index_status(engine, user):
        name = status.spec.name
        if name not in strategic:
            continue
        if status.present:
            present += 1
        if (status.present and not status.valid) or status.ledger_state == IndexState.INVALID:
            problems.append(f"{name} is invalid")
        elif status.ignored or status.ledger_state == IndexState.IGNORED:
            problems.append(f"{name} is ignored by the optimizer")
        elif status.present and status.ledger_state is None and not status.spec.declared_by_models:
            # (One the models declare was made by a migration: that is its record.)
            problems.append(f"{name} exists but the index ledger has no record of it")
    flagged = _low_impact(engine, strategic)
    message = listed(problems) or f"{present} strategic index(es) present, all valid and recorded"
    if flagged:
        message += "; below the 30 % impact bar: " + ", ".join(flagged)
    return CheckResult(
        "index health",
        passed=not problems,
        critical=True,
        message=message,
        figures={
            "strategic_present": present,
            "unhealthy": len(problems),
            "low_impact": len(flagged),
        },
    )


def _low_impact(engine: Engine, names: set[str]) -> list[str]:
    """The valid strategic indexes whose last measured impact improved their reads by less
    than the bar (``indexes impact`` writes the timings to the ledger)."""
    flagged = []
    # A read: on SQLite it must not take the write lock (the engine's BEGIN IMMEDIATE).
    with Session(engine.execution_options(sqlite_begin="DEFERRED")) as session:
        changes = session.scalars(
            select(IndexChange)
            .where(IndexChange.index_name.in_(sorted(names)))
            .order_by(IndexChange.index_name, IndexChange.id.desc())
        ).all()
    latest: dict[str, IndexChange] = {}
    for change in changes:
        latest.setdefault(change.index_name, change)
    for name, change in sorted(latest.items()):
        if change.state != IndexState.VALID or not change.timings_before:
            continue
        before = sum(Decimal(str(v)) for v in change.timings_before.values())
        after = sum(Decimal(str(v)) for v in (change.timings_after or {}).values())
        if before > 0 and 1 - after / before < IMPACT_BAR:
            flagged.append(f"{name} ({1 - after / before:.0%})")
    return flagged
