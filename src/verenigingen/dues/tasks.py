"""Dues work that runs as a tracked job."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.dues.service import generate_dues
from verenigingen.jobs import commit_chunk, job

SQLITE_DUES_CHUNK = 50
"""Schedules billed per transaction by the dues job on SQLite, where a batch holds the one write
lock while it runs (bench/write_lock.py measures how long)."""

SERVER_DUES_CHUNK = 500
"""The same on PostgreSQL and MariaDB, where a batch locks only its own schedules and the
invoice number series: fewer commits (a run of 74,655 invoices 1.26 times faster than in
batches of 50, bench/scale.py --dues-batch)."""


@job("dues.generate", queue="long", daily=True)
def generate(
    session: Session, user: User, *, day: str | None = None, batch_size: int | None = None
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
        batch_size=default_batch_size(session) if batch_size is None else batch_size,
        after_batch=lambda: _commit_batch(session),
    )
    return {
        "day": day,
        "schedules_billed": result.schedules_billed,
        "invoices_created": result.invoices_created,
        "total_amount": str(result.total_amount),
        "batches": result.batches,
    }


def default_batch_size(session: Session) -> int:
    """Schedules per committed batch when the job is not given a size."""
    return SQLITE_DUES_CHUNK if session.get_bind().dialect.name == "sqlite" else SERVER_DUES_CHUNK


def _commit_batch(session: Session) -> None:
    commit_chunk(session)
