"""Dues work that runs as a tracked job."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.dues.service import generate_dues
from verenigingen.jobs import commit_chunk, job

DUES_CHUNK = 50
"""Schedules billed per transaction by the dues job: on SQLite a batch holds the write lock
while it runs (bench/write_lock.py measures how long)."""


@job("dues.generate", queue="long", daily=True)
def generate(
    session: Session, user: User, *, day: str | None = None, batch_size: int = DUES_CHUNK
) -> dict[str, Any]:
    """The dues run as of ``day`` (ISO date; default today), in the name of the user who asked.
    Also started every day by the workers (DOMAIN.md: daily generation).

    Each batch of ``batch_size`` schedules is committed with its invoices and the schedules'
    new dates (jobs.chunks), so a run that dies half-way and runs again bills only the
    schedules not billed today. A cancel request stops the run after the batch in hand, which
    is rolled back; the batches before it stay billed."""
    result = generate_dues(
        session,
        user,
        today=dt.date.fromisoformat(day) if day else None,
        batch_size=batch_size,
        after_batch=lambda: _commit_batch(session),
    )
    return {
        "day": day,
        "schedules_billed": result.schedules_billed,
        "invoices_created": result.invoices_created,
        "total_amount": str(result.total_amount),
        "batches": result.batches,
    }


def _commit_batch(session: Session) -> None:
    commit_chunk(session)
