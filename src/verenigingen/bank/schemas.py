"""Pydantic shapes out of the bank domain: an import's outcome, statements and their lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from verenigingen.bank.models import BankStatement
from verenigingen.bank.service import ImportResult, StatementImported
from verenigingen.clock import UtcDateTime


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
    bank_reference: str | None
    transaction_type: str | None
    mandate_reference: str | None
    creditor_id: str | None
    return_reason: str | None
