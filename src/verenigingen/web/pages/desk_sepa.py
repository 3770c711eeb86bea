"""SEPA direct debits at the desk: the batches, a batch's entries and checks, its pain.008 file,
its lifecycle (submit, process as a tracked job, cancel), the bank's rejects and returns, and
the retry queue, through the same services as ``/api/v1/sepa``.

Treasurers and administrators only (``billing.write`` to change, the services' own permission to
read): a Membership Secretary gets the 403 page and sees no link. A collection date the rules
refuse re-renders the form (422) with the rule's message under the field and the date kept; a
step the batch's status does not allow, or a file the bank's import refuses, shows the refusal
and writes nothing (each step runs in a savepoint the refusal rolls back).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.clock import EARLIEST_DAY, LATEST_DAY
from verenigingen.db.ids import RecordId
from verenigingen.db.paging import Keyset, PageRequest, keyset_page
from verenigingen.errors import DomainError
from verenigingen.jobs.schemas import JobProgressOut
from verenigingen.sepa import batches, checks, pain008, retries, returns, tasks
from verenigingen.sepa import errors as sepa_errors
from verenigingen.sepa.creditor import current_creditor
from verenigingen.sepa.models import BatchStatus, DirectDebitBatch, DirectDebitEntry
from verenigingen.sepa.status_reports import MAX_FILE_BYTES
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import PAGE_SIZE, Cursor, desk_nav, require_desk_role
from verenigingen.web.pages.desk_jobs import POLL_SECONDS
from verenigingen.web.pages.forms import N_, FormState, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

BAD_DATE = N_("Enter a date between 1900 and 2200, like 2026-03-16.")
TOO_LONG = N_("At most %(max)s characters.")
DATE_RULES: dict[type[DomainError], str] = {
    sepa_errors.CollectionDateNotBusinessDay: N_(
        "Not a TARGET2 business day (a weekend or an ECB holiday): choose another date."
    ),
    sepa_errors.CollectionDateTooEarly: N_(
        "Too early for the creditor's lead days and cut-off time: choose a later date."
    ),
}
REFUSED = N_("Refused: %(reason)s")
IMPORT_REFUSALS = (
    sepa_errors.StatusReportInvalid,
    sepa_errors.UnknownCollection,
    sepa_errors.ReturnAmountMismatch,
    sepa_errors.ReturnOfUncollectedEntry,
    sepa_errors.StatusReportImportConcurrent,
)
NO_FILE = N_("Choose a pain.002 or camt.054 file.")
TOO_BIG = N_("A status report may hold at most %(max)s bytes.")

BATCH_CREATED = flash_message("sepa_batch_created", "success", N_("The batch is made (Draft)."))
BATCH_SUBMITTED = flash_message(
    "sepa_batch_submitted", "success", N_("The batch is marked as submitted to the bank.")
)
BATCH_CANCELLED = flash_message("sepa_batch_cancelled", "success", N_("The batch is cancelled."))
CHECKS_QUEUED = flash_message(
    "sepa_checks_queued",
    "success",
    N_("The file's checks are running as a job; their progress shows under Checks."),
)
BATCH_PROCESSING = flash_message(
    "sepa_batch_processing",
    "success",
    N_("Processing is queued as a job; its progress shows on the jobs page."),
)

STATUS_LABELS = (N_("Generated"), N_("Processed"), N_("Collected"), N_("Returned"))
"""For the catalog: the batch and entry statuses the pages translate (the rest are known)."""

DateField = Annotated[str, Form(max_length=40)]
TextField = Annotated[str, Form(max_length=400)]


def require_treasurer(viewer: User) -> None:
    require_desk_role(viewer)
    require(viewer, Permission.BILLING_WRITE)


def _batches_page(
    request: Request, session: Session, viewer: User, form: FormState, *, status_code: int = 200
) -> Response:
    return render(
        request,
        "desk/sepa_batches.html",
        {
            "form": form,
            "batches": batches.list_batches(session, viewer),
            "creditor": current_creditor(session),
            "nav": desk_nav(viewer),
        },
        status_code=status_code,
    )


@router.get("/desk/sepa/batches")
def batch_list(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """Every batch, newest first, under the form that makes one: three statements."""
    require_treasurer(viewer)
    form = FormState(values={"collection_date": "", "description": ""})
    return _batches_page(request, session, viewer, form)


@router.post("/desk/sepa/batches")
def create_batch(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    collection_date: DateField = "",
    description: TextField = "",
) -> Response:
    """Make a Draft batch for the date, then its page; the form again (422) naming the rule."""
    require_treasurer(viewer)
    form = FormState(values={"collection_date": collection_date, "description": description})
    day = _date(form, collection_date)
    if len(description.strip()) > 140:
        form.add_error("description", TOO_LONG, max=140)
    if day is None or not form.valid:
        return _batches_page(request, session, viewer, form, status_code=422)
    try:
        with session.begin_nested():
            batch = batches.create_batch(
                session, viewer, day, description=description.strip() or None
            )
    except (sepa_errors.CollectionDateNotBusinessDay,
            sepa_errors.CollectionDateTooEarly) as refusal:  # fmt: skip
        form.add_error("collection_date", DATE_RULES[type(refusal)])
        return _batches_page(request, session, viewer, form, status_code=422)
    except (sepa_errors.NothingToCollect, sepa_errors.CreditorNotConfigured) as refusal:
        form.add_error("", REFUSED, reason=refusal.detail)
        return _batches_page(request, session, viewer, form, status_code=409)
    # The file's checks grow with the batch: a job runs them once and stores their outcome.
    checks.start_checks(session, viewer, batch.id)
    response = RedirectResponse(f"/desk/sepa/batches/{batch.id}", status_code=303)
    flash(response, request, BATCH_CREATED)
    return response


ENTRY_ORDER = Keyset("sepa-batch-entries", (DirectDebitEntry.id,))
"""A batch's entries in the order they were made (the index on ``batch_id`` finds them)."""


