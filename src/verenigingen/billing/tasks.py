"""Billing work that runs as tracked jobs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.service.invoices import refresh_overdue
from verenigingen.jobs import job


@job("billing.refresh_overdue", queue="default", daily=True)
def refresh_overdue_invoices(session: Session, user: User) -> dict[str, Any]:
    """Turn the open invoices past their due date Overdue (and their histories with them)."""
    require(user, Permission.BILLING_WRITE)
    return {"invoices_overdue": refresh_overdue(session)}
