"""The shapes of a member's payment history and financial summary (DOMAIN.md, "Payment history").

They are what the API returns and documents, so they hold plain values only. The payment history
is not built through these classes: ``history.queries`` writes the same JSON from plain values
(a test holds the text equal to ``PaymentHistory.model_dump_json``), and the cache stores it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class AllocatedPayment(_Frozen):
    """A submitted payment's share of one invoice."""

    payment_id: int
    payment_number: str
    posting_date: dt.date
    allocated_amount: Decimal
    mode_of_payment: str
    reference_no: str | None


class MandateRef(_Frozen):
    id: int
    mandate_reference: str
    status: str
    sign_date: dt.date
    expiry_date: dt.date | None
    iban: str
    """Masked: only the country, check digits and last four characters."""


class HistoryInvoice(_Frozen):
    id: int
    number: str
    posting_date: dt.date
    due_date: dt.date
    coverage_start: dt.date | None
    coverage_end: dt.date | None
    grand_total: Decimal
    outstanding_amount: Decimal
    paid_amount: Decimal
    """What submitted payments allocated to it."""
    status: str
    is_return: bool
    payments: list[AllocatedPayment]
    mandate: MandateRef | None
    """The member's mandate that covers the due date, if any."""


class UnallocatedPayment(_Frozen):
    id: int
    number: str
    posting_date: dt.date
    paid_amount: Decimal
    unallocated_amount: Decimal
    mode_of_payment: str
    reference_no: str | None


class HistorySummary(_Frozen):
    """Over all of the customer's submitted invoices, not only this page."""

    invoices: int
    total: Decimal
    outstanding: Decimal
    active_mandates: int


class PaymentHistory(_Frozen):
    member_id: int
    customer_id: int | None
    invoices: list[HistoryInvoice]
    """Newest first (posting date, then id)."""
    unallocated_payments: list[UnallocatedPayment]
    active_mandates: list[MandateRef]
    summary: HistorySummary
    next_cursor: str | None
    """Pass as ``before`` for the next (older) page; None on the last page."""


class FinancialSummaryOut(_Frozen):
    member_id: int
    customer_id: int | None
    invoice_count: int
    total_invoiced: Decimal
    total_credited: Decimal
    total_paid: Decimal
    outstanding: Decimal
    overdue_count: int
    last_payment_date: dt.date | None
    payment_status: str
    version: int
    """0 when the background job has not written the row yet (figures from the ledger)."""
    updated_at: dt.datetime | None
