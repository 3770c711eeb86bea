"""/api/v1/sepa: the creditor's settings, the mandates' lifecycle, direct-debit batches, the
bank's rejects and returns and the retry queue; /api/v1/me/mandates: a member's own mandates.

/sepa is for Treasurer and Administrator (the roles that see whole IBANs and write money); the
services check. /me/mandates is for any login linked to a member, on its own mandates only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile

from verenigingen.db.ids import RecordId
from verenigingen.errors import ValidationFailed
from verenigingen.sepa import (
    batches,
    creditor,
    mandates,
    pain008,
    retries,
    returns,
    self_service,
    tasks,
)
from verenigingen.sepa.models import RetryStatus
from verenigingen.sepa.schemas import (
    AccountIn,
    BatchCreate,
    BatchDetail,
    BatchOut,
    CreditorIn,
    CreditorOut,
    EntryOut,
    MandateOut,
    OwnMandateIn,
    ProcessJobOut,
    ReasonIn,
    RetryOut,
    ReturnTallyOut,
    RevokeIn,
    StatusReportImportOut,
)
from verenigingen.sepa.status_reports import MAX_FILE_BYTES
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/sepa",
    tags=["sepa"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)
me_router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/me/mandates",
    tags=["sepa"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)


@router.get("/creditor")
def get_creditor(session: SessionDep, user: CurrentUser) -> CreditorOut:
    """The creditor settings (409 ``creditor_not_configured`` before they are set)."""
    return CreditorOut.model_validate(creditor.get_creditor(session, user))


@router.put("/creditor")
def set_creditor(session: SessionDep, user: CurrentUser, body: CreditorIn) -> CreditorOut:
    """Set (replace) the creditor settings; every field checked before anything is written."""
    return CreditorOut.model_validate(creditor.set_creditor(session, user, body))


@router.post("/mandates/{mandate_id}/activate")
def activate_mandate(session: SessionDep, user: CurrentUser, mandate_id: RecordId) -> MandateOut:
    """Draft → Active."""
    return MandateOut.of(mandates.activate_mandate(session, user, mandate_id), user)


@router.post("/mandates/{mandate_id}/suspend")
def suspend_mandate(
    session: SessionDep, user: CurrentUser, mandate_id: RecordId, body: ReasonIn
) -> MandateOut:
    """Active → Suspended, with a reason."""
    return MandateOut.of(mandates.suspend_mandate(session, user, mandate_id, body.reason), user)


@router.post("/mandates/{mandate_id}/reinstate")
def reinstate_mandate(session: SessionDep, user: CurrentUser, mandate_id: RecordId) -> MandateOut:
    """Suspended → Active."""
    return MandateOut.of(mandates.reinstate_mandate(session, user, mandate_id), user)


@router.post("/mandates/{mandate_id}/cancel")
def cancel_mandate(
    session: SessionDep, user: CurrentUser, mandate_id: RecordId, body: ReasonIn
) -> MandateOut:
    """Cancel with a reason; final."""
    return MandateOut.of(mandates.cancel_mandate(session, user, mandate_id, body.reason), user)


@router.put("/mandates/{mandate_id}/account")
def change_account(
    session: SessionDep, user: CurrentUser, mandate_id: RecordId, body: AccountIn
) -> MandateOut:
    """The debtor's new account on the same mandate; the next collection carries the amendment."""
    changed = mandates.change_mandate_account(session, user, mandate_id, body.iban, body.bic)
    return MandateOut.of(changed, user)


@router.get("/batches")
def list_batches(session: SessionDep, user: CurrentUser) -> list[BatchOut]:
    """Every batch, newest first."""
    return [BatchOut.model_validate(b) for b in batches.list_batches(session, user)]


@router.post("/batches", status_code=201)
def create_batch(session: SessionDep, user: CurrentUser, body: BatchCreate) -> BatchOut:
    """A Draft batch of every collectable invoice for the collection date."""
    batch = batches.create_batch(session, user, body.collection_date, description=body.description)
    return BatchOut.model_validate(batch)


@router.get("/batches/{batch_id}")
def get_batch(session: SessionDep, user: CurrentUser, batch_id: RecordId) -> BatchDetail:
    """One batch with its entries."""
    batch = batches.get_batch(session, user, batch_id)
    entries = [EntryOut.of(e) for e in batches.batch_entries(session, batch.id)]
    return BatchDetail(**BatchOut.model_validate(batch).model_dump(), entries=entries)


