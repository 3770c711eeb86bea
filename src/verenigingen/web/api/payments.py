"""/api/v1/payments"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from verenigingen.billing import queries
from verenigingen.billing.schemas import FollowUpOut, PaymentCreateRequest, PaymentOut
from verenigingen.billing.service import payments
from verenigingen.db.ids import RecordId
from verenigingen.events import follow_up_of
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.idempotency import run_idempotent
from verenigingen.web.schemas import ErrorBody, Page, PageParams

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/payments",
    tags=["payments"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)

PaymentStatus = Literal["Draft", "Submitted", "Cancelled"]


@router.get("")
def list_payments(
    session: SessionDep,
    user: CurrentUser,
    page: PageParams,
    status: PaymentStatus | None = None,
    customer_id: RecordId | None = None,
) -> Page[PaymentOut]:
    """Newest first, a page at a time: ``after`` the previous page's ``next_cursor``."""
    found = queries.list_payments(session, user, status=status, customer_id=customer_id, page=page)
    return Page[PaymentOut].of(found, PaymentOut.model_validate)


@router.get("/{payment_id}")
def get_payment(session: SessionDep, user: CurrentUser, payment_id: RecordId) -> PaymentOut:
    return PaymentOut.model_validate(queries.get_payment(session, user, payment_id))


@router.post("", status_code=201, response_model=PaymentOut)
def create_payment(
    session: SessionDep,
    user: CurrentUser,
    body: PaymentCreateRequest,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Create a Draft payment (``submit: true`` submits it too).

    With an ``Idempotency-Key`` header a retry with the same body replays the first response and
    writes nothing; the same key with another body is refused (409).
    """

    def create() -> PaymentOut:
        payment = payments.create_payment(session, user, body)
        if body.submit:
            payment = payments.submit_payment(session, user, payment.id)
        return _with_follow_up(session, PaymentOut.model_validate(payment))

    return run_idempotent(
        session, user, "payments.create", idempotency_key, body.model_dump(mode="json"), create
    )


@router.post("/{payment_id}/submit")
def submit_payment(session: SessionDep, user: CurrentUser, payment_id: RecordId) -> PaymentOut:
    """Submit a draft; ``follow_up`` lists the jobs that bring the member's summary (and a
    direct debit's mandate usage) up to date."""
    submitted = payments.submit_payment(session, user, payment_id)
    return _with_follow_up(session, PaymentOut.model_validate(submitted))


@router.post("/{payment_id}/cancel")
def cancel_payment(session: SessionDep, user: CurrentUser, payment_id: RecordId) -> PaymentOut:
    """Cancel a payment; a submitted one gives the invoices back what it settled."""
    cancelled = payments.cancel_payment(session, user, payment_id)
    return _with_follow_up(session, PaymentOut.model_validate(cancelled))


def _with_follow_up(session: Session, out: PaymentOut) -> PaymentOut:
    """``out`` telling the user what runs on after the answer (and the job ids to follow)."""
    return out.model_copy(update={"follow_up": FollowUpOut.of(follow_up_of(session))})
