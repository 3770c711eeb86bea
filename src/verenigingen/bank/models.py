"""What exists: the association's bank accounts, their imported statements and statement lines."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base, BigIntKey, IdMixin, TimestampMixin


class ReconciliationStatus(enum.StrEnum):
    """Where a statement line is in reconciliation (``bank/reconcile.py``)."""

    OPEN = "Open"
    """Not looked at yet (every debit line stays Open: only money in is matched)."""
    REVIEW = "Review"
    """Looked at: no candidate scored high enough; it waits for the treasurer."""
    ALLOCATED = "Allocated"
    """Paid: a payment was created for the line and allocated (by the automatic run or a
    treasurer's decision), or the direct-debit batch it books was processed."""
    RETURNED = "Returned"
    """A direct debit of the association that came back: handed to SEPA's returns, which
    cancelled the collection's payment (the invoice owes again) and acted on the mandate."""
    UNRELATED = "Unrelated"
    """A treasurer marked it as not member-related (a grant, a refund of costs): left alone."""


SETTLED_STATUSES = (
    ReconciliationStatus.ALLOCATED,
    ReconciliationStatus.RETURNED,
    ReconciliationStatus.UNRELATED,
)
"""A line in one of these was decided: no run and no treasurer may decide it again."""


class BankAccount(IdMixin, TimestampMixin, Base):
    """An account of the association itself: only statements of these accounts are imported."""

    __tablename__ = "bank_account"

    iban: Mapped[str] = mapped_column(String(34), unique=True)
    """Electronic format: upper case, no spaces."""
    name: Mapped[str] = mapped_column(String(140), default="")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")


class BankStatement(IdMixin, Base):
    """One statement of an account as the bank sent it: its number, period and balances.

    A statement is known by its account, number and closing date: importing it again finds the
    row and adds nothing. Its lines are the entries not already stored from an earlier,
    overlapping statement, so ``entry_count`` (the file's) may exceed the lines linked here.
    """

    __tablename__ = "bank_statement"
    __table_args__ = (
        UniqueConstraint("bank_account_id", "statement_number", "closing_date"),
        Index("ix_bank_statement_closing_date_id", "closing_date", "id"),  # the list's order
    )

    bank_account_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("bank_account.id"))
    statement_number: Mapped[str] = mapped_column(String(35))
    """As the bank wrote it (MT940 ``:28C:`` ``00012/001``; camt.053 sequence number or id)."""
    sequence_number: Mapped[int | None]
    """The statement's running number, when it has one: what gaps are reported from."""
    opening_date: Mapped[dt.date]
    closing_date: Mapped[dt.date]
    currency: Mapped[str] = mapped_column(String(3))
    opening_balance: Mapped[Decimal]
    """Signed: negative when the account was overdrawn."""
    closing_balance: Mapped[Decimal]
    entry_count: Mapped[int]
    """The entries the statement holds, stored now or before."""
    file_format: Mapped[str] = mapped_column(String(20))
    """``camt.053`` or ``mt940``."""
    file_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the file the statement came from, to trace a line back to its upload."""
    imported_by: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[dt.datetime]


class BankStatementLine(IdMixin, Base):
    """One booked entry of a statement: money in (positive amount) or out (negative).

    ``dedup_key`` makes each entry stored once per account however often it is imported;
    ``bank/dedupe.py`` says what it is made of and why.
    """

    __tablename__ = "bank_statement_line"
    __table_args__ = (
        UniqueConstraint("bank_account_id", "dedup_key"),
        Index("ix_bank_statement_line_statement", "statement_id", "position"),
        Index("ix_bank_statement_line_reconciliation", "reconciliation_status", "id"),
    )

    bank_account_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("bank_account.id"))
    statement_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("bank_statement.id"))
    position: Mapped[int]
    """The entry's place in its statement, from 1."""
    booking_date: Mapped[dt.date]
    value_date: Mapped[dt.date | None]
    amount: Mapped[Decimal]
    """Signed: positive a credit (money in), negative a debit."""
    currency: Mapped[str] = mapped_column(String(3))
    counterparty_name: Mapped[str | None] = mapped_column(String(140))
    counterparty_iban: Mapped[str | None] = mapped_column(String(34))
    counterparty_bic: Mapped[str | None] = mapped_column(String(11))
    remittance: Mapped[str | None] = mapped_column(String(500))
    """The payer's message: ``/REMI/`` or ``Ustrd``, or the whole description of an
    unstructured MT940 ``:86:``."""
    end_to_end_id: Mapped[str | None] = mapped_column(String(35))
    """The payer's end-to-end id (camt ``EndToEndId``, MT940 ``/EREF/``): of one transaction
    only, so a batch booking has none. For the association's own direct debits it is a
    collection's (``bank/sepa_matching.py``)."""
    payment_information_id: Mapped[str | None] = mapped_column(String(35))
    """The SEPA payment information id the line books (camt ``Btch/PmtInfId`` or the
    ``TxDtls/Refs/PmtInfId`` its transactions share, MT940 ``/PREF/``): on a batch booking, the
    batch's. For the association's own direct debits it names a batch (its message id) or one
    of its blocks (``bank/sepa_matching.py``). Not indexed: reconciliation reads it from the
    lines it scores and looks the batch up by it, never a line."""
    batch_message_id: Mapped[str | None] = mapped_column(String(35))
    """The message id of the SEPA message a batch booking books (camt ``Btch/MsgId``): for the
    association's own direct debits, a batch's ``message_id``. A bank that names a batch by
    this alone, without its payment information id, is matched by it (``bank/candidates.py``).
    Not indexed, as ``payment_information_id``."""
    bank_reference: Mapped[str | None] = mapped_column(String(35))
    """The bank's own reference of the entry (camt ``AcctSvcrRef``, MT940 ``//`` reference)."""
    transaction_type: Mapped[str | None] = mapped_column(String(35))
    """``/TRTP/`` (``SEPA OVERBOEKING``, ``SEPA Incasso algemeen doorlopend``) or the camt
    bank transaction code (``PMNT/RCDT/ESCT``)."""
    mandate_reference: Mapped[str | None] = mapped_column(String(35))
    """``/MARF/`` or ``MndtId``: set on direct debits."""
    creditor_id: Mapped[str | None] = mapped_column(String(35))
    """``/CSID/`` or the creditor scheme id of a direct debit."""
    return_reason: Mapped[str | None] = mapped_column(String(35))
    """``/RTRN/`` or ``RtrInf/Rsn``: the reason code of a returned direct debit."""
    dedup_key: Mapped[str] = mapped_column(String(64))
    reconciliation_status: Mapped[str] = mapped_column(
        String(20), default=ReconciliationStatus.OPEN
    )
    match_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    """The best candidate's confidence, 0.00 to 1.00, once the line was looked at."""
    match_invoice_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("invoice.id"))
    """The best candidate invoice, when there was one."""
    payment_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("payment.id"))
    """The payment created for the line when it was allocated."""