@router.post(
    "/batches/{batch_id}/export",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}, "description": "the pain.008 file"}},
)
def export_batch(session: SessionDep, user: CurrentUser, batch_id: RecordId) -> Response:
    """The batch's pain.008, validated against the XSD; a Draft becomes Generated. An invalid
    batch is 422 ``batch_invalid`` listing its errors per entry."""
    document = pain008.export_batch(session, user, batch_id)
    return Response(content=document, media_type="application/xml")


@router.post("/batches/{batch_id}/submit")
def submit_batch(session: SessionDep, user: CurrentUser, batch_id: RecordId) -> BatchOut:
    """Generated → Submitted: the file went to the bank."""
    return BatchOut.model_validate(batches.submit_batch(session, user, batch_id))


@router.post("/batches/{batch_id}/process")
def process_batch(session: SessionDep, user: CurrentUser, batch_id: RecordId) -> BatchOut:
    """Submitted → Processed: payments and allocations booked, usages Collected."""
    return BatchOut.model_validate(batches.process_batch(session, user, batch_id))


@router.post("/batches/{batch_id}/cancel")
def cancel_batch(session: SessionDep, user: CurrentUser, batch_id: RecordId) -> BatchOut:
    """Draft or Generated → Cancelled."""
    return BatchOut.model_validate(batches.cancel_batch(session, user, batch_id))


@router.post("/batches/{batch_id}/process-job", status_code=202)
def process_batch_job(session: SessionDep, user: CurrentUser, batch_id: RecordId) -> ProcessJobOut:
    """Process a Submitted batch as a tracked job (for a large batch): follow its progress at
    ``GET /api/v1/jobs/{job_id}``. Asked again while it waits or runs: the same job."""
    job = tasks.start_processing(session, user, batch_id)
    return ProcessJobOut(job_id=job.id, batch_id=batch_id, status=job.status)


@router.post("/status-reports")
def import_status_report(
    session: SessionDep,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="A pain.002 or camt.054 (XML) file.")],
) -> StatusReportImportOut:
    """Import the bank's rejects (pain.002) or returns (camt.054): every one, or nothing (422
    naming the element or line). The same file again changes nothing: ``already_imported``."""
    content = file.file.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise ValidationFailed(f"a status report may hold at most {MAX_FILE_BYTES} bytes")
    outcome = returns.import_status_report(session, user, content)
    tally = outcome.tally
    return StatusReportImportOut(
        report_id=outcome.report_id,
        file_format=outcome.file_format,
        already_imported=outcome.already_imported,
        tally=ReturnTallyOut(
            rejected=tally.rejected,
            returned=tally.returned,
            already_recorded=tally.already_recorded,
            invoices_reopened=tally.invoices_reopened,
            mandates_stopped=tally.mandates_stopped,
            mandates_invalidated=tally.mandates_invalidated,
            retries_scheduled=tally.retries_scheduled,
            retries_exhausted=tally.retries_exhausted,
            reason_codes=dict(tally.reason_codes),
        ),
    )


@router.get("/retries")
def retry_queue(
    session: SessionDep,
    user: CurrentUser,
    status: Annotated[
        RetryStatus | None, Query(description="Only returns with this retry status.")
    ] = RetryStatus.WAITING,
    all_returns: Annotated[
        bool, Query(alias="all", description="Every return, whatever its retry status.")
    ] = False,
) -> list[RetryOut]:
    """The retry queue: returned collections waiting for their retry, earliest due first (or
    every return, newest first)."""
    chosen = None if all_returns else status
    return [
        RetryOut.model_validate(item) for item in retries.retry_queue(session, user, status=chosen)
    ]


@me_router.get("")
def my_mandates(session: SessionDep, user: CurrentUser) -> list[MandateOut]:
    """The mandates of the member linked to this login, newest signature first."""
    return [MandateOut.of(m, user) for m in self_service.my_mandates(session, user)]


@me_router.post("", status_code=201)
def sign_my_mandate(session: SessionDep, user: CurrentUser, body: OwnMandateIn) -> MandateOut:
    """Sign a new mandate today (Active; the reference from the creditor's pattern)."""
    return MandateOut.of(self_service.sign_my_mandate(session, user, body), user)


@me_router.post("/{mandate_id}/revoke")
def revoke_my_mandate(
    session: SessionDep, user: CurrentUser, mandate_id: RecordId, body: RevokeIn | None = None
) -> MandateOut:
    """Revoke one of your own mandates (Cancelled); another member's is 404."""
    reason = body.reason if body is not None else None
    return MandateOut.of(self_service.revoke_my_mandate(session, user, mandate_id, reason), user)
