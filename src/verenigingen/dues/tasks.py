"""Dues work that runs as a tracked job."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.dues.service import generate_dues
from verenigingen.jobs import job, stop_if_cancel_requested


@job("dues.generate", queue="long", daily=True)
def generate(
    session: Session, user: User, *, day: str | None = None, batch_size: int = 500
) -> dict[str, Any]:
    """The dues run as of ``day`` (ISO date; default today), in the name of the user who asked.
    Also started every day by the workers (DOMAIN.md: daily generation). A cancel request
    stops the run between batches; the whole run is rolled back."""
    result = generate_dues(
        session,
        user,
        today=dt.date.fromisoformat(day) if day else None,
        batch_size=batch_size,
        after_batch=stop_if_cancel_requested,
    )
    return {
        "day": day,
        "schedules_billed": result.schedules_billed,
        "invoices_created": result.invoices_created,
        "total_amount": str(result.total_amount),
        "batches": result.batches,
    }