def _batch_page(
    request: Request,
    session: Session,
    viewer: User,
    batch: DirectDebitBatch,
    *,
    after: str | None = None,
    refusal: str | None = None,
    status_code: int = 200,
) -> Response:
    """The batch and a page of its entries; its checks load apart (:func:`batch_checks`)."""
    entries = keyset_page(
        session,
        select(DirectDebitEntry).where(DirectDebitEntry.batch_id == batch.id),
        ENTRY_ORDER,
        PageRequest(PAGE_SIZE, after=after),
    )
    return render(
        request,
        "desk/sepa_batch.html",
        {
            "batch": batch,
            "entries": entries.items,
            "next_cursor": entries.next_cursor,
            "after": after,
            "filters": {},
            "refusal": refusal,
            "statuses": BatchStatus,
            "nav": desk_nav(viewer),
        },
        status_code=status_code,
    )


@router.get("/desk/sepa/batches/{batch_id}")
def batch_detail(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    batch_id: RecordId,
    after: Cursor = None,
) -> Response:
    """One batch with a page of its entries, by cursor: three statements on every page (the
    sign-in, the batch, the entries), whatever the batch's size."""
    require_treasurer(viewer)
    batch = batches.get_batch(session, viewer, batch_id)
    return _batch_page(request, session, viewer, batch, after=after)


@router.get("/desk/sepa/batches/{batch_id}/checks")
def batch_checks(
    request: Request, session: SessionDep, viewer: SignedIn, batch_id: RecordId
) -> Response:
    """Whether the batch's file passes the XSD and the EPC rules, as its checks stored it
    (``sepa.checks``; stale when the creditor settings changed since), or the checks' job while
    it waits or runs. The same statements for any batch: the sign-in, the batch, the creditor,
    and the job when nothing current is stored."""
    require_treasurer(viewer)
    batch = batches.get_batch(session, viewer, batch_id)
    creditor = current_creditor(session)
    stored = checks.stored_checks(batch, creditor)
    running = None
    if creditor is not None and stored.state is not checks.CheckState.CURRENT:
        running = checks.running_checks(session, batch.id)
    return render(
        request,
        "desk/sepa_batch_checks.html",
        {
            "batch": batch,
            "stored": stored,
            "running": running,
            "progress_of": JobProgressOut.of,
            "poll_seconds": POLL_SECONDS,
            "has_creditor": creditor is not None,
            "statuses": BatchStatus,
        },
    )


@router.post("/desk/sepa/batches/{batch_id}/checks")
def check_batch(
    request: Request, session: SessionDep, viewer: SignedIn, batch_id: RecordId
) -> Response:
    """Queue the batch's checks (the same job while one waits or runs), then the batch's page;
    a cancelled batch its page with the refusal, nothing queued."""
    require_treasurer(viewer)
    try:
        with session.begin_nested():
            checks.start_checks(session, viewer, batch_id)
    except sepa_errors.BatchTransitionNotAllowed as refusal:
        batch = batches.get_batch(session, viewer, batch_id)
        return _batch_page(request, session, viewer, batch, refusal=refusal.detail, status_code=409)
    response = RedirectResponse(f"/desk/sepa/batches/{batch_id}", status_code=303)
    flash(response, request, CHECKS_QUEUED)
    return response


