"""/api/v1/dues: start the dues run as a tracked background job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from verenigingen.auth.permissions import Permission, require
from verenigingen.clock import BusinessDate
from verenigingen.dues.tasks import default_batch_size
from verenigingen.jobs import enqueue
from verenigingen.jobs.schemas import JobOut
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/dues",
    tags=["dues"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 422)},
)


class DuesRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: BusinessDate | None = None
    """Bill as of this day; default: the day the job runs."""
    batch_size: int | None = Field(None, ge=1, le=10_000)
    """Schedules billed per transaction; default 50 on SQLite, where the write lock is held one
    batch at a time, 500 on PostgreSQL and MariaDB (dues.tasks.default_batch_size)."""


@router.post("/generate", status_code=202)
def generate(
    session: SessionDep,
    user: CurrentUser,
    body: Annotated[DuesRunRequest | None, Body()] = None,
) -> JobOut:
    """Queue the dues run; follow it at /api/v1/jobs/{id}. A run already queued is returned."""
    require(user, Permission.BILLING_WRITE)
    body = body or DuesRunRequest()
    day = body.date.isoformat() if body.date else None
    batch_size = default_batch_size(session) if body.batch_size is None else body.batch_size
    job = enqueue(
        session,
        "dues.generate",
        user=user,
        # Joined only by a request for the same run: a dated run never stands in for today's.
        dedup_key=f"dues.generate:{day or 'today'}:{batch_size}",
        day=day,
        batch_size=batch_size,
    )
    return JobOut.of(job)
