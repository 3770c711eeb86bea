"""What the history keeps: a financial summary per member and monthly payment analytics.

Both are derived from the ledger (invoices, payments, allocations) and written only by jobs;
the ledger stays the truth and either table can be rebuilt from it at any time.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base, BigIntKey


class PaymentStatus(enum.StrEnum):
    """How a member stands, as the treasurer reads it at a glance."""

    NO_INVOICES = "No Invoices"
    PAID = "Paid"
    UNPAID = "Unpaid"
    OVERDUE = "Overdue"


class MemberFinancialSummary(Base):
    """One row per member: the totals of its customer's ledger, kept by background jobs.

    Amounts are changed by deltas (``history.apply_summary_delta``) or rebuilt from the ledger
    (``history.recalculate_summary``); every write is conditional on ``version``, so of two
    concurrent updates neither is lost.
    """

    __tablename__ = "member_financial_summary"

    member_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("member.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("customer.id"), index=True)
    """The customer whose ledger the figures come from (a family shares one)."""
    invoice_count: Mapped[int]
    """Submitted invoices, credit notes not counted."""
    total_invoiced: Mapped[Decimal]
    total_credited: Mapped[Decimal]
    """What submitted credit notes took off (a positive amount)."""
    total_paid: Mapped[Decimal]
    """Received minus refunded (Receive minus Pay payments, submitted)."""
    outstanding: Mapped[Decimal]
    overdue_count: Mapped[int]
    last_payment_date: Mapped[dt.date | None]
    """Posting date of the newest submitted Receive payment."""
    payment_status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int]
    """Raised by one on every write; a writer updates only the version it read."""
    updated_at: Mapped[dt.datetime] = mapped_column(
        server_default=func.current_timestamp(), onupdate=func.current_timestamp()
    )


class PaymentAnalytics(Base):
    """Money per calendar month: payments received and refunded, and how much of what was
    invoiced that month has been collected."""

    __tablename__ = "payment_analytics"

    month: Mapped[dt.date] = mapped_column(primary_key=True)
    """The first day of the month."""
    payment_count: Mapped[int]
    received: Mapped[Decimal]
    refunded: Mapped[Decimal]
    invoiced: Mapped[Decimal]
    """Grand totals of the submitted invoices posted in the month."""
    collected: Mapped[Decimal]
    """What of those invoices is no longer outstanding (paid or credited)."""
    collection_rate: Mapped[Decimal | None]
    """collected / invoiced as a percentage (0.00–100.00); None when nothing was invoiced."""
    updated_at: Mapped[dt.datetime] = mapped_column(
        server_default=func.current_timestamp(), onupdate=func.current_timestamp()
    )
