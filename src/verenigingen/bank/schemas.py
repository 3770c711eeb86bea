"""Pydantic shapes of the bank domain: an import's outcome, statements and their lines, the
review list and the treasurer's decisions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from verenigingen.bank.candidates import Candidate
from verenigingen.bank.models import BankStatement
from verenigingen.bank.review import LineForReview
from verenigingen.bank.service import ImportResult, StatementImported
from verenigingen.billing.schemas import AllocationIn
from verenigingen.clock import UtcDateTime
from verenigingen.db.ids import RecordId


class StatementImportedOut(BaseModel):
    statement_id: int
    account_iban: str
    statement_number: str
    closing_date: dt.date
    lines_added: int
    lines_skipped: int
    already_imported: bool

    @classmethod
    def of(cls, imported: StatementImported) -> StatementImportedOut:
        return cls(
            statement_id=imported.statement_id,
            account_iban=imported.account_iban,
            statement_number=imported.statement_number,
            closing_date=dt.date.fromisoformat(imported.closing_date),
            lines_added=imported.lines_added,
            lines_skipped=imported.lines_skipped,
            already_imported=imported.already_imported,
        )


class ImportResultOut(BaseModel):
    file_format: str
    statements: list[StatementImportedOut]
    lines_added: int
    lines_skipped: int
    gaps: list[str]

    @classmethod
    def of(cls, result: ImportResult) -> ImportResultOut:
        return cls(
            file_format=result.file_format,
            statements=[StatementImportedOut.of(s) for s in result.statements],
            lines_added=result.lines_added,
            lines_skipped=result.lines_skipped,
            gaps=list(result.gaps),
        )


class StatementOut(BaseModel):
    id: int
    account_iban: str
    statement_number: str
    sequence_number: int | None
    opening_date: dt.date
    closing_date: dt.date
    currency: str
    opening_balance: Decimal
    closing_balance: Decimal
    entry_count: int
    lines_stored: int
    """The entries stored with this statement; the rest were stored from an earlier one."""
    file_format: str
    imported_by: str
    imported_at: UtcDateTime

    @classmethod
    def of(cls, statement: BankStatement, account_iban: str, lines_stored: int) -> StatementOut:
        return cls(
            id=statement.id,
            account_iban=account_iban,
            statement_number=statement.statement_number,
            sequence_number=statement.sequence_number,
            opening_date=statement.opening_date,
            closing_date=statement.closing_date,
            currency=statement.currency,
            opening_balance=statement.opening_balance,
            closing_balance=statement.closing_balance,
            entry_count=statement.entry_count,
            lines_stored=lines_stored,
            file_format=statement.file_format,
            imported_by=statement.imported_by,
            imported_at=statement.imported_at,
        )


class StatementLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    statement_id: int
    position: int
    booking_date: dt.date
    value_date: dt.date | None
    amount: Decimal
    currency: str
    counterparty_name: str | None
    counterparty_iban: str | None
    counterparty_bic: str | None
    remittance: str | None
    end_to_end_id: str | None
    payment_information_id: str | None
    """The SEPA payment information id a batch booking names (the batch's)."""
    batch_message_id: str | None
    """The message id of the SEPA message a batch booking names (camt ``Btch/MsgId``)."""
    bank_reference: str | None
    transaction_type: str | None
    mandate_reference: str | None
    creditor_id: str | None
    return_reason: str | None
    reconciliation_status: str
    """Open, Review, Allocated, Returned or Unrelated."""
    match_score: Decimal | None
    match_invoice_id: int | None
    payment_id: int | None


class ReconcileOut(BaseModel):
    allocated: int
    """Lines paid: allocated to their invoice, or the direct-debit batch they book processed."""
    review: int
    """Lines put in review for the treasurer."""
    returned: int
    """Returned direct debits handed to SEPA's returns (the invoice owes again)."""


class CandidateOut(BaseModel):
    score: Decimal
    reason: str
    invoice_id: int | None
    invoice_number: str | None
    outstanding_amount: Decimal | None
    direct_debit_batch_id: int | None
    """Set when the candidate is a direct-debit batch (or block) the line books as a whole."""
    batch_reference: str | None

    @classmethod
    def of(cls, candidate: Candidate) -> CandidateOut:
        invoice, booked = candidate.invoice, candidate.batch
        return cls(
            score=candidate.score,
            reason=candidate.reason,
            invoice_id=invoice.id if invoice else None,
            invoice_number=invoice.number if invoice else None,
            outstanding_amount=invoice.outstanding_amount if invoice else None,
            direct_debit_batch_id=booked.batch.id if booked else None,
            batch_reference=booked.reference if booked else None,
        )


class ReviewLineOut(StatementLineOut):
    candidates: list[CandidateOut]
    """Best first, at most three, scored when the list is read."""
    note: str | None
    """Why a returned direct debit waits (its collection not booked yet, not ours, ...)."""
    note_code: str | None
    """The same as a code: ``collection_not_booked``, ``collection_booked``, ``no_reference``,
    ``not_ours``, ``other_amount``, ``cancelled_batch``."""

    @classmethod
    def of(cls, item: LineForReview) -> ReviewLineOut:
        line = StatementLineOut.model_validate(item.line)
        return cls(
            **line.model_dump(),
            candidates=[CandidateOut.of(c) for c in item.candidates],
            note=item.note.text if item.note else None,
            note_code=item.note.why if item.note else None,
        )


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcceptIn(_Input):
    invoice_id: RecordId | None = None
    """A candidate invoice of the line; the best candidate when left out."""


class AllocateIn(_Input):
    allocations: Annotated[list[AllocationIn], Field(min_length=1, max_length=100)]
    """One per invoice, of one customer; the amounts add up to the line's."""


class UnrelatedIn(_Input):
    note: Annotated[str, Field(max_length=500)] = ""
