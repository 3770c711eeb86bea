"""The desk's jobs: the tracked background jobs, newest first, filtered by status and task, a
page at a time (``jobs.queries.page_jobs``): every user's for an administrator, the user's own
for the other staff roles (as ``GET /api/v1/jobs/{id}`` decides who may see a job).

A Running job's row asks for its progress fragment every two seconds (htmx) until the job ends,
when the fragment stops polling and shows how it ended. Retry (a Failed job) and cancel (a
Queued job, or a Running one for an administrator) are the API's ``jobs.service`` rules; a
refusal comes back to the list as a flash message saying why.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from verenigingen.db.ids import RecordId
from verenigingen.db.paging import PageRequest
from verenigingen.errors import ValidationFailed
from verenigingen.jobs.errors import (
    DuplicateJob,
    JobChangedMeanwhile,
    JobNotFailed,
    JobNotQueued,
    JobOutOfRetries,
    RunningJobCancelForAdministrators,
)
from verenigingen.jobs.models import JobStatus
from verenigingen.jobs.queries import get_job, page_jobs
from verenigingen.jobs.registry import task_names
from verenigingen.jobs.schemas import JobProgressOut
from verenigingen.jobs.service import cancel_job, retry_job
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import PAGE_SIZE, Cursor, desk_nav, require_desk_role
from verenigingen.web.pages.forms import N_, flash, flash_message
from verenigingen.web.pages.portal_jobs import JOB_RETRIED, RETRY_REFUSED
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn, local_path
from verenigingen.web.pages.templating import render

router = page_router()

POLL_SECONDS = 2
"""How often a Running job's row asks for its progress."""

StatusFilter = Annotated[str, Query(max_length=20)]
TaskFilter = Annotated[str, Query(max_length=140)]
BackTo = Annotated[str, Form(max_length=2000)]

JOB_CANCELLED = flash_message("job_cancelled", "success", N_("The job is cancelled."))
JOB_CANCEL_REQUESTED = flash_message(
    "job_cancel_requested",
    "info",
    N_("The job is asked to stop; it ends Cancelled once its worker has rolled its work back."),
)
CANCEL_REFUSED = {
    JobNotQueued: flash_message(
        "job_not_queued", "warning", N_("This job has ended already; nothing changed.")
    ),
    RunningJobCancelForAdministrators: flash_message(
        "running_job_cancel_for_administrators",
        "warning",
        N_("Only an administrator may stop a running job."),
    ),
}


@router.get("/desk/jobs")
def jobs(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    status: StatusFilter = "",
    task: TaskFilter = "",
    after: Cursor = None,
) -> Response:
    """Jobs newest first, of one status and one task when asked: two statements on every page
    (the sign-in and the page). An unknown status or task, or a forged cursor: the 422 page."""
    require_desk_role(viewer)
    names = task_names()
    if status and status not in set(JobStatus):
        raise ValidationFailed(f"unknown job status {status!r}")
    if task and task not in names:
        raise ValidationFailed(f"unknown task {task!r}")
    found = page_jobs(
        session,
        viewer,
        status=JobStatus(status) if status else None,
        name=task or None,
        page=PageRequest(PAGE_SIZE, after=after),
    )
    filters = {name: value for name, value in (("status", status), ("task", task)) if value}
    return render(
        request,
        "desk/jobs.html",
        {
            "jobs": found.items,
            "next_cursor": found.next_cursor,
            "after": after,
            "status": status,
            "task": task,
            "statuses": [job_status.value for job_status in JobStatus],
            "task_names": sorted(names),
            "filters": filters,
            "progress_of": JobProgressOut.of,
            "poll_seconds": POLL_SECONDS,
            "everyone": viewer.is_administrator,
            "nav": desk_nav(viewer),
        },
    )


@router.get("/desk/jobs/{job_id}/progress")
def progress(request: Request, session: SessionDep, viewer: SignedIn, job_id: RecordId) -> Response:
    """A job's status and progress as a fragment of its row (htmx): two statements. It polls
    again while the job is Queued or Running and stops once the job has ended."""
    require_desk_role(viewer)
    job = get_job(session, viewer, job_id)
    return render(
        request,
        "desk/job_progress.html",
        {"job": job, "progress": JobProgressOut.of(job), "poll_seconds": POLL_SECONDS},
    )


@router.post("/desk/jobs/{job_id}/retry")
def retry(
    request: Request, session: SessionDep, viewer: SignedIn, job_id: RecordId, back: BackTo = ""
) -> Response:
    """Queue a Failed job again, then back to the list with what happened."""
    require_desk_role(viewer)
    try:
        retry_job(session, viewer, job_id)
        message = JOB_RETRIED
    except (JobNotFailed, JobOutOfRetries, DuplicateJob, JobChangedMeanwhile) as refused:
        message = RETRY_REFUSED[type(refused)]
    return _back_to_list(request, back, message)


@router.post("/desk/jobs/{job_id}/cancel")
def cancel(
    request: Request, session: SessionDep, viewer: SignedIn, job_id: RecordId, back: BackTo = ""
) -> Response:
    """Cancel a Queued job, or ask a Running one to stop (administrators), then back to the list
    with what happened."""
    require_desk_role(viewer)
    try:
        job = cancel_job(session, viewer, job_id)
        message = JOB_CANCELLED if job.status == JobStatus.CANCELLED else JOB_CANCEL_REQUESTED
    except (JobNotQueued, RunningJobCancelForAdministrators) as refused:
        message = CANCEL_REFUSED[type(refused)]
    return _back_to_list(request, back, message)


def _back_to_list(request: Request, back: str, message: str) -> Response:
    """To the list the button was pressed on (its filters kept), with ``message``."""
    target = local_path(back)
    if target is None or not target.startswith("/desk/jobs"):
        target = "/desk/jobs"
    response = RedirectResponse(target, status_code=303)
    flash(response, request, message)
    return response
