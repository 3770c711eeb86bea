from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base, BigIntKey, IdMixin, TimestampMixin


class MandateStatus(enum.StrEnum):
    DRAFT = "Draft"
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    CANCELLED = "Cancelled"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    """The bank said the mandate does not exist or is no longer valid (MD01, MD02)."""


class SepaMandate(IdMixin, TimestampMixin, Base):
    __tablename__ = "sepa_mandate"

    mandate_reference: Mapped[str] = mapped_column(String(35), unique=True)
    """Unique, at most 35 characters of the SEPA character set."""
    member_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("member.id"), index=True)
    account_holder: Mapped[str] = mapped_column(String(140))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    sign_date: Mapped[dt.date]
    first_collection_date: Mapped[dt.date | None]
    expiry_date: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(String(20), default=MandateStatus.DRAFT)
    amended_from_iban: Mapped[str | None] = mapped_column(String(34))
    """The IBAN before a change on an active mandate, sent as the amendment (SMNDA) on the next
    collection only, then cleared."""
    status_reason: Mapped[str | None] = mapped_column(String(140))
    """Why the mandate was suspended or cancelled."""
    last_collection_date: Mapped[dt.date | None]
    """The collection date of the last batch that presented this mandate (expiry counts from it)."""


class SequenceType(enum.StrEnum):
    """The SEPA sequence type of one collection on a mandate."""

    FIRST = "FRST"
    RECURRING = "RCUR"
    ONE_OFF = "OOFF"
    FINAL = "FNAL"


class UsageStatus(enum.StrEnum):
    PENDING = "Pending"
    COLLECTED = "Collected"
    FAILED = "Failed"
    RETURNED = "Returned"


class SepaMandateUsage(IdMixin, Base):
    """One collection on a mandate: when, for which payment and invoice, FRST or RCUR, how much.

    Written by the job ``sepa.record_mandate_usage`` after a direct-debit payment is submitted.
    The sequence type follows from the mandate's earlier usages: the first collection that
    was not failed or returned is FRST, every later one RCUR (the original system never marked
    a usage Collected, so every collection stayed FRST).
    """

    __tablename__ = "sepa_mandate_usage"
    __table_args__ = (
        # A payment is collected once on a mandate: a retried job finds the row and stops.
        UniqueConstraint("mandate_id", "payment_id"),
    )

    mandate_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("sepa_mandate.id"))
    usage_date: Mapped[dt.date]
    payment_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("payment.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("invoice.id"))
    """The (first) invoice the collection settles, when it settles one."""
    batch_reference: Mapped[str | None] = mapped_column(String(35))
    """The direct-debit batch's message id, once batches exist."""
    sequence_type: Mapped[str] = mapped_column(String(4))
    amount: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(20), default=UsageStatus.PENDING)
    return_reason: Mapped[str | None] = mapped_column(String(4))
    """The ISO reason code of a reject or return (``AC04``, ``MD06``, ...)."""


class PainVersion(enum.StrEnum):
    """The pain.008 message version a creditor's bank accepts."""

    V02 = "pain.008.001.02"
    V08 = "pain.008.001.08"


DEFAULT_REFERENCE_PATTERN = "M-{member_id}-{yyyymmdd}-{nnn}"


class SepaCreditor(IdMixin, TimestampMixin, Base):
    """The association as creditor: the one row that every collection is made in the name of."""

    __tablename__ = "sepa_creditor"

    name: Mapped[str] = mapped_column(String(70))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    creditor_identifier: Mapped[str] = mapped_column(String(35))
    """The SEPA creditor identifier (``NL51ZZZ405365330000``), check digits verified."""
    pain_version: Mapped[str] = mapped_column(String(20), default=PainVersion.V08)
    lead_days: Mapped[int] = mapped_column(default=1)
    """TARGET2 business days between the upload and the collection date."""
    cutoff_time: Mapped[dt.time | None]
    """The bank's upload cut-off: after it, today no longer counts as an upload day."""
    first_collection_frst: Mapped[bool] = mapped_column(default=False)
    """Send a mandate's first collection as FRST (before the 2016 rulebook); RCUR when off."""
    reference_pattern: Mapped[str] = mapped_column(String(100))
    """The pattern of new mandate references: ``M-{member_id}-{yyyymmdd}-{nnn}``."""


class BatchStatus(enum.StrEnum):
    DRAFT = "Draft"
    GENERATED = "Generated"
    SUBMITTED = "Submitted"
    PROCESSED = "Processed"
    PARTIALLY_PROCESSED = "Partially Processed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


LIVE_BATCH_STATUSES = (BatchStatus.DRAFT, BatchStatus.GENERATED, BatchStatus.SUBMITTED)
"""A batch in one of these may still collect its invoices: no other batch may take them."""


class EntryStatus(enum.StrEnum):
    PENDING = "Pending"
    COLLECTED = "Collected"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"
    """Refused before settlement (a pain.002 reject): never collected."""
    RETURNED = "Returned"
    """Collected, then returned by the debtor's bank (camt.054, a bank statement)."""


