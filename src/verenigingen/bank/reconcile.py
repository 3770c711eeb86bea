"""The automatic run: money in matched to what it pays, payments for the sure matches.

Each Open credit line (money in) gets its candidates (``bank/candidates.py``: a direct-debit
batch or collection 1.00, invoice number and amount 0.95, member IBAN and amount 0.90, name and
amount 0.60, a reference with another amount 0.50). At or above the threshold (the runtime
setting ``bank_auto_allocate_score``, 0.85) the line pays its best candidate and is Allocated:

- an invoice: a payment of the line's amount for the invoice's customer, allocated to it
  (up to what it owes) and submitted through billing;
- a collection of a submitted batch: its SEPA Direct Debit payment, the entry Collected;
- a whole batch (or one block of it): the batch's collections paid as the SEPA domain processes
  a batch, one payment per entry (``bank/sepa_matching.py``).

A debit line with a return reason is a direct debit that came back: it goes to SEPA's returns
(:func:`hand_over_returns`). Below the threshold, or without candidates, a credit line waits in
Review with its best candidate for the treasurer (``bank/review.py``). What a run pays, an
earlier line of the run took first: a second line for the same invoice or batch waits in Review.

A run takes its lines in booking order (booking date, then the statement's order of entries),
the money in before the returns: a return is booked after the collection it reverses, so a
statement of a month that holds both (the collection on the 5th, its return on the 9th) has the
collection booked first (the entry Collected, its invoice paid) and then reversed by SEPA's
returns (the invoice owes again, the reason recorded, the mandate acted on). A return whose
collection no line has booked yet (its statement not imported yet) is not recorded: SEPA would
take it for a reject of a collection never made. It waits in Review, where the treasurer reads
why, and the first run after its collection was booked records it.

The run locks the Open lines it takes and skips those locked by a treasurer's decision or by
another run (``SKIP LOCKED``): a line is paid once. A treasurer deciding a line the run holds
waits for it, then finds the line decided (409). On SQLite one writer at a time does the same.

A run costs a constant number of statements per chunk of lines: the candidates loaded up front
(``Candidates.load``), the payments of every matched line recorded in bulk by billing
(``record_payments``), one audit row per decided line inserted in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.bank.candidates import Candidate, Candidates, Claim, is_open
from verenigingen.bank.models import BankStatementLine, ReconciliationStatus
from verenigingen.bank.sepa_matching import (
    block_collections,
    book_whole_batch,
    collection_payment,
    mark_collected,
    pending_collections,
    return_can_be_recorded_now,
)
from verenigingen.billing.audit import record_money_events
from verenigingen.billing.service.bulk_payments import ReceivedPayment, record_payments
from verenigingen.sepa.returns import RecordedReturn, StatementReturn, record_returns
from verenigingen.settings import runtime_of

INVOICED_CURRENCY = "EUR"
"""Invoices are in euros: a line in another currency pays none of them."""
LINE_ENTITY = "bank_statement_line"
"""The audit trail's name for a statement line (``billing/audit.py``)."""


@dataclass(frozen=True)
class ReconcileResult:
    allocated: int
    review: int
    returned: int = 0
    """Returned direct debits handed to SEPA's returns."""


def reconcile_open_lines(
    session: Session, user: User, *, threshold: Decimal | None = None
) -> ReconcileResult:
    """Score every Open credit line; pay those at or above ``threshold`` (by default the
    runtime setting ``bank_auto_allocate_score``), put the rest in Review. 403 for a role that
    may not write billing."""
    require(user, Permission.BILLING_WRITE)
    if threshold is None:
        threshold = runtime_of(session).bank_auto_allocate_score
    allocated, review = _pay_money_in(session, user, threshold)
    returned, returns_to_review = hand_over_returns(session, user)
    return ReconcileResult(allocated, review + returns_to_review, returned)


