"""Registering a payment at the desk: the amount a member paid, allocated to its open invoices
oldest first or by hand, then submitted, through billing's services (``create_payment`` and
``submit_payment``, as ``POST /api/v1/payments`` with ``submit: true``).

Treasurers and administrators only (``billing.write``): a Membership Secretary gets the 403
page and sees no link to the form. A field that cannot be read re-renders the form (422) with
the error under it and everything typed kept; a rule of the ledger that refuses the payment
(an allocation past what an invoice owes, allocations past the amount, an invoice settled
meanwhile) does the same with the rule's message, and nothing is written: the payment is made
in a savepoint that the refusal rolls back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing import errors as billing_errors
from verenigingen.billing.models import Invoice, ModeOfPayment
from verenigingen.billing.schemas import AllocationIn, PaymentCreate
from verenigingen.billing.service.allocation import load_open_invoices
from verenigingen.billing.service.payments import create_payment, submit_payment
from verenigingen.clock import EARLIEST_DAY, LATEST_DAY
from verenigingen.db.ids import RecordId
from verenigingen.errors import DomainError, ValidationFailed
from verenigingen.members.models import Member
from verenigingen.members.queries import get_member
from verenigingen.money import ZERO, parse_amount
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import desk_nav, require_desk_role
from verenigingen.web.pages.forms import N_, FormState, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

MAX_INVOICES = 500
"""Most allocations one form may send (as the API's ``allocations``)."""

MODES = (ModeOfPayment.BANK_TRANSFER, ModeOfPayment.CASH, ModeOfPayment.IDEAL, ModeOfPayment.OTHER)
"""How a member may have paid at the desk (direct debits come from SEPA batches)."""

MODE_LABELS = (N_("Bank Transfer"), N_("Cash"), N_("iDEAL"), N_("Other"))
"""For the catalog; the form translates the mode it shows."""

OLDEST_FIRST = "oldest"
BY_HAND = "manual"

BAD_AMOUNT = N_("Enter an amount greater than zero with at most two decimals, like 12.50.")
BAD_DATE = N_("Enter a date between 1900 and 2200, like 2026-03-02.")
BAD_CHOICE = N_("Choose one of the options.")
TOO_LONG = N_("At most %(max)s characters.")
NOTHING_ALLOCATED = N_("Enter the amount for at least one invoice, or allocate oldest first.")

REFUSALS: dict[type[DomainError], str] = {
    billing_errors.AllocationsExceedPaidAmount: N_(
        "The amounts per invoice add up to more than the amount received."
    ),
    billing_errors.AllocationExceedsOutstanding: N_(
        "An amount per invoice is more than what that invoice still owes."
    ),
    billing_errors.InvoiceNotSubmitted: N_(
        "An invoice changed meanwhile (it is no longer open). Please look again."
    ),
    billing_errors.OutstandingExceedsTotal: N_(
        "An invoice changed meanwhile (it is no longer open). Please look again."
    ),
}
REFUSED = N_("The ledger refused this payment: %(reason)s")

PAYMENT_REGISTERED = flash_message(
    "payment_registered", "success", N_("The payment is registered and allocated.")
)

AmountField = Annotated[str, Form(max_length=40)]
TextField = Annotated[str, Form(max_length=400)]
ListField = Annotated[list[str], Form(max_length=40)]


def _open_invoices(session: Session, member: Member) -> list[Invoice]:
    return list(load_open_invoices(session, member.customer_id)) if member.customer_id else []


def _form_page(
    request: Request,
    viewer: User,
    member: Member,
    open_invoices: list[Invoice],
    form: FormState,
    *,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "desk/payment_new.html",
        {
            "member": member,
            "open_invoices": open_invoices,
            "outstanding": sum((invoice.outstanding_amount for invoice in open_invoices), ZERO),
            "form": form,
            "modes": [mode.value for mode in MODES],
            "oldest_first": OLDEST_FIRST,
            "by_hand": BY_HAND,
            "nav": desk_nav(viewer),
        },
        status_code=status_code,
    )


@router.get("/desk/payments/new")
def new_payment(
    request: Request, session: SessionDep, viewer: SignedIn, member_id: RecordId | None = None
) -> Response:
    """The form for one member (``member_id``): its open invoices, oldest due first, with a
    field for each. Without a member, where to find one. Four statements: the sign-in, the
    member, its open invoices (none without a customer)."""
    require_desk_role(viewer)
    require(viewer, Permission.BILLING_WRITE)
    if member_id is None:
        return render(request, "desk/payment_choose.html", {"nav": desk_nav(viewer)})
    member = get_member(session, viewer, member_id)
    today = clock.today().isoformat()
    form = FormState(values={"posting_date": today, "allocation": OLDEST_FIRST})
    return _form_page(request, viewer, member, _open_invoices(session, member), form)


@router.post("/desk/payments/new")
def register_payment(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    member_id: Annotated[RecordId, Form()],
    amount: AmountField = "",
    posting_date: AmountField = "",
    mode_of_payment: AmountField = "",
    reference_no: TextField = "",
    allocation: AmountField = OLDEST_FIRST,
    invoice_id: ListField = [],  # noqa: B006 (FastAPI copies a default, it is never shared)
    allocated: ListField = [],  # noqa: B006
) -> Response:
    """Create and submit the payment, then the member's page with its history updated; the
    form again (422) with what was typed and what is wrong, nothing written."""
    require_desk_role(viewer)
    require(viewer, Permission.BILLING_WRITE)
    member = get_member(session, viewer, member_id)
    open_invoices = _open_invoices(session, member)
    form = FormState(
        values={
            "amount": amount,
            "posting_date": posting_date,
            "mode_of_payment": mode_of_payment,
            "reference_no": reference_no,
            "allocation": allocation,
            **{
                f"allocated-{key}": value for key, value in zip(invoice_id, allocated, strict=False)
            },
        }
    )
    data = _payment_of(form, member, open_invoices, invoice_id, allocated)
    if data is None:
        return _form_page(request, viewer, member, open_invoices, form, status_code=422)
    try:
        with session.begin_nested():
            payment = create_payment(session, viewer, data)
            submit_payment(session, viewer, payment.id)
    except (ValidationFailed, billing_errors.InvoiceNotSubmitted,
            billing_errors.OutstandingExceedsTotal) as refusal:  # fmt: skip
        form.add_error("", REFUSALS.get(type(refusal), REFUSED), reason=refusal.detail)
        open_invoices = _open_invoices(session, member)
        return _form_page(request, viewer, member, open_invoices, form, status_code=422)
    response = RedirectResponse(f"/desk/members/{member.id}", status_code=303)
    flash(response, request, PAYMENT_REGISTERED)
    return response


def _payment_of(
    form: FormState,
    member: Member,
    open_invoices: list[Invoice],
    invoice_ids: list[str],
    amounts: list[str],
) -> PaymentCreate | None:
    """The payment the form asks for, or None with the form's errors added."""
    paid = _amount(form, "amount", form.value("amount"))
    posting_date = _date(form, "posting_date", form.value("posting_date"))
    if form.value("mode_of_payment") not in {mode.value for mode in MODES}:
        form.add_error("mode_of_payment", BAD_CHOICE)
    if len(form.value("reference_no")) > 140:
        form.add_error("reference_no", TOO_LONG, max=140)
    choice = form.value("allocation")
    if choice not in (OLDEST_FIRST, BY_HAND):
        form.add_error("allocation", BAD_CHOICE)
    allocations = None
    if choice == BY_HAND:
        allocations = _allocations(form, open_invoices, invoice_ids, amounts)
    if member.customer_id is None:
        form.add_error("", N_("This member has no customer account yet, so nothing to pay."))
    if not form.valid or paid is None or member.customer_id is None:
        return None
    return PaymentCreate(
        customer_id=member.customer_id,
        paid_amount=paid,
        posting_date=posting_date,
        mode_of_payment=ModeOfPayment(form.value("mode_of_payment")),
        reference_no=form.value("reference_no").strip() or None,
        allocations=allocations,
    )


def _allocations(
    form: FormState, open_invoices: list[Invoice], invoice_ids: list[str], amounts: list[str]
) -> list[AllocationIn] | None:
    """The amounts typed per open invoice (an empty field allocates nothing to it)."""
    if len(invoice_ids) != len(amounts) or len(invoice_ids) > MAX_INVOICES:
        form.add_error("", BAD_CHOICE)
        return None
    open_ids = {str(invoice.id): invoice.id for invoice in open_invoices}
    chosen: list[AllocationIn] = []
    for key, text in zip(invoice_ids, amounts, strict=True):
        if not text.strip():
            continue
        if key not in open_ids:
            form.add_error("", REFUSALS[billing_errors.InvoiceNotSubmitted])
            continue
        share = _amount(form, f"allocated-{key}", text)
        if share is not None:
            chosen.append(AllocationIn(invoice_id=open_ids[key], allocated_amount=share))
    if form.valid and not chosen:
        form.add_error("allocation", NOTHING_ALLOCATED)
    return chosen


def _amount(form: FormState, name: str, text: str) -> Decimal | None:
    """An amount as people type it: ``12.50``, ``12,50`` or ``12``."""
    cleaned = text.strip()
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        return parse_amount(cleaned, field=name)
    except ValidationFailed:
        form.add_error(name, BAD_AMOUNT)
        return None


def _date(form: FormState, name: str, text: str) -> dt.date | None:
    """A day from a date field (``2026-03-02``); empty is today (None)."""
    if not text.strip():
        return None
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        form.add_error(name, BAD_DATE)
        return None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        form.add_error(name, BAD_DATE)
        return None
    return day
