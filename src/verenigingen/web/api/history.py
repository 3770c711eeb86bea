"""/api/v1/members/{id}/payment-history and /financial-summary"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from verenigingen.db.ids import RecordId
from verenigingen.db.paging import MAX_LIMIT
from verenigingen.history import service
from verenigingen.history.queries import DEFAULT_LIMIT
from verenigingen.history.schemas import FinancialSummaryOut, PaymentHistory
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/members",
    tags=["history"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 422)},
)


@router.get("/{member_id}/payment-history", response_model=PaymentHistory)
def payment_history(
    session: SessionDep,
    user: CurrentUser,
    member_id: RecordId,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    before: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page")
    ] = None,
) -> Response:
    """A member's invoices (newest first) with their payments, unallocated payments, active
    mandates and a summary; a Member reads only its own. Served from the cache while the
    member's ledger is unchanged."""
    history = service.payment_history_text(session, user, member_id, limit=limit, before=before)
    # The cached text is the response body: no parsing and re-serialising on a hit.
    return Response(content=history.text, media_type="application/json")


@router.get("/{member_id}/financial-summary")
def financial_summary(
    session: SessionDep, user: CurrentUser, member_id: RecordId
) -> FinancialSummaryOut:
    """Totals, outstanding, overdue invoices, last payment and payment status of a member."""
    return service.financial_summary(session, user, member_id)
