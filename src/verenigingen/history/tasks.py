"""History work that runs as tracked jobs: the member summary and the payment analytics.

A summary or analytics job follows a write of the ledger and runs in the name of the user who
wrote. Both are derived from the ledger and change no money, so keeping them up to date is
allowed to whoever may cause such a write: a Treasurer's payment, and also a Membership
Secretary's approval or renewal of a membership, which bills dues. Rebuilding every summary at
once stays with the roles that write billing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require, require_any
from verenigingen.history import analytics, summary
from verenigingen.jobs import job

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
    """Rebuild the summaries of the members of several customers (after a bulk write)."""
    require_ledger_writer(user)
    rows = sum(summary.recalculate(session, customer_id) for customer_id in customer_ids)
    return {"customers": len(customer_ids), "rows": rows}


@job(RECALCULATE_ALL, queue="long")
def recalculate_all(session: Session, user: User) -> dict[str, Any]:
    """Rebuild every member's summary from the ledger."""
    require(user, Permission.BILLING_WRITE)
    return {"rows": summary.recalculate_all(session)}


@job(
    UPDATE_PAYMENT_ANALYTICS,
    queue="long",
    timeout_setting="job_timeout_payment_analytics_seconds",
)
def update_payment_analytics(session: Session, user: User, *, months: list[str]) -> dict[str, Any]:
    """Recompute the analytics of the given months (YYYY-MM) from the ledger."""
    require_ledger_writer(user)
    rows = analytics.update_months(session, months)
    return {"months": [f"{row.month:%Y-%m}" for row in rows]}
