from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base, BigIntKey, IdMixin, TimestampMixin


class ScheduleStatus(enum.StrEnum):
    ACTIVE = "Active"
    PAUSED = "Paused"
    CANCELLED = "Cancelled"


class DuesSchedule(IdMixin, TimestampMixin, Base):
    """What a membership costs and when the next invoice is due."""

    __tablename__ = "dues_schedule"
    __table_args__ = (Index("ix_dues_schedule_due", "status", "next_invoice_date"),)

    membership_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("membership.id"), unique=True)
    member_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("member.id"), index=True)
    customer_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("customer.id"))
    billing_frequency: Mapped[str] = mapped_column(String(20))
    billing_months: Mapped[int]
    """Months one invoice covers."""
    dues_rate: Mapped[Decimal]
    """Amount per invoice; may differ from the type's amount (custom or reduced fee)."""
    next_invoice_date: Mapped[dt.date]
    """Start of the next coverage period to bill."""
    last_invoice_date: Mapped[dt.date | None]
    invoice_days_before: Mapped[int] = mapped_column(default=30)
    """The invoice for a period is made this many days before the period starts."""
    status: Mapped[str] = mapped_column(String(20), default=ScheduleStatus.ACTIVE)
    auto_generate: Mapped[bool] = mapped_column(default=True)
    end_date: Mapped[dt.date | None]
    """No period starting on or after this date is billed (end-of-period cancellation)."""
