"""Who belongs to the association and who pays for them."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from verenigingen.db.base import Base, BigIntKey, IdMixin, TimestampMixin


class MemberStatus(enum.StrEnum):
    PENDING = "Pending"
    ACTIVE = "Active"
    REJECTED = "Rejected"
    EXPIRED = "Expired"
    SUSPENDED = "Suspended"
    BANNED = "Banned"
    DECEASED = "Deceased"
    TERMINATED = "Terminated"


class ApplicationStatus(enum.StrEnum):
    PENDING = "Pending"
    UNDER_REVIEW = "Under Review"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    PAYMENT_PENDING = "Payment Pending"
    ACTIVE = "Active"


class PaymentMethod(enum.StrEnum):
    BANK_TRANSFER = "Bank Transfer"
    SEPA_DIRECT_DEBIT = "SEPA Direct Debit"
    CASH = "Cash"
    OTHER = "Other"


class BillingPeriod(enum.StrEnum):
    MONTHLY = "Monthly"
    QUARTERLY = "Quarterly"
    SEMI_ANNUAL = "Semi-Annual"
    ANNUAL = "Annual"
    LIFETIME = "Lifetime"
    CUSTOM = "Custom"


PERIOD_MONTHS: dict[str, int] = {
    BillingPeriod.MONTHLY: 1,
    BillingPeriod.QUARTERLY: 3,
    BillingPeriod.SEMI_ANNUAL: 6,
    BillingPeriod.ANNUAL: 12,
}


class MembershipStatus(enum.StrEnum):
    DRAFT = "Draft"
    ACTIVE = "Active"
    PENDING = "Pending"
    INACTIVE = "Inactive"
    EXPIRED = "Expired"
    CANCELLED = "Cancelled"


class CancellationType(enum.StrEnum):
    IMMEDIATE = "Immediate"
    END_OF_PERIOD = "End of Period"


class Customer(IdMixin, TimestampMixin, Base):
    """The debtor: invoices and payments belong to a customer; a family shares one."""

    __tablename__ = "customer"

    debtor_number: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(140))
    email: Mapped[str | None] = mapped_column(String(255))
    address_line: Mapped[str | None] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100))


class MembershipType(IdMixin, Base):
    __tablename__ = "membership_type"

    name: Mapped[str] = mapped_column(String(140), unique=True)
    billing_period: Mapped[str] = mapped_column(String(20))
    custom_period_months: Mapped[int | None]
    """Months per period when ``billing_period`` is Custom."""
    amount: Mapped[Decimal]
    minimum_amount: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    """Lowest dues rate a member of this type may pay (a reduced fee may not go below it)."""
    enforce_minimum_period: Mapped[bool] = mapped_column(default=True)
    """A membership runs at least 12 months, whatever the billing period."""
    is_default: Mapped[bool] = mapped_column(default=False)

    @property
    def period_months(self) -> int | None:
        """Months in one billing period; None for Lifetime."""
        if self.billing_period == BillingPeriod.CUSTOM:
            return self.custom_period_months
        return PERIOD_MONTHS.get(self.billing_period)


class Member(IdMixin, TimestampMixin, Base):
    __tablename__ = "member"
    __table_args__ = (
        Index("ix_member_status_last_name", "status", "last_name"),
        Index("ix_member_name", "last_name", "first_name", "id"),  # the list's order
        # the terminations list's order (members.lists.list_terminations)
        Index("ix_member_status_termination_date_id", "status", "termination_date", "id"),
    )

    member_id: Mapped[str] = mapped_column(String(40), unique=True)
    """Public id ``Assoc-Member-YYYY-MM-####`` (year and month of the application)."""
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(255))
    birth_date: Mapped[dt.date | None]
    address_line: Mapped[str | None] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=MemberStatus.PENDING)
    application_status: Mapped[str] = mapped_column(String(20), default=ApplicationStatus.PENDING)
    member_since: Mapped[dt.date | None]
    payment_method: Mapped[str] = mapped_column(String(30), default=PaymentMethod.BANK_TRANSFER)
    iban: Mapped[str | None] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    account_holder: Mapped[str | None] = mapped_column(String(140))
    requested_membership_type_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("membership_type.id")
    )
    """The type asked for in the application; approval creates a membership of it."""
    customer_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("customer.id"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("user_account.id"), unique=True
    )
    """The portal login of this member (role Member), if any."""
    rejection_reason: Mapped[str | None] = mapped_column(String(255))
    termination_date: Mapped[dt.date | None]
    termination_reason: Mapped[str | None] = mapped_column(String(255))

    customer: Mapped[Customer | None] = relationship(lazy="raise")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Membership(IdMixin, TimestampMixin, Base):
    __tablename__ = "membership"
    __table_args__ = (Index("ix_membership_start_date_id", "start_date", "id"),)  # list order

    member_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("member.id"), index=True)
    membership_type_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("membership_type.id"))
    start_date: Mapped[dt.date]
    renewal_date: Mapped[dt.date | None]
    """Start plus one period (at least 12 months when the type enforces it); None for Lifetime."""
    status: Mapped[str] = mapped_column(String(20), default=MembershipStatus.ACTIVE)
    cancellation_date: Mapped[dt.date | None]
    cancellation_type: Mapped[str | None] = mapped_column(String(20))

    membership_type: Mapped[MembershipType] = relationship(lazy="raise")
