"""A statement file as read, before anything is stored: its statements and their entries.

Both readers (``bank/camt.py``, ``bank/mt940_file.py``) give these shapes back, so the import
rules (``bank/service.py``) do not know which format a line came from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class StatementEntry:
    """One booked entry: ``amount`` positive for money in, negative for money out."""

    booking_date: dt.date
    value_date: dt.date | None
    amount: Decimal
    currency: str
    where: str
    """Where in the file the entry is (``line 14`` or ``Stmt[1]/Ntry[3]``), for error messages."""
    counterparty_name: str | None = None
    counterparty_iban: str | None = None
    counterparty_bic: str | None = None
    remittance: str | None = None
    end_to_end_id: str | None = None
    bank_reference: str | None = None
    transaction_type: str | None = None
    mandate_reference: str | None = None
    creditor_id: str | None = None
    return_reason: str | None = None
    payment_information_id: str | None = None
    """The SEPA payment information id (``PmtInfId``) the entry books: on a batch booking (one
    entry for many transactions) the batch's, named by camt ``Btch/PmtInfId`` or the
    ``TxDtls/Refs/PmtInfId`` its transactions share, MT940 ``/PREF/``."""
    batch_message_id: str | None = None
    """The message id (``MsgId``) of the SEPA message whose batch a batch booking books, camt
    ``NtryDtls/Btch/MsgId``: some banks name a batch by it alone."""


@dataclass(frozen=True)
class Statement:
    account: str
    """The account as the file names it: an IBAN, or an older domestic account number."""
    currency: str
    statement_number: str
    sequence_number: int | None
    opening_date: dt.date
    closing_date: dt.date
    opening_balance: Decimal
    closing_balance: Decimal
    entries: tuple[StatementEntry, ...]
    where: str
    """Where the statement starts in the file (``line 4``, ``Stmt[2]``)."""


@dataclass(frozen=True)
class StatementFile:
    file_format: str
    """``camt.053`` or ``mt940``."""
    file_hash: str
    statements: tuple[Statement, ...]
