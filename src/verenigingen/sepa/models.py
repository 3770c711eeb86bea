from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base, BigIntKey, IdMixin, TimestampMixin


class MandateStatus(enum.StrEnum):
    DRAFT = "Draft"
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    CANCELLED = "Cancelled"
    EXPIRED = "Expired"


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
