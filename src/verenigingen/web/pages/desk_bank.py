"""The bank at the desk: import a statement file (camt.053 or MT940), the statements imported,
the matching of their open lines, and the treasurer's review: accept a line's candidate,
allocate it by hand (one invoice or a split over several), or mark it unrelated, through the
same services as ``/api/v1/bank``.

Treasurers and administrators only (``billing.write``): a Membership Secretary gets the 403
page and sees no link. A file the import refuses (malformed, an unknown account, unbalanced)
shows the refusal with nothing imported; a decision the review refuses (a line decided
meanwhile, amounts that do not add up, an invoice that owes nothing) shows the refusal on the
review list and writes nothing: each write runs in a savepoint the refusal rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.bank import errors as bank_errors
from verenigingen.bank import reconcile, review, service
from verenigingen.bank.service import ImportResult
from verenigingen.billing import errors as billing_errors
from verenigingen.billing.models import Invoice
from verenigingen.billing.schemas import AllocationIn
from verenigingen.db.ids import RecordId
from verenigingen.db.paging import PageRequest
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.money import parse_amount
from verenigingen.web.api.bank import MAX_FILE_BYTES
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import PAGE_SIZE, Cursor, desk_nav, require_desk_role
from verenigingen.web.pages.forms import N_, FormState, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

MAX_SPLIT = 5
"""Invoices one hand allocation may name at the desk (the API takes more)."""

NO_FILE = N_("Choose a camt.053 or MT940 file.")
TOO_BIG = N_("A statement file may hold at most %(max)s bytes.")
REFUSED = N_("Refused: %(reason)s")
BAD_ALLOCATION = N_(
    "Enter an existing invoice number and an amount like 12.50 on each row you use."
)
IMPORT_REFUSALS = (
    bank_errors.StatementFileMalformed,
    bank_errors.StatementUnbalanced,
    bank_errors.StatementCurrencyMismatch,
    bank_errors.StatementAccountUnknown,
    bank_errors.StatementImportConcurrent,
)
DECISION_REFUSALS = (
    bank_errors.LineAlreadyReconciled,
    bank_errors.LineNotMoneyIn,
    bank_errors.LineCurrencyNotInvoiced,
    bank_errors.AllocationsNotLineAmount,
    bank_errors.InvoiceNotOpen,
    bank_errors.LineHasNoCandidate,
    bank_errors.InvoiceNotACandidate,
    billing_errors.AllocationToAnotherCustomer,
    billing_errors.AllocationExceedsOutstanding,
    billing_errors.InvoiceAllocatedTwice,
    NotFound,
)

LINES_MATCHED = flash_message(
    "bank_lines_matched",
    "success",
    N_("The open lines are matched: the sure ones paid, the rest wait below."),
)
LINE_DECIDED = flash_message("bank_line_decided", "success", N_("The line is decided."))

NoteField = Annotated[str, Form(max_length=400)]
ListField = Annotated[list[str], Form(max_length=MAX_SPLIT)]


def _require_treasurer(viewer: User) -> None:
    require_desk_role(viewer)
    require(viewer, Permission.BILLING_WRITE)


def _statements_page(
    request: Request,
    session: Session,
    viewer: User,
    form: FormState,
    *,
    after: str | None = None,
    result: ImportResult | None = None,
    status_code: int = 200,
) -> Response:
    found = service.list_statements(session, viewer, page=PageRequest(PAGE_SIZE, after=after))
    return render(
        request,
        "desk/bank_statements.html",
        {
            "form": form,
            "result": result,
            "statements": found.items,
            "next_cursor": found.next_cursor,
            "after": after,
            "filters": {},
            "nav": desk_nav(viewer),
        },
        status_code=status_code,
    )


@router.get("/desk/bank")
def statements(
    request: Request, session: SessionDep, viewer: SignedIn, after: Cursor = None
) -> Response:
    """The import form and the statements imported, the latest closing date first, by cursor:
    two statements on every page (the sign-in, the page with its line counts)."""
    _require_treasurer(viewer)
    return _statements_page(
        request, session, viewer, FormState(values={"account": ""}), after=after
    )


@router.post("/desk/bank")
def import_statement(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    file: Annotated[UploadFile | None, File()] = None,
    account: Annotated[str, Form(max_length=42)] = "",
) -> Response:
    """Import every statement of the file and show what was added; a refused file its reason
    (422), nothing imported."""
    _require_treasurer(viewer)
    form = FormState(values={"account": account})
    content = file.file.read(MAX_FILE_BYTES + 1) if file is not None else b""
    if not content:
        form.add_error("file", NO_FILE)
    elif len(content) > MAX_FILE_BYTES:
        form.add_error("file", TOO_BIG, max=MAX_FILE_BYTES)
    if not form.valid:
        return _statements_page(request, session, viewer, form, status_code=422)
    try:
        with session.begin_nested():
            result = service.import_statement_file(
                session, viewer, content, account_iban=account.strip() or None
            )
    except (*IMPORT_REFUSALS, ValidationFailed) as refusal:
        form.add_error("file", REFUSED, reason=refusal.detail)
        return _statements_page(request, session, viewer, form, status_code=refusal.status_code)
    return _statements_page(request, session, viewer, form, result=result)


@router.post("/desk/bank/reconcile")
def match_open_lines(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """Match every Open line (as ``POST /api/v1/bank/reconcile``), then the review list."""
    _require_treasurer(viewer)
    reconcile.reconcile_open_lines(session, viewer)
    response = RedirectResponse("/desk/bank/review", status_code=303)
    flash(response, request, LINES_MATCHED)
    return response


def _review_page(
    request: Request,
    session: Session,
    viewer: User,
    *,
    after: str | None = None,
    refusal: str | None = None,
    status_code: int = 200,
) -> Response:
    found = review.review_lines(session, viewer, page=PageRequest(PAGE_SIZE, after=after))
    return render(
        request,
        "desk/bank_review.html",
        {
            "items": found.items,
            "next_cursor": found.next_cursor,
            "after": after,
            "filters": {},
            "refusal": refusal,
            "max_split": MAX_SPLIT,
            "nav": desk_nav(viewer),
        },
        status_code=status_code,
    )


@router.get("/desk/bank/review")
def review_list(
    request: Request, session: SessionDep, viewer: SignedIn, after: Cursor = None
) -> Response:
    """The lines waiting for the treasurer in imported order, each with its best candidates:
    four statements here (the sign-in, the page, the candidates' reads: the invoices named,
    the members by name with their open invoices), whatever the page's size."""
    _require_treasurer(viewer)
    return _review_page(request, session, viewer, after=after)


