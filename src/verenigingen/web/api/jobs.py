"""/api/v1/jobs: a user's background jobs, their status, retry and cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from verenigingen.db.ids import RecordId
from verenigingen.jobs import queries
from verenigingen.jobs.schemas import JobOut, JobStatusOut
from verenigingen.jobs.service import cancel_job, retry_job
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/jobs",
    tags=["jobs"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)


@router.get("")
def job_status(
    session: SessionDep,
    user: CurrentUser,
    for_user: Annotated[str | None, Query(alias="user", description="user id or email")] = None,
) -> JobStatusOut:
    """The acting user's jobs of the last 7 days; ``?user=`` (id or email) for administrators."""
    return JobStatusOut.of(queries.job_status(session, user, for_user=for_user))


@router.get("/{job_id}")
def get_job(session: SessionDep, user: CurrentUser, job_id: RecordId) -> JobOut:
    return JobOut.of(queries.get_job(session, user, job_id))


@router.post("/{job_id}/retry")
def retry(session: SessionDep, user: CurrentUser, job_id: RecordId) -> JobOut:
    """Queue a Failed job again (owner or administrator) while it has attempts left."""
    return JobOut.of(retry_job(session, user, job_id))


@router.post("/{job_id}/cancel")
def cancel(session: SessionDep, user: CurrentUser, job_id: RecordId) -> JobOut:
    """Cancel a Queued job (owner or administrator), or a Running one (administrator): the
    answer is Cancelled, or Running with ``cancel_requested_at`` set while its worker stops it."""
    return JobOut.of(cancel_job(session, user, job_id))