class DirectDebitBatch(IdMixin, TimestampMixin, Base):
    """One collection run: the entries of one collection date, exported as one pain.008."""

    __tablename__ = "sepa_batch"

    message_id: Mapped[str] = mapped_column(String(35), unique=True)
    batch_date: Mapped[dt.date]
    collection_date: Mapped[dt.date]
    description: Mapped[str] = mapped_column(String(140))
    status: Mapped[str] = mapped_column(String(30), default=BatchStatus.DRAFT)
    pain_version: Mapped[str] = mapped_column(String(20))
    entry_count: Mapped[int]
    total_amount: Mapped[Decimal]
    created_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("user_account.id"))
    checked_at: Mapped[dt.datetime | None]
    """When the file's checks (the XSD and the EPC rules) last ran (``sepa.checks``): the desk
    shows their outcome from here instead of building and validating the file on each view."""
    check_error_count: Mapped[int | None]
    """How many errors those checks found (0: the file passes)."""
    check_errors: Mapped[list[str] | None] = mapped_column(JSON)
    """The first of them (at most ``sepa.checks.KEPT_ERRORS``), as the export would list them."""
    checked_creditor: Mapped[str | None] = mapped_column(String(64))
    """A digest of the creditor settings the checks ran with: other settings now make the
    stored outcome stale (the file names the creditor)."""


class DirectDebitEntry(IdMixin, Base):
    """One collection of a batch: one invoice on one mandate, as it was when the batch was made."""

    __tablename__ = "sepa_batch_entry"

    batch_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("sepa_batch.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("invoice.id"), index=True)
    member_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("member.id"))
    mandate_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("sepa_mandate.id"), index=True)
    amount: Mapped[Decimal]
    account_holder: Mapped[str] = mapped_column(String(140))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    mandate_reference: Mapped[str] = mapped_column(String(35))
    mandate_sign_date: Mapped[dt.date]
    original_iban: Mapped[str | None] = mapped_column(String(34))
    """Set when the mandate's IBAN changed since its last collection: the amendment to send."""
    sequence_type: Mapped[str] = mapped_column(String(4))
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    remittance: Mapped[str] = mapped_column(String(140))
    status: Mapped[str] = mapped_column(String(20), default=EntryStatus.PENDING)
    return_reason: Mapped[str | None] = mapped_column(String(4))
    returned_on: Mapped[dt.date | None]
    """When the reject or return was booked."""
    payment_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("payment.id"))


class StatusReport(IdMixin, Base):
    """An imported pain.002 status report or camt.054 notification: imported once (its hash)."""

    __tablename__ = "sepa_status_report"

    file_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the file's bytes: the same file imported again changes nothing."""
    file_format: Mapped[str] = mapped_column(String(20))
    """``pain.002`` or ``camt.054``."""
    message_id: Mapped[str | None] = mapped_column(String(35))
    original_message_id: Mapped[str | None] = mapped_column(String(35))
    """The batch message id the report answers, when the report names one."""
    line_count: Mapped[int]
    """Transactions reported as rejected or returned."""
    imported_by: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[dt.datetime]


class ReturnKind(enum.StrEnum):
    REJECT = "Reject"
    RETURN = "Return"


class RetryStatus(enum.StrEnum):
    WAITING = "Waiting"
    """Due on ``retry_due_on``: the next batch on or after it collects the invoice again."""
    INCLUDED = "Included"
    """A later batch took it (``retry_entry_id``)."""
    NOT_RETRIED = "Not retried"
    """The debtor refused (MS02) or asked for a refund (MD06): not collected again on it."""
    MANDATE_NEEDED = "Mandate needed"
    """The mandate was stopped or is invalid: collected again once a mandate is active."""
    EXHAUSTED = "Exhausted"
    """Retried as often as allowed: the treasurer was told."""


class SepaReturn(IdMixin, Base):
    """One reject or return of a batch entry, the reason the bank gave, and what follows: a
    retry on a later date, or none."""

    __tablename__ = "sepa_return"
    __table_args__ = (Index("ix_sepa_return_retry", "retry_status", "retry_due_on"),)

    entry_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("sepa_batch_entry.id"), unique=True)
    invoice_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("invoice.id"), index=True)
    member_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("member.id"))
    mandate_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("sepa_mandate.id"))
    kind: Mapped[str] = mapped_column(String(10))
    reason_code: Mapped[str] = mapped_column(String(4))
    amount: Mapped[Decimal]
    booked_on: Mapped[dt.date]
    status_report_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("sepa_status_report.id")
    )
    """The report it came from; None when a bank statement's return line recorded it."""
    attempt: Mapped[int]
    """Which return of this invoice it is (1 for the first)."""
    retry_status: Mapped[str] = mapped_column(String(20))
    retry_due_on: Mapped[dt.date | None]
    retry_entry_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("sepa_batch_entry.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())