@router.post("/desk/sepa/batches/{batch_id}/export")
def export_batch(
    request: Request, session: SessionDep, viewer: SignedIn, batch_id: RecordId
) -> Response:
    """The batch's pain.008 as a download (a Draft becomes Generated); an invalid or cancelled
    batch its page again with the refusal, nothing changed."""
    require_treasurer(viewer)
    try:
        with session.begin_nested():
            document = pain008.export_batch(session, viewer, batch_id)
    except (sepa_errors.BatchInvalid, sepa_errors.BatchTransitionNotAllowed) as refusal:
        batch = batches.get_batch(session, viewer, batch_id)
        return _batch_page(
            request, session, viewer, batch, refusal=refusal.detail, status_code=refusal.status_code
        )
    batch = batches.get_batch(session, viewer, batch_id)
    filename = f"{batch.message_id}.xml"
    return Response(
        content=document,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _step(
    request: Request,
    session: Session,
    viewer: User,
    batch_id: int,
    step: batches.BatchStep,
    done: str,
) -> Response:
    require_treasurer(viewer)
    try:
        with session.begin_nested():
            step(session, viewer, batch_id)
    except sepa_errors.BatchTransitionNotAllowed as refusal:
        batch = batches.get_batch(session, viewer, batch_id)
        return _batch_page(request, session, viewer, batch, refusal=refusal.detail, status_code=409)
    response = RedirectResponse(f"/desk/sepa/batches/{batch_id}", status_code=303)
    flash(response, request, done)
    return response


@router.post("/desk/sepa/batches/{batch_id}/submit")
def submit_batch(
    request: Request, session: SessionDep, viewer: SignedIn, batch_id: RecordId
) -> Response:
    """Generated → Submitted: the file went to the bank."""
    return _step(request, session, viewer, batch_id, batches.submit_batch, BATCH_SUBMITTED)


@router.post("/desk/sepa/batches/{batch_id}/cancel")
def cancel_batch(
    request: Request, session: SessionDep, viewer: SignedIn, batch_id: RecordId
) -> Response:
    """Draft or Generated → Cancelled."""
    return _step(request, session, viewer, batch_id, batches.cancel_batch, BATCH_CANCELLED)


@router.post("/desk/sepa/batches/{batch_id}/process")
def process_batch(
    request: Request, session: SessionDep, viewer: SignedIn, batch_id: RecordId
) -> Response:
    """Process a Submitted batch as the tracked job ``POST .../process-job`` queues, then the
    jobs page; pressed again while it waits or runs, the same job."""
    require_treasurer(viewer)
    try:
        with session.begin_nested():
            job = tasks.start_processing(session, viewer, batch_id)
    except sepa_errors.BatchTransitionNotAllowed as refusal:
        batch = batches.get_batch(session, viewer, batch_id)
        return _batch_page(request, session, viewer, batch, refusal=refusal.detail, status_code=409)
    response = RedirectResponse(f"/desk/jobs?task={job.name}", status_code=303)
    flash(response, request, BATCH_PROCESSING)
    return response


def _returns_page(
    request: Request,
    viewer: User,
    form: FormState,
    outcome: returns.ImportOutcome | None = None,
    *,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "desk/sepa_returns.html",
        {"form": form, "outcome": outcome, "nav": desk_nav(viewer)},
        status_code=status_code,
    )


@router.get("/desk/sepa/returns")
def returns_form(request: Request, viewer: SignedIn) -> Response:
    """The upload form for the bank's rejects (pain.002) and returns (camt.054)."""
    require_treasurer(viewer)
    return _returns_page(request, viewer, FormState(values={}))


@router.post("/desk/sepa/returns")
def import_returns(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Import the file: every reject or return, or nothing with the refusal shown (422)."""
    require_treasurer(viewer)
    form = FormState(values={})
    content = file.file.read(MAX_FILE_BYTES + 1) if file is not None else b""
    if not content:
        form.add_error("file", NO_FILE)
    elif len(content) > MAX_FILE_BYTES:
        form.add_error("file", TOO_BIG, max=MAX_FILE_BYTES)
    if not form.valid:
        return _returns_page(request, viewer, form, status_code=422)
    try:
        with session.begin_nested():
            outcome = returns.import_status_report(session, viewer, content)
    except IMPORT_REFUSALS as refusal:
        form.add_error("file", REFUSED, reason=refusal.detail)
        return _returns_page(request, viewer, form, status_code=refusal.status_code)
    return _returns_page(request, viewer, form, outcome)


@router.get("/desk/sepa/retries")
def retry_queue(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """Returned collections waiting for their retry, earliest due first: two statements."""
    require_treasurer(viewer)
    queue = retries.retry_queue(session, viewer)
    return render(request, "desk/sepa_retries.html", {"queue": queue, "nav": desk_nav(viewer)})


def _date(form: FormState, text: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        form.add_error("collection_date", BAD_DATE)
        return None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        form.add_error("collection_date", BAD_DATE)
        return None
    return day
