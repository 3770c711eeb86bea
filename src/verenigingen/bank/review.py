"""The treasurer's review: lines the automatic run could not settle, and the decisions on them.

A line in Review (or still Open) is decided once, in one of four ways, each leaving an audit row
(``bank_line.*`` in ``audit_event``, with who decided, the amount and what was chosen):

- **accept** a candidate: the best one, or the one named; the line pays it as the automatic run
  would have (``bank/reconcile.py``);
- **allocate** by hand: one or more invoices of one customer with an amount each, adding up to
  the line's amount: one payment with an allocation per invoice (a split);
- mark it **unrelated**: not member money (a grant, a refund of costs); nothing is paid.

Every decision locks the line first, so two treasurers deciding the same line at once cannot
both pay it: the second gets 409 ``line_already_reconciled``. Every refusal comes before the
first write: a decided line (409), a debit or a line in another currency than the invoices
(422), amounts that do not add up to the line (422), an invoice that owes nothing (422), another
customer's invoice or more than an invoice owes (billing's own 422s).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.bank.candidates import Candidate, Candidates, is_open
from verenigingen.bank.errors import (
    AllocationsNotLineAmount,
    InvoiceNotACandidate,
    InvoiceNotOpen,
    LineAlreadyReconciled,
    LineCurrencyNotInvoiced,
    LineHasNoCandidate,
    LineNotMoneyIn,
)
from verenigingen.bank.models import SETTLED_STATUSES, BankStatementLine, ReconciliationStatus
from verenigingen.bank.reconcile import (
    INVOICED_CURRENCY,
    book_batch,
    candidate_data,
    line_event,
)
from verenigingen.bank.sepa_matching import (
    collection_payment,
    entries_by_end_to_end_id,
    mark_collected,
)
from verenigingen.billing.audit import record_money_events
from verenigingen.billing.models import Invoice
from verenigingen.billing.schemas import AllocationIn, PaymentCreate
from verenigingen.billing.service.bulk_payments import record_payments
from verenigingen.billing.service.payments import create_payment, submit_payment
from verenigingen.db.paging import Keyset, KeysetPage, PageRequest, keyset_page
from verenigingen.errors import NotFound
from verenigingen.money import ZERO
from verenigingen.sepa.models import DirectDebitEntry, EntryStatus

REVIEW_ORDER = Keyset("bank-review", (BankStatementLine.id,))
"""Imported order: ``ix_bank_statement_line_reconciliation`` (status, id) serves it."""
MAX_CANDIDATES = 3
"""Candidates shown with a line in review: the best, and two to compare it with."""


@dataclass(frozen=True)
class LineForReview:
    line: BankStatementLine
    candidates: list[Candidate]
    """Best first, at most :data:`MAX_CANDIDATES`, as they are now (not as the run saw them)."""
    note: ReturnNote | None = None
    """Why a returned direct debit waits here (a credit line's candidates say why it does)."""


def review_lines(
    session: Session, user: User, *, page: PageRequest = PageRequest()
) -> KeysetPage[LineForReview]:
    """The lines waiting for the treasurer in the order they were imported, each with its
    candidates scored now (the count only when asked). The same statements for a page of 5 or
    of 500: the page (an index range on status and id), and the candidates of its lines."""
    require(user, Permission.BANK_ACCOUNTS_READ)
    found = keyset_page(
        session,
        select(BankStatementLine).where(
            BankStatementLine.reconciliation_status == ReconciliationStatus.REVIEW
        ),
        REVIEW_ORDER,
        page,
    )
    lines: list[BankStatementLine] = found.items
    candidates = Candidates.load(session, [line for line in lines if line.amount > 0])
    returns = [line for line in lines if line.amount < 0 and line.return_reason]
    return_ids = {line.id for line in returns}
    entries = entries_by_end_to_end_id(
        session, {line.end_to_end_id for line in returns if line.end_to_end_id}
    )
    items = [
        LineForReview(
            line,
            candidates.ranked(line)[:MAX_CANDIDATES] if line.amount > 0 else [],
            return_note(line, entries.get(line.end_to_end_id or ""))
            if line.id in return_ids
            else None,
        )
        for line in lines
    ]
    return KeysetPage(items, found.next_cursor, found.total, found.limit, found.offset)


class ReturnWait(enum.StrEnum):
    """Why a returned direct debit waits in review."""

    COLLECTION_NOT_BOOKED = "collection_not_booked"
    """Its collection is still pending: the first run after it is booked records the return."""
    COLLECTION_BOOKED = "collection_booked"
    """Its collection was booked since: the next run records the return."""
    NO_REFERENCE = "no_reference"
    NOT_OURS = "not_ours"
    OTHER_AMOUNT = "other_amount"
    CANCELLED_BATCH = "cancelled_batch"


@dataclass(frozen=True)
class ReturnNote:
    why: ReturnWait
    text: str
    """The same in a sentence (the API, the command line; the desk says it in its language)."""


def return_note(line: BankStatementLine, entry: DirectDebitEntry | None) -> ReturnNote:
    """Why the return ``line`` waits in review: the entry its end-to-end id names, as it is now."""
    what = f"a returned direct debit ({line.return_reason})"
    if line.end_to_end_id is None:
        return ReturnNote(
            ReturnWait.NO_REFERENCE,
            f"{what} without an end-to-end id: no collection of ours can be found by it",
        )
    named = f"{what} of {line.end_to_end_id}"
    if entry is None:
        return ReturnNote(
            ReturnWait.NOT_OURS, f"{named}: no collection of ours has this end-to-end id"
        )
    if entry.amount != -line.amount:
        return ReturnNote(
            ReturnWait.OTHER_AMOUNT,
            f"{named}: the line returns {-line.amount}, the collection was {entry.amount}",
        )
    if entry.status == EntryStatus.CANCELLED:
        return ReturnNote(
            ReturnWait.CANCELLED_BATCH,
            f"{named}: its batch was cancelled, the collection never sent to the bank",
        )
    if entry.status == EntryStatus.PENDING:
        return ReturnNote(
            ReturnWait.COLLECTION_NOT_BOOKED,
            f"{named}: its collection is not booked yet; the first reconciliation after a "
            "statement line (or the batch's processing) books it records the return",
        )
    return ReturnNote(
        ReturnWait.COLLECTION_BOOKED,
        f"{named}: its collection is booked; the next reconciliation records the return",
    )


def accept_candidate(
    session: Session, user: User, line_id: int, *, invoice_id: int | None = None
) -> BankStatementLine:
    """Pay the line's best candidate, or the candidate invoice ``invoice_id``, as the automatic
    run would. 404 unknown line; 409 ``line_already_reconciled``, ``line_has_no_candidate``;
    422 ``line_not_money_in``, ``line_currency_not_invoiced``, ``invoice_not_a_candidate``,
    ``allocations_not_line_amount`` (a batch that collects another amount than the line)."""
    require(user, Permission.BILLING_WRITE)
    line = _payable_line(session, line_id)
    ranked = Candidates.load(session, [line]).ranked(line)
    if invoice_id is None:
        if not ranked:
            raise LineHasNoCandidate(f"line {line.id} has no candidate: allocate it by hand")
        chosen = ranked[0]
    else:
        named = [c for c in ranked if c.invoice_id == invoice_id]
        if not named:
            raise InvoiceNotACandidate(
                f"invoice {invoice_id} is not a candidate of line {line.id}: allocate it by hand"
            )
        chosen = named[0]
    if chosen.batch is not None:
        if chosen.batch.pending_total != line.amount:
            raise AllocationsNotLineAmount(
                f"batch {chosen.batch.reference} collects {chosen.batch.pending_total}, the line "
                f"books {line.amount}: process the batch under SEPA and allocate the line by hand"
            )
        book_batch(session, user, line, chosen)
    elif chosen.collection is not None:
        payment = collection_payment(chosen.collection, line.amount, line.booking_date)
        (line.payment_id,) = record_payments(session, user, [payment])
        mark_collected(session, user, [(chosen.collection, line.payment_id)])
    else:
        invoice = chosen.invoice
        assert invoice is not None  # neither a batch nor a collection
        allocated = min(line.amount, invoice.outstanding_amount)
        _pay(session, user, line, invoice.customer_id, [(invoice.id, allocated)])
    line.match_score, line.match_invoice_id = chosen.score, chosen.invoice_id
    return _decided(
        session, user, line, "bank_line.accepted", candidate_data(chosen, automatic=False)
    )


def allocate_line(
    session: Session, user: User, line_id: int, allocations: Sequence[AllocationIn]
) -> BankStatementLine:
    """Pay invoices of one customer by hand: one payment of the line's amount with an
    allocation per invoice (several: a split). The amounts must add up to the line's.
    404 unknown line or invoice; 409 ``line_already_reconciled``; 422 ``line_not_money_in``,
    ``line_currency_not_invoiced``, ``allocations_not_line_amount``, ``invoice_not_open``, and
    billing's ``allocation_to_another_customer``, ``allocation_exceeds_outstanding``,
    ``invoice_allocated_twice``."""
    require(user, Permission.BILLING_WRITE)
    line = _payable_line(session, line_id)
    total = sum((allocation.allocated_amount for allocation in allocations), ZERO)
    if not allocations or total != line.amount:
        raise AllocationsNotLineAmount(
            f"the allocations add up to {total}; line {line.id} is {line.amount}"
        )
    ids = [allocation.invoice_id for allocation in allocations]
    invoices = {i.id: i for i in session.scalars(select(Invoice).where(Invoice.id.in_(ids)))}
    for invoice_id in ids:
        invoice = invoices.get(invoice_id)
        if invoice is None:
            raise NotFound(f"invoice {invoice_id} does not exist")
        if not is_open(invoice):
            raise InvoiceNotOpen(f"invoice {invoice.number} is {invoice.status}: it owes nothing")
    first = invoices[ids[0]]
    _pay(
        session,
        user,
        line,
        first.customer_id,
        [(allocation.invoice_id, allocation.allocated_amount) for allocation in allocations],
    )
    line.match_score, line.match_invoice_id = None, first.id
    data = {
        "automatic": False,
        "allocations": [
            {"invoice_id": a.invoice_id, "amount": str(a.allocated_amount)} for a in allocations
        ],
    }
    return _decided(session, user, line, "bank_line.allocated_by_hand", data)


def mark_unrelated(
    session: Session, user: User, line_id: int, *, note: str = ""
) -> BankStatementLine:
    """Not member money: the line is left alone from now on (money in or out). 404 unknown
    line; 409 ``line_already_reconciled``."""
    require(user, Permission.BILLING_WRITE)
    line = _undecided_line(session, line_id)
    line.match_score = line.match_invoice_id = None
    return _decided(
        session,
        user,
        line,
        "bank_line.unrelated",
        {"note": note.strip()},
        ReconciliationStatus.UNRELATED,
    )


def _undecided_line(session: Session, line_id: int) -> BankStatementLine:
    """The line under a row lock, as committed; 404, or 409 when it was decided already."""
    line = session.scalar(
        select(BankStatementLine)
        .where(BankStatementLine.id == line_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if line is None:
        raise NotFound(f"no bank statement line {line_id}")
    if line.reconciliation_status in SETTLED_STATUSES:
        paid = f" by payment {line.payment_id}" if line.payment_id else ""
        raise LineAlreadyReconciled(f"line {line.id} is {line.reconciliation_status}{paid}")
    return line


def _payable_line(session: Session, line_id: int) -> BankStatementLine:
    line = _undecided_line(session, line_id)
    if line.amount <= ZERO:
        raise LineNotMoneyIn(f"line {line.id} is money out ({line.amount}): it pays no invoice")
    if line.currency != INVOICED_CURRENCY:
        raise LineCurrencyNotInvoiced(
            f"line {line.id} is in {line.currency}; invoices are in {INVOICED_CURRENCY}"
        )
    return line


def _pay(
    session: Session,
    user: User,
    line: BankStatementLine,
    customer_id: int,
    allocations: list[tuple[int, Decimal]],
) -> None:
    payment = create_payment(
        session,
        user,
        PaymentCreate(
            customer_id=customer_id,
            paid_amount=line.amount,
            posting_date=line.booking_date,
            reference_no=(
                line.end_to_end_id
                or line.payment_information_id
                or line.batch_message_id
                or line.bank_reference
            ),
            reference_date=line.booking_date,
            allocations=[
                AllocationIn(invoice_id=invoice_id, allocated_amount=amount)
                for invoice_id, amount in allocations
            ],
        ),
    )
    submit_payment(session, user, payment.id)
    line.payment_id = payment.id


def _decided(
    session: Session,
    user: User,
    line: BankStatementLine,
    event: str,
    data: dict[str, object],
    status: ReconciliationStatus = ReconciliationStatus.ALLOCATED,
) -> BankStatementLine:
    line.reconciliation_status = status
    record_money_events(session, user, [line_event(line, event, dict(data))])
    session.flush()
    return line
