"""The portal's "my background jobs": the signed-in user's jobs of the last seven days with
their status (``jobs.queries.job_status``, the same as ``GET /api/v1/jobs``), and a retry
button for a Failed one (``jobs.service.retry_job``, as ``POST /api/v1/jobs/{id}/retry``).

A retry the rules refuse (not Failed, out of attempts, another run of it queued, changed
meanwhile) comes back to the list with a flash message saying why; another user's job is the
403 page, an unknown one the 404 page.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from verenigingen.db.ids import RecordId
from verenigingen.jobs import queries
from verenigingen.jobs.errors import (
    DuplicateJob,
    JobChangedMeanwhile,
    JobNotFailed,
    JobOutOfRetries,
)
from verenigingen.jobs.models import JobStatus
from verenigingen.jobs.service import retry_job
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.forms import N_, flash, flash_message
from verenigingen.web.pages.portal import PORTAL_NAV, require_portal_role
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

JOB_STATUS_LABELS = {
    # For the catalog; the page translates the status it shows: _(job.status).
    JobStatus.QUEUED: N_("Queued"),
    JobStatus.RUNNING: N_("Running"),
    JobStatus.COMPLETED: N_("Completed"),
    JobStatus.FAILED: N_("Failed"),
    JobStatus.CANCELLED: N_("Cancelled"),
}

JOB_RETRIED = flash_message("job_retried", "success", N_("The job is queued to run again."))
RETRY_REFUSED = {
    JobNotFailed: flash_message(
        "job_not_failed", "warning", N_("Only a failed job can be retried.")
    ),
    JobOutOfRetries: flash_message(
        "job_out_of_retries",
        "warning",
        N_("This job has used all its attempts and cannot be retried. Start it anew instead."),
    ),
    DuplicateJob: flash_message(
        "duplicate_job", "warning", N_("Another run of this job is already queued or running.")
    ),
    JobChangedMeanwhile: flash_message(
        "job_changed_meanwhile", "warning", N_("The job changed meanwhile. Please look again.")
    ),
}


@router.get("/portal/jobs")
def jobs(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """Counts per status and the ten most recent jobs: two statements after the sign-in's."""
    require_portal_role(viewer)
    status = queries.job_status(session, viewer)
    return render(
        request,
        "portal/jobs.html",
        {"status": status, "failed": JobStatus.FAILED.value, "nav": PORTAL_NAV},
    )


@router.post("/portal/jobs/{job_id}/retry")
def retry(request: Request, session: SessionDep, viewer: SignedIn, job_id: RecordId) -> Response:
    """Queue a Failed job of the user again, then back to the list with what happened."""
    require_portal_role(viewer)
    try:
        retry_job(session, viewer, job_id)
        message = JOB_RETRIED
    except (JobNotFailed, JobOutOfRetries, DuplicateJob, JobChangedMeanwhile) as refused:
        message = RETRY_REFUSED[type(refused)]
    response = RedirectResponse("/portal/jobs", status_code=303)
    flash(response, request, message)
    return response
