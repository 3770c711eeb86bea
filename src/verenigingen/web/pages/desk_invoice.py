"""One invoice at the desk: its lines, the payments allocated to it, what it still owes and its
credit notes (``billing.queries.invoice_detail``), with the two things a treasurer may do to it:

- a credit note, of all it still owes, of one line's amount or of an amount typed, with a reason
  (``credit_notes.create_credit_note``, as ``POST /api/v1/invoices/{id}/credit-notes``);
- cancelling it (``invoices.cancel_invoice``, as ``POST /api/v1/invoices/{id}/cancel``): a
  draft, or a submitted invoice that no submitted payment or credit note settles any more.

Each asks for a confirmation first; only the confirmed form writes. A rule of the ledger that
refuses it (more credit than is owed, an invoice a payment still settles, cancelled twice) comes
back as the invoice's page with the rule's message and the refusal's status (409 or 422), and
nothing is written: the service runs in a savepoint that the refusal rolls back.

Treasurers and administrators only (``billing.write``); a Membership Secretary reads the page
without its forms and gets the 403 page if it posts one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, has_permission, require
from verenigingen.billing import errors as billing_errors
from verenigingen.billing.models import DocStatus
from verenigingen.billing.queries import InvoiceDetail, invoice_detail
from verenigingen.billing.schemas import CreditNoteCreate
from verenigingen.billing.service.credit_notes import create_credit_note
from verenigingen.billing.service.invoices import cancel_invoice
from verenigingen.db.ids import RecordId
from verenigingen.errors import DomainError, ValidationFailed
from verenigingen.money import parse_amount
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import desk_nav, require_desk_role
from verenigingen.web.pages.forms import N_, FormState, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

CONFIRMED = "yes"
WHOLE = "outstanding"
"""Credit all the invoice still owes."""
TYPED = "amount"
"""Credit the amount typed."""
LINE = "line-"
"""Followed by a line's id: credit that line's amount."""

MAX_REASON = 400
"""As the API's ``reason``."""

BAD_AMOUNT = N_("Enter an amount greater than zero with at most two decimals, like 12.50.")
BAD_CHOICE = N_("Choose one of the options.")
NO_REASON = N_("Say why the invoice is credited.")
BAD_REASON = N_("At most %(max)s characters, on one line.")

REFUSALS: dict[type[DomainError], str] = {
    billing_errors.CreditExceedsOutstanding: N_(
        "The credit is more than what the invoice still owes."
    ),
    billing_errors.NothingOutstandingToCredit: N_(
        "The invoice owes nothing any more, so there is nothing to credit."
    ),
    billing_errors.CreditNoteNotCreditable: N_(
        "This is a credit note itself; credit the invoice it credits."
    ),
    billing_errors.InvoiceNotSubmitted: N_(
        "Only a submitted invoice can be credited; this one is a draft or cancelled."
    ),
    billing_errors.InvoiceAlreadyCancelled: N_("The invoice is cancelled already."),
    billing_errors.InvoiceStillSettled: N_(
        "Payments or credit notes still settle this invoice: cancel those first."
    ),
    billing_errors.OutstandingExceedsTotal: N_(
        "The invoice would owe more than its total; the ledger needs repair first."
    ),
}
REFUSED = N_("The ledger refused this: %(reason)s")
REFUSED_RULES = tuple(REFUSALS)

CREDIT_NOTE_MADE = flash_message(
    "credit_note_made", "success", N_("The credit note is made; the invoice owes that much less.")
)
INVOICE_CANCELLED = flash_message(
    "invoice_cancelled", "success", N_("The invoice is cancelled; it owes nothing any more.")
)

ChoiceField = Annotated[str, Form(max_length=40)]
ReasonField = Annotated[str, Form(max_length=2000)]


def _page(
    request: Request,
    viewer: User,
    detail: InvoiceDetail,
    *,
    credit_form: FormState | None = None,
    cancel_form: FormState | None = None,
    status_code: int = 200,
) -> Response:
    invoice = detail.invoice
    may_write = has_permission(viewer, Permission.BILLING_WRITE)
    creditable = (
        invoice.docstatus == DocStatus.SUBMITTED
        and not invoice.is_return
        and invoice.outstanding_amount > 0
    )
    cancellable = invoice.docstatus != DocStatus.CANCELLED and not detail.settled
    return render(
        request,
        "desk/invoice.html",
        {
            "detail": detail,
            "invoice": invoice,
            "credit_form": credit_form or FormState(values={"credit": WHOLE}),
            "cancel_form": cancel_form or FormState(),
            "may_credit": may_write and creditable,
            "may_cancel": may_write and cancellable,
            "whole": WHOLE,
            "typed": TYPED,
            "line_prefix": LINE,
            "submitted": DocStatus.SUBMITTED,
            "nav": desk_nav(viewer),
        },
        status_code=status_code,
    )


@router.get("/desk/invoices/{invoice_id}")
def invoice(
    request: Request, session: SessionDep, viewer: SignedIn, invoice_id: RecordId
) -> Response:
    """The invoice with its lines, payments and credit notes, and the forms the viewer may use:
    six statements (the sign-in, the invoice with its customer's name, its lines, its
    allocations, its credit notes). An unknown invoice is the 404 page."""
    require_desk_role(viewer)
    return _page(request, viewer, invoice_detail(session, viewer, invoice_id))