def _pay_money_in(session: Session, user: User, threshold: Decimal) -> tuple[int, int]:
    """The Open credit lines in booking order (the line's id is its place in its statement):
    the sure matches paid, the rest put in Review. How many of each."""
    lines = session.scalars(
        select(BankStatementLine)
        .where(
            BankStatementLine.reconciliation_status == ReconciliationStatus.OPEN,
            BankStatementLine.amount > 0,
        )
        .order_by(BankStatementLine.booking_date, BankStatementLine.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    if not lines:
        return 0, 0
    candidates = Candidates.load(session, lines)
    run = _Run()
    for line in lines:
        best = candidates.best_for(line, run.taken) if line.currency == INVOICED_CURRENCY else None
        _keep(line, match_score=best.score if best else None)
        _keep(line, match_invoice_id=best.invoice_id if best else None)
        if best is not None and best.score >= threshold and _books_in_full(best, line):
            run.pay(line, best)
        else:
            _keep(line, reconciliation_status=ReconciliationStatus.REVIEW)
            run.review += 1
    run.carry_out(session, user)
    _write_decisions(session, lines)
    session.flush()
    return len(run.decided), run.review


def _books_in_full(candidate: Candidate, line: BankStatementLine) -> bool:
    """A direct debit is booked as collected only by a line of exactly what it collects (a
    batch is processed whole or not at all), however low the threshold is set."""
    if candidate.batch is not None:
        return candidate.batch.pending_total == line.amount
    if candidate.collection is not None:
        return candidate.collection.entry.amount == line.amount
    return True


def _keep(line: BankStatementLine, **values: object) -> None:
    """Set a decision on the line in memory only: :func:`_write_decisions` writes the run's
    lines in one statement (a flush would send one UPDATE per line, or per run of lines that
    changed the same columns)."""
    for name, value in values.items():
        set_committed_value(line, name, value)


def _write_decisions(session: Session, lines: Sequence[BankStatementLine]) -> None:
    session.execute(
        update(BankStatementLine),
        [
            {
                "id": line.id,
                "reconciliation_status": line.reconciliation_status,
                "match_score": line.match_score,
                "match_invoice_id": line.match_invoice_id,
                "payment_id": line.payment_id,
            }
            for line in lines
        ],
    )


def hand_over_returns(session: Session, user: User) -> tuple[int, int]:
    """Debit lines that carry a return reason go to SEPA's returns (``record_returns``): the
    collection's payment is cancelled, the invoice owes again, the mandate is acted on, and the
    line is Returned. Run after the money in, so that a collection booked by the same run is
    reversed rather than taken for a reject.

    The Open ones, and those in Review that waited for their collection and may go now (its
    entry, of the line's amount, no longer pending). A return whose collection is still pending
    waits in Review (``bank/review.py`` says why); so does a return of no collection of ours,
    without an end-to-end id, or that SEPA refuses (another amount, a cancelled batch). All the
    lines in one call, a constant number of statements per chunk of them. The lines Returned and
    those newly put in Review."""
    lines = session.scalars(
        select(BankStatementLine)
        .where(
            BankStatementLine.amount < 0,
            BankStatementLine.return_reason.is_not(None),
            or_(
                BankStatementLine.reconciliation_status == ReconciliationStatus.OPEN,
                and_(
                    BankStatementLine.reconciliation_status == ReconciliationStatus.REVIEW,
                    return_can_be_recorded_now(),
                ),
            ),
        )
        .order_by(BankStatementLine.booking_date, BankStatementLine.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    if not lines:
        return 0, 0
    waiting = pending_collections(
        session, {line.end_to_end_id for line in lines if line.end_to_end_id}
    )
    handed_over = [
        (
            line,
            StatementReturn(line.end_to_end_id, line.return_reason, line.amount, line.booking_date),
        )
        for line in lines
        if line.end_to_end_id is not None
        and line.return_reason is not None
        and line.end_to_end_id not in waiting  # its collection is not booked yet: later
    ]
    outcomes = record_returns(session, user, [statement for _, statement in handed_over])
    recorded_by_line = {
        line.id: outcome for (line, _), outcome in zip(handed_over, outcomes, strict=True)
    }
    events = []
    to_review = 0
    for line in lines:
        outcome = recorded_by_line.get(line.id)
        # None: no collection of ours; a refusal: SEPA wrote nothing. The treasurer looks at it.
        recorded = outcome if isinstance(outcome, RecordedReturn) else None
        if recorded is None:
            to_review += line.reconciliation_status == ReconciliationStatus.OPEN
            line.reconciliation_status = ReconciliationStatus.REVIEW
            continue
        line.reconciliation_status = ReconciliationStatus.RETURNED
        line.match_invoice_id = recorded.invoice_id
        data = {
            "automatic": True,
            "direct_debit_entry_id": recorded.entry_id,
            "reason_code": recorded.reason_code,
            "already_recorded": recorded.already_recorded,
        }
        events.append(line_event(line, "bank_line.return_recorded", data))
    record_money_events(session, user, events)
    return len(events), to_review


@dataclass
class _Run:
    """The decisions of one run, carried out together once every line is scored."""

    taken: set[Claim] = field(default_factory=set)
    decided: list[tuple[BankStatementLine, Candidate]] = field(default_factory=list)
    review: int = 0

    def pay(self, line: BankStatementLine, candidate: Candidate) -> None:
        self.taken |= candidate.claims()
        self.decided.append((line, candidate))
        _keep(line, reconciliation_status=ReconciliationStatus.ALLOCATED)

    def carry_out(self, session: Session, user: User) -> None:
        paying = [(line, c) for line, c in self.decided if c.batch is None]
        payment_ids = record_payments(session, user, [_payment(line, c) for line, c in paying])
        for (line, _candidate), payment_id in zip(paying, payment_ids, strict=True):
            _keep(line, payment_id=payment_id)
        mark_collected(
            session,
            user,
            [
                (candidate.collection, payment_id)
                for (_line, candidate), payment_id in zip(paying, payment_ids, strict=True)
                if candidate.collection is not None
            ],
        )
        for line, candidate in self.decided:
            if candidate.batch is not None:
                book_batch(session, user, line, candidate)
        record_money_events(
            session,
            user,
            [
                line_event(line, "bank_line.allocated", candidate_data(candidate, automatic=True))
                for line, candidate in self.decided
            ],
        )


def book_batch(session: Session, user: User, line: BankStatementLine, candidate: Candidate) -> None:
    """The line books a whole batch (processed by the SEPA domain) or one block of it."""
    booked = candidate.batch
    assert booked is not None  # a batch candidate
    if booked.sequence_type is None:
        book_whole_batch(session, user, booked)
        return
    collections = block_collections(session, booked)
    payments = [
        collection_payment(collection, collection.entry.amount, line.booking_date)
        for collection in collections
    ]
    payment_ids = record_payments(session, user, payments)
    mark_collected(session, user, list(zip(collections, payment_ids, strict=True)))


def _payment(line: BankStatementLine, candidate: Candidate) -> ReceivedPayment:
    if candidate.collection is not None:
        return collection_payment(candidate.collection, line.amount, line.booking_date)
    invoice = candidate.invoice
    assert invoice is not None  # not a batch candidate
    allocated = min(line.amount, invoice.outstanding_amount) if is_open(invoice) else None
    return ReceivedPayment(
        customer_id=invoice.customer_id,
        posting_date=line.booking_date,
        paid_amount=line.amount,
        reference_no=(
            line.end_to_end_id
            or line.payment_information_id
            or line.batch_message_id
            or line.bank_reference
        ),
        allocations=((invoice.id, allocated),) if allocated else (),
    )


def line_event(line: BankStatementLine, event: str, data: dict[str, Any]) -> dict[str, Any]:
    """An audit row (``record_money_events``) of a decision on ``line``."""
    return {
        "event": event,
        "entity": LINE_ENTITY,
        "entity_id": line.id,
        "amount": line.amount,
        "data": {"payment_id": line.payment_id, **data},
    }


def candidate_data(candidate: Candidate, *, automatic: bool) -> dict[str, Any]:
    """What the audit keeps of the candidate a line was paid to."""
    data: dict[str, Any] = {
        "automatic": automatic,
        "score": str(candidate.score),
        "reason": candidate.reason,
        "invoice_id": candidate.invoice_id,
    }
    if candidate.batch is not None:
        data["direct_debit_batch_id"] = candidate.batch.batch.id
        data["batch_reference"] = candidate.batch.reference
    if candidate.collection is not None:
        data["direct_debit_entry_id"] = candidate.collection.entry.id
    return data
