"""/api/v1/bank: reconciliation of imported lines and the treasurer's review, for treasurers and
administrators (``bank/reconcile.py``, ``bank/review.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from verenigingen.bank import reconcile, review
from verenigingen.bank.schemas import (
    AcceptIn,
    AllocateIn,
    ReconcileOut,
    ReviewLineOut,
    StatementLineOut,
    UnrelatedIn,
)
from verenigingen.db.ids import RecordId
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody, Page, PageParams

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/bank",
    tags=["bank"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 422)},
)
_DECISION_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (404, 409)
}


@router.post("/reconcile")
def reconcile_lines(session: SessionDep, user: CurrentUser) -> ReconcileOut:
    """Match every Open line of money in: sure matches (the runtime setting
    bank_auto_allocate_score, 0.85, and up) paid, the rest put in review."""
    result = reconcile.reconcile_open_lines(session, user)
    return ReconcileOut(allocated=result.allocated, review=result.review, returned=result.returned)


@router.get("/review")
def review_lines(session: SessionDep, user: CurrentUser, page: PageParams) -> Page[ReviewLineOut]:
    """The lines waiting for the treasurer in imported order, with their best candidates."""
    return Page[ReviewLineOut].of(review.review_lines(session, user, page=page), ReviewLineOut.of)


@router.post("/lines/{line_id}/accept", responses=_DECISION_ERRORS)
def accept_candidate(
    session: SessionDep,
    user: CurrentUser,
    line_id: RecordId,
    body: Annotated[AcceptIn | None, Body()] = None,
) -> StatementLineOut:
    """Pay the line's best candidate, or the candidate invoice named."""
    invoice_id = body.invoice_id if body is not None else None
    line = review.accept_candidate(session, user, line_id, invoice_id=invoice_id)
    return StatementLineOut.model_validate(line)


@router.post("/lines/{line_id}/allocate", responses=_DECISION_ERRORS)
def allocate_line(
    session: SessionDep, user: CurrentUser, line_id: RecordId, body: AllocateIn
) -> StatementLineOut:
    """Pay invoices of one customer by hand: one payment, an allocation per invoice (a split);
    the amounts add up to the line's."""
    line = review.allocate_line(session, user, line_id, body.allocations)
    return StatementLineOut.model_validate(line)


@router.post("/lines/{line_id}/unrelated", responses=_DECISION_ERRORS)
def mark_unrelated(
    session: SessionDep,
    user: CurrentUser,
    line_id: RecordId,
    body: Annotated[UnrelatedIn | None, Body()] = None,
) -> StatementLineOut:
    """Mark the line as not member-related: it is left alone from now on."""
    note = body.note if body is not None else ""
    line = review.mark_unrelated(session, user, line_id, note=note)
    return StatementLineOut.model_validate(line)
