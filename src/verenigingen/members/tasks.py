"""Membership work that runs as tracked jobs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.jobs import job
from verenigingen.members.service.memberships import complete_end_of_period_cancellations


@job("members.complete_cancellations", queue="default", daily=True)
def complete_cancellations(session: Session, user: User) -> dict[str, Any]:
    """End the memberships cancelled at the end of a period that has now passed."""
    return {"memberships_cancelled": complete_end_of_period_cancellations(session, user)}
