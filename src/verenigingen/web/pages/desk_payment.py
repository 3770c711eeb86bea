"""One payment at the desk (``billing.queries.payment_detail``): what was paid, how, the
invoices it settles with what each still owes, the members its customer pays for; and its
cancellation (``payments.cancel_payment``, as ``POST /api/v1/payments/{id}/cancel``).

Cancelling asks for a confirmation first. A submitted payment gives each invoice back what it
settled (outstanding and status restored) and billing bumps the cache tags of the customer and
its members in the same transaction, so the member's page shows the history as it is now; a
draft is simply cancelled. Cancelled twice: the payment's page with the rule's message (409),
nothing written.

Treasurers and administrators only (``billing.write``); a Membership Secretary reads the page
without the button and gets the 403 page if it posts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, has_permission, require
from verenigingen.billing import errors as billing_errors
from verenigingen.billing.models import DocStatus
from verenigingen.billing.queries import PaymentDetail, payment_detail
from verenigingen.billing.service.payments import cancel_payment
from verenigingen.db.ids import RecordId
from verenigingen.errors import DomainError
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import desk_nav, require_desk_role
from verenigingen.web.pages.desk_billing import DOCSTATUS_LABELS
from verenigingen.web.pages.forms import N_, FormState, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

CONFIRMED = "yes"

REFUSALS: dict[type[DomainError], str] = {
    billing_errors.PaymentAlreadyCancelled: N_("The payment is cancelled already."),
    billing_errors.OutstandingExceedsTotal: N_(
        "An invoice would owe more than its total; the ledger needs repair first."
    ),
}
REFUSED_RULES = tuple(REFUSALS)

PAYMENT_CANCELLED = flash_message(
    "payment_cancelled",
    "success",
    N_("The payment is cancelled; its invoices owe again what it had settled."),
)

ChoiceField = Annotated[str, Form(max_length=40)]


def _page(
    request: Request,
    viewer: User,
    detail: PaymentDetail,
    form: FormState | None = None,
    *,
    status_code: int = 200,
) -> Response:
    payment = detail.payment
    return render(
        request,
        "desk/payment.html",
        {
            "detail": detail,
            "payment": payment,
            "status_name": DOCSTATUS_LABELS[payment.docstatus],
            "form": form or FormState(),
            "may_cancel": has_permission(viewer, Permission.BILLING_WRITE)
            and payment.docstatus != DocStatus.CANCELLED,
            "nav": desk_nav(viewer),
        },
        status_code=status_code,
    )


@router.get("/desk/payments/{payment_id}")
def payment(
    request: Request, session: SessionDep, viewer: SignedIn, payment_id: RecordId
) -> Response:
    """The payment, the invoices it settles and its customer's members: four statements (the
    sign-in, the payment with its customer's name, the invoices, the members). An unknown
    payment is the 404 page."""
    require_desk_role(viewer)
    return _page(request, viewer, payment_detail(session, viewer, payment_id))


@router.post("/desk/payments/{payment_id}/cancel")
def cancel(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    payment_id: RecordId,
    confirmed: ChoiceField = "",
) -> Response:
    """Without ``confirmed``: the confirmation page. With it: the payment cancelled, then its
    page with the invoices as they are now; refused: its page with the rule's message (409),
    nothing written."""
    require_desk_role(viewer)
    require(viewer, Permission.BILLING_WRITE)
    if confirmed != CONFIRMED:
        detail = payment_detail(session, viewer, payment_id)
        return render(
            request,
            "desk/confirm.html",
            {
                "title": N_("Cancel a payment"),
                "question": N_(
                    "Cancel payment %(number)s of %(amount)s? The invoices it settles will owe "
                    "that again."
                ),
                "values": {"number": detail.payment.number, "amount": detail.payment.paid_amount},
                "money": ("amount",),
                "action": f"/desk/payments/{payment_id}/cancel",
                "fields": {},
                "yes": N_("Yes, cancel the payment"),
                "back": f"/desk/payments/{payment_id}",
                "nav": desk_nav(viewer),
            },
        )
    try:
        with session.begin_nested():
            cancel_payment(session, viewer, payment_id)
    except REFUSED_RULES as refusal:
        form = FormState()
        form.add_error("", REFUSALS[type(refusal)])
        detail = payment_detail(session, viewer, payment_id)
        return _page(request, viewer, detail, form, status_code=refusal.status_code)
    response = RedirectResponse(f"/desk/payments/{payment_id}", status_code=303)
    flash(response, request, PAYMENT_CANCELLED)
    return response
