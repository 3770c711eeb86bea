"""The dues run at the desk: start it as a tracked job (``dues.generate``, as ``POST
/api/v1/dues/generate``) and follow it until it ends.

Treasurers and administrators only (``billing.write``): anyone else gets the 403 page and sees no
link. The form takes the day to bill as of (empty: the day the job runs) and the batch size; a
bad field re-renders the form (422) with what was typed and nothing queued. A run already queued
for the same day and batch size is the one shown, as the API returns it. The page lists the
latest runs newest first; a Queued or Running one polls its progress fragment (the jobs page's)
until it ends, and an ended one shows what it billed.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.clock import EARLIEST_DAY, LATEST_DAY
from verenigingen.db.paging import PageRequest
from verenigingen.dues.tasks import default_batch_size
from verenigingen.jobs import enqueue
from verenigingen.jobs.queries import page_jobs
from verenigingen.jobs.schemas import JobProgressOut
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import desk_nav, require_desk_role
from verenigingen.web.pages.desk_jobs import POLL_SECONDS
from verenigingen.web.pages.forms import N_, FormState, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

TASK = "dues.generate"
RECENT_RUNS = 10
"""Dues runs shown under the form, newest first."""
MAX_BATCH_SIZE = 10_000
"""As the API's ``batch_size``."""

BAD_DATE = N_("Enter a date between 1900 and 2200, like 2026-03-02, or leave it empty.")
BAD_BATCH_SIZE = N_("Enter a whole number from 1 to %(max)s.")
DUES_RUN_QUEUED = flash_message(
    "dues_run_queued", "success", N_("The dues run is queued; its progress shows below.")
)

DayField = Annotated[str, Form(max_length=40)]


def _dues_page(
    request: Request, session: Session, viewer: User, form: FormState, *, status_code: int = 200
) -> Response:
    runs = page_jobs(session, viewer, name=TASK, page=PageRequest(RECENT_RUNS)).items
    return render(
        request,
        "desk/dues.html",
        {
            "form": form,
            "runs": runs,
            "progress_of": JobProgressOut.of,
            "poll_seconds": POLL_SECONDS,
            "nav": desk_nav(viewer),
        },
        status_code=status_code,
    )


@router.get("/desk/dues")
def dues(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """The form and the latest dues runs (every user's for an administrator, the treasurer's
    own otherwise): two statements."""
    require_desk_role(viewer)
    require(viewer, Permission.BILLING_WRITE)
    form = FormState(values={"day": "", "batch_size": str(default_batch_size(session))})
    return _dues_page(request, session, viewer, form)


@router.post("/desk/dues")
def start_dues_run(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    day: DayField = "",
    batch_size: DayField = "",
) -> Response:
    """Queue the dues run, then the page with its progress; the form again (422) with what is
    wrong, nothing queued. No batch size given: the engine's default."""
    require_desk_role(viewer)
    require(viewer, Permission.BILLING_WRITE)
    batch_size = batch_size or str(default_batch_size(session))
    form = FormState(values={"day": day, "batch_size": batch_size})
    bill_day = _day(form, day)
    size = _batch_size(form, batch_size)
    if not form.valid or size is None:
        return _dues_page(request, session, viewer, form, status_code=422)
    iso_day = bill_day.isoformat() if bill_day else None
    enqueue(
        session,
        TASK,
        user=viewer,
        dedup_key=f"{TASK}:{iso_day or 'today'}:{size}",  # as POST /api/v1/dues/generate
        day=iso_day,
        batch_size=size,
    )
    response = RedirectResponse("/desk/dues", status_code=303)
    flash(response, request, DUES_RUN_QUEUED)
    return response


def _day(form: FormState, text: str) -> dt.date | None:
    """The day to bill as of; empty is the day the job runs (None)."""
    if not text.strip():
        return None
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        form.add_error("day", BAD_DATE)
        return None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        form.add_error("day", BAD_DATE)
        return None
    return day


def _batch_size(form: FormState, text: str) -> int | None:
    cleaned = text.strip()
    if not cleaned.isdigit() or not 1 <= int(cleaned) <= MAX_BATCH_SIZE:
        form.add_error("batch_size", BAD_BATCH_SIZE, max=MAX_BATCH_SIZE)
        return None
    return int(cleaned)
