"""History work that runs as tracked jobs: the member summary and the payment analytics.

A summary or analytics job follows a write of the ledger and runs in the name of the user who
wrote. Both are derived from the ledger and change no money, so keeping them up to date is
allowed to whoever may cause such a write: a Treasurer's payment, and also a Membership
Secretary's approval or renewal of a membership, which bills dues. Rebuilding every summary at
once stays with the roles that write billing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require, require_any
from verenigingen.history import analytics, summary
from verenigingen.history.summary_bulk import recalculate_many
from verenigingen.jobs import commit_chunk, job, report_progress
from verenigingen.members.models import Member

APPLY_SUMMARY_DELTA = summary.APPLY_SUMMARY_DELTA
RECALCULATE_SUMMARY = "history.recalculate_summary"
RECALCULATE_SUMMARIES = "history.recalculate_summaries"
RECALCULATE_ALL = "history.recalculate_all"
UPDATE_PAYMENT_ANALYTICS = "history.update_payment_analytics"


def require_ledger_writer(user: User) -> None:
    """The user may write billing, or members (whose approvals and renewals bill dues)."""
    require_any(user, Permission.BILLING_WRITE, Permission.MEMBERS_WRITE)


@job(APPLY_SUMMARY_DELTA, queue="default", timeout_setting="job_timeout_summary_delta_seconds")
def apply_summary_delta(
    session: Session, user: User, *, customer_id: int, **delta: Any
) -> dict[str, Any]:
    """Add one ledger event's delta to the summaries of the customer's members."""
    require_ledger_writer(user)
    rows = summary.apply_delta(session, customer_id, delta)
    return {"customer_id": customer_id, "rows": rows}


@job(
    RECALCULATE_SUMMARY,
    queue="default",
    timeout_setting="job_timeout_summary_recalculation_seconds",
)
def recalculate_summary(session: Session, user: User, *, customer_id: int) -> dict[str, Any]:
    """Rebuild the summaries of the customer's members from the ledger."""
    require_ledger_writer(user)
    return {"customer_id": customer_id, "rows": summary.recalculate(session, customer_id)}


@job(
    RECALCULATE_SUMMARIES,
    queue="default",
    timeout_setting="job_timeout_summary_recalculation_seconds",
)
def recalculate_summaries(
    session: Session, user: User, *, customer_ids: list[int]
) -> dict[str, Any]:
    """Rebuild the summaries of the members of several customers (after a bulk write), set
    by set, a commit after each (jobs.chunks)."""
    require_ledger_writer(user)
    return {"customers": len(customer_ids), "rows": _recalculate_in_chunks(session, customer_ids)}


@job(RECALCULATE_ALL, queue="long")
def recalculate_all(session: Session, user: User) -> dict[str, Any]:
    """Rebuild every member's summary from the ledger."""
    require(user, Permission.BILLING_WRITE)
    customer_ids = session.scalars(
        select(Member.customer_id)
        .where(Member.customer_id.is_not(None))
        .distinct()
        .order_by(Member.customer_id)
    ).all()
    return {"rows": _recalculate_in_chunks(session, [c for c in customer_ids if c is not None])}


SUMMARY_CHUNK = 50
"""Customers rebuilt per transaction by a long recalculation: on SQLite the write lock is held
that long (bench/write_lock.py measures it) while requests wait."""


def _recalculate_in_chunks(session: Session, customer_ids: Sequence[int]) -> int:
    rows = 0
    for start in range(0, len(customer_ids), SUMMARY_CHUNK):
        if start:
            commit_chunk(session)
        rows += recalculate_many(session, customer_ids[start : start + SUMMARY_CHUNK])
        report_progress(min(start + SUMMARY_CHUNK, len(customer_ids)), len(customer_ids))
    return rows


@job(
    UPDATE_PAYMENT_ANALYTICS,
    queue="long",
    timeout_setting="job_timeout_payment_analytics_seconds",
)
def update_payment_analytics(session: Session, user: User, *, months: list[str]) -> dict[str, Any]:
    """Recompute the analytics of the given months (YYYY-MM) from the ledger, a commit after
    each month (jobs.chunks): a recomputed month is the same however often it is recomputed."""
    require_ledger_writer(user)
    firsts = sorted({analytics.parse_month(month) for month in months})
    done: list[str] = []
    for first in firsts:
        if done:
            commit_chunk(session)
        row = analytics.update_months(session, [f"{first:%Y-%m}"])[0]
        done.append(f"{row.month:%Y-%m}")
        report_progress(len(done), len(firsts))
    return {"months": done}