def _decide(
    request: Request, session: Session, viewer: User, decide: Callable[[], object]
) -> Response:
    """Run ``decide`` in a savepoint; the review list again (with the refusal) or with a flash."""
    try:
        with session.begin_nested():
            decide()
    except DECISION_REFUSALS as refusal:
        return _review_page(
            request, session, viewer, refusal=refusal.detail, status_code=refusal.status_code
        )
    response = RedirectResponse("/desk/bank/review", status_code=303)
    flash(response, request, LINE_DECIDED)
    return response


@router.post("/desk/bank/lines/{line_id}/accept")
def accept_candidate(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    line_id: RecordId,
    invoice_id: Annotated[RecordId | None, Form()] = None,
) -> Response:
    """Pay the line's best candidate, or the candidate invoice chosen."""
    _require_treasurer(viewer)
    return _decide(
        request,
        session,
        viewer,
        lambda: review.accept_candidate(session, viewer, line_id, invoice_id=invoice_id),
    )


@router.post("/desk/bank/lines/{line_id}/allocate")
def allocate_line(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    line_id: RecordId,
    invoice_number: ListField = [],  # noqa: B006 (FastAPI copies a default, it is never shared)
    amount: ListField = [],  # noqa: B006
) -> Response:
    """Pay invoices by number by hand, an amount each (several: a split); they must add up to
    the line's amount."""
    _require_treasurer(viewer)
    rows = [
        (number.strip(), text.strip())
        for number, text in zip(invoice_number, amount, strict=False)
        if number.strip() or text.strip()
    ]
    allocations = _allocations(session, rows)
    if allocations is None or len(invoice_number) != len(amount):
        return _review_page(request, session, viewer, refusal=BAD_ALLOCATION, status_code=422)
    return _decide(
        request,
        session,
        viewer,
        lambda: review.allocate_line(session, viewer, line_id, allocations),
    )


@router.post("/desk/bank/lines/{line_id}/unrelated")
def mark_unrelated(
    request: Request, session: SessionDep, viewer: SignedIn, line_id: RecordId, note: NoteField = ""
) -> Response:
    """Not member money: the line is left alone from now on."""
    _require_treasurer(viewer)
    return _decide(
        request,
        session,
        viewer,
        lambda: review.mark_unrelated(session, viewer, line_id, note=note.strip()),
    )


def _allocations(session: Session, rows: list[tuple[str, str]]) -> list[AllocationIn] | None:
    """The rows as allocations, their invoices found by number in one statement; None when a
    row lacks its number, an amount that reads, or names no invoice."""
    if not rows:
        return None
    amounts: list[Decimal] = []
    for number, text in rows:
        if not number:
            return None
        try:
            amounts.append(parse_amount(text.replace(",", "."), field="amount"))
        except ValidationFailed:
            return None
    numbers = [number for number, _text in rows]
    ids = dict(
        session.execute(select(Invoice.number, Invoice.id).where(Invoice.number.in_(numbers))).all()
    )
    if any(number not in ids for number in numbers):
        return None
    return [
        AllocationIn(invoice_id=ids[number], allocated_amount=share)
        for number, share in zip(numbers, amounts, strict=True)
    ]