@router.post("/desk/invoices/{invoice_id}/credit-note")
def credit(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    invoice_id: RecordId,
    credit: ChoiceField = WHOLE,
    amount: ChoiceField = "",
    reason: ReasonField = "",
    confirmed: ChoiceField = "",
) -> Response:
    """Without ``confirmed``: the confirmation page, saying how much is credited and why. With
    it: the credit note, then the invoice's page with what it owes now. A field that cannot be
    read (422) or a rule that refuses the credit (409, 422): the page again with the message,
    what was typed kept, nothing written."""
    require_desk_role(viewer)
    require(viewer, Permission.BILLING_WRITE)
    detail = invoice_detail(session, viewer, invoice_id)
    form = FormState(values={"credit": credit, "amount": amount, "reason": reason})
    data = _credit_of(form, detail)
    if data is None:
        return _page(request, viewer, detail, credit_form=form, status_code=422)
    if confirmed != CONFIRMED:
        shown = data.amount if data.amount is not None else detail.invoice.outstanding_amount
        return render(
            request,
            "desk/confirm.html",
            {
                "title": N_("Make a credit note"),
                "question": N_("Credit %(amount)s of invoice %(number)s, because: %(reason)s?"),
                "values": {"amount": shown, "number": detail.invoice.number, "reason": data.reason},
                "money": ("amount",),
                "action": f"/desk/invoices/{invoice_id}/credit-note",
                "fields": form.values,
                "yes": N_("Yes, make the credit note"),
                "back": f"/desk/invoices/{invoice_id}",
                "nav": desk_nav(viewer),
            },
        )
    try:
        with session.begin_nested():
            create_credit_note(session, viewer, invoice_id, data)
    except REFUSED_RULES as refusal:
        form.add_error("", REFUSALS[type(refusal)])
        return _refused(request, session, viewer, invoice_id, refusal, credit_form=form)
    except ValidationFailed as refusal:
        form.add_error("", REFUSED, reason=refusal.detail)
        return _refused(request, session, viewer, invoice_id, refusal, credit_form=form)
    response = RedirectResponse(f"/desk/invoices/{invoice_id}", status_code=303)
    flash(response, request, CREDIT_NOTE_MADE)
    return response


@router.post("/desk/invoices/{invoice_id}/cancel")
def cancel(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    invoice_id: RecordId,
    confirmed: ChoiceField = "",
) -> Response:
    """Without ``confirmed``: the confirmation page. With it: the invoice cancelled (a credit
    note gives its amount back to the invoice it credited), then its page; refused (409: a
    payment or credit note still settles it, cancelled already): the page with the rule's
    message, nothing written."""
    require_desk_role(viewer)
    require(viewer, Permission.BILLING_WRITE)
    if confirmed != CONFIRMED:
        detail = invoice_detail(session, viewer, invoice_id)
        return render(
            request,
            "desk/confirm.html",
            {
                "title": N_("Cancel an invoice"),
                "question": N_(
                    "Cancel %(number)s? It will owe nothing, and it cannot be submitted again."
                ),
                "values": {"number": detail.invoice.number},
                "money": (),
                "action": f"/desk/invoices/{invoice_id}/cancel",
                "fields": {},
                "yes": N_("Yes, cancel it"),
                "back": f"/desk/invoices/{invoice_id}",
                "nav": desk_nav(viewer),
            },
        )
    try:
        with session.begin_nested():
            cancel_invoice(session, viewer, invoice_id)
    except REFUSED_RULES as refusal:
        form = FormState()
        form.add_error("", REFUSALS[type(refusal)])
        return _refused(request, session, viewer, invoice_id, refusal, cancel_form=form)
    response = RedirectResponse(f"/desk/invoices/{invoice_id}", status_code=303)
    flash(response, request, INVOICE_CANCELLED)
    return response


def _refused(
    request: Request,
    session: Session,
    viewer: User,
    invoice_id: int,
    refusal: DomainError,
    *,
    credit_form: FormState | None = None,
    cancel_form: FormState | None = None,
) -> Response:
    """The invoice's page as the ledger has it after the rolled-back attempt (the savepoint's
    rollback expired what the attempt changed), with why."""
    detail = invoice_detail(session, viewer, invoice_id)
    return _page(
        request,
        viewer,
        detail,
        credit_form=credit_form,
        cancel_form=cancel_form,
        status_code=refusal.status_code,
    )


def _credit_of(form: FormState, detail: InvoiceDetail) -> CreditNoteCreate | None:
    """The credit note the form asks for, or None with the form's errors added."""
    choice = form.value("credit")
    amount: Decimal | None = None
    if choice == TYPED:
        amount = _amount(form, form.value("amount"))
    elif choice.startswith(LINE):
        lines = {f"{LINE}{line.id}": line.amount for line in detail.invoice.lines}
        if choice not in lines or lines[choice] <= 0:
            form.add_error("credit", BAD_CHOICE)
        else:
            amount = lines[choice]
    elif choice != WHOLE:
        form.add_error("credit", BAD_CHOICE)
    reason = form.value("reason").strip()
    if not reason:
        form.add_error("reason", NO_REASON)
    elif len(reason) > MAX_REASON or any(not character.isprintable() for character in reason):
        form.add_error("reason", BAD_REASON, max=MAX_REASON)
    if not form.valid:
        return None
    try:
        return CreditNoteCreate(amount=amount, reason=reason)
    except ValidationError:  # the page's checks are the schema's; kept as its last word
        form.add_error("reason", BAD_REASON, max=MAX_REASON)
        return None


def _amount(form: FormState, text: str) -> Decimal | None:
    """An amount as people type it: ``12.50``, ``12,50`` or ``12``."""
    cleaned = text.strip()
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        return parse_amount(cleaned, field="amount")
    except ValidationFailed:
        form.add_error("amount", BAD_AMOUNT)
        return None
