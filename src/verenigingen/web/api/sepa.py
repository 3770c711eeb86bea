"""/api/v1/sepa: the creditor's settings, the mandates' lifecycle and direct-debit batches.

Treasurer and Administrator (the roles that see whole IBANs and write money); the services check.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from verenigingen.db.ids import RecordId
from verenigingen.sepa import batches, creditor, mandates, pain008
from verenigingen.sepa.schemas import (
    AccountIn,
    BatchCreate,
    BatchDetail,
    BatchOut,
    CreditorIn,
    CreditorOut,
    EntryOut,
    MandateOut,
    ReasonIn,
)
from verenigingen.web.deps import CurrentUser, SessionDep
from verenigingen.web.schemas import ErrorBody

router = APIRouter(
    prefix="/sepa",
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
