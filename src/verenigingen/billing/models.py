"""Invoices (Sales Invoice), payments (Payment Entry), allocations and the money audit trail."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from verenigingen.db.base import Base, BigIntKey, IdMixin, TimestampMixin


def _owned_children(order_by: str) -> Any:
    """A document's rows (an invoice's lines, a payment's allocations): loaded only when asked
    for (rule: ``lazy="raise"``), in ``order_by`` order, deleted with their document."""
    return relationship(lazy="raise", order_by=order_by, cascade="all, delete-orphan")


class DocStatus(enum.IntEnum):
    DRAFT = 0
    SUBMITTED = 1
    CANCELLED = 2


class InvoiceStatus(enum.StrEnum):
    DRAFT = "Draft"
    UNPAID = "Unpaid"
    PARTLY_PAID = "Partly Paid"
    PAID = "Paid"
    OVERDUE = "Overdue"
    CANCELLED = "Cancelled"
    RETURN = "Return"
    CREDIT_NOTE_ISSUED = "Credit Note Issued"


class PaymentType(enum.StrEnum):
    RECEIVE = "Receive"
    PAY = "Pay"
    INTERNAL_TRANSFER = "Internal Transfer"


class ModeOfPayment(enum.StrEnum):
    SEPA_DIRECT_DEBIT = "SEPA Direct Debit"
    BANK_TRANSFER = "Bank Transfer"
    CASH = "Cash"
    IDEAL = "iDEAL"
    OTHER = "Other"


class Invoice(IdMixin, TimestampMixin, Base):
    __tablename__ = "invoice"
    __table_args__ = (
        # A dues period is billed once: the bulk generator relies on this as its last guard.
        UniqueConstraint("dues_schedule_id", "coverage_start"),
        Index("ix_invoice_customer_posting", "customer_id", "posting_date"),
        Index("ix_invoice_status_due", "status", "due_date"),
        # The list's order, newest first (db/paging.py keysets).
        Index("ix_invoice_posting_date_id", "posting_date", "id"),
    )

    number: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("customer.id"))
    member_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("member.id"), index=True)
    dues_schedule_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("dues_schedule.id"))
    posting_date: Mapped[dt.date]
    due_date: Mapped[dt.date]
    coverage_start: Mapped[dt.date | None]
    coverage_end: Mapped[dt.date | None]
    grand_total: Mapped[Decimal]
    """Sum of the lines; negative on a credit note."""
    outstanding_amount: Mapped[Decimal]
    """grand_total minus submitted allocations and submitted credit notes; 0 on a credit note."""
    status: Mapped[str] = mapped_column(String(30), default=InvoiceStatus.DRAFT)
    docstatus: Mapped[int] = mapped_column(default=DocStatus.DRAFT)
    is_return: Mapped[bool] = mapped_column(default=False)
    """A credit note (ERPNext "Return") against ``return_against_id``."""
    return_against_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("invoice.id"), index=True
    )
    remarks: Mapped[str | None] = mapped_column(String(500))

    lines: Mapped[list[InvoiceLine]] = _owned_children("InvoiceLine.idx")


class InvoiceLine(IdMixin, Base):
    __tablename__ = "invoice_line"

    invoice_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("invoice.id"), index=True)
    idx: Mapped[int]
    description: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[Decimal]
    rate: Mapped[Decimal]
    amount: Mapped[Decimal]


class Payment(IdMixin, TimestampMixin, Base):
    __tablename__ = "payment"
    __table_args__ = (
        Index("ix_payment_customer_posting", "customer_id", "posting_date"),
        Index("ix_payment_posting_date_id", "posting_date", "id"),  # the list's order
    )

    number: Mapped[str] = mapped_column(String(40), unique=True)
    payment_type: Mapped[str] = mapped_column(String(20), default=PaymentType.RECEIVE)
    customer_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("customer.id"))
    posting_date: Mapped[dt.date]
    paid_amount: Mapped[Decimal]
    unallocated_amount: Mapped[Decimal]
    """paid_amount minus the sum of this payment's allocations."""
    mode_of_payment: Mapped[str] = mapped_column(String(30), default=ModeOfPayment.BANK_TRANSFER)
    reference_no: Mapped[str | None] = mapped_column(String(140))
    reference_date: Mapped[dt.date | None]
    docstatus: Mapped[int] = mapped_column(default=DocStatus.DRAFT)
    created_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("user_account.id"))

    allocations: Mapped[list[PaymentAllocation]] = _owned_children("PaymentAllocation.id")


class PaymentAllocation(IdMixin, Base):
    """Payment Entry Reference: the part of a payment that settles one invoice."""

    __tablename__ = "payment_allocation"
    __table_args__ = (UniqueConstraint("payment_id", "invoice_id"),)

    payment_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("payment.id"))
    invoice_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("invoice.id"), index=True)
    allocated_amount: Mapped[Decimal]


class AuditEvent(IdMixin, Base):
    """One row per money event: who did what to which document, for how much."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id"),)

    occurred_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())
    user_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("user_account.id"))
    event: Mapped[str] = mapped_column(String(60))
    """Dotted name: ``invoice.submitted``, ``payment.cancelled``, ``dues.generated`` …"""
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(BigIntKey)
    amount: Mapped[Decimal | None]
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
