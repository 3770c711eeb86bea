"""The shapes of a member's payment history and financial summary (DOMAIN.md, "Payment history").

They are what the API returns and documents, so they hold plain values only. The payment history
is not built through these classes: ``history.queries`` builds the same fields as plain dicts
(the ``...Values`` shapes at the end of this module, a TypedDict per model) and writes them
with pydantic's own JSON writer, which gives the model's text (a test holds it equal to
``PaymentHistory.model_dump_json``); the cache stores that text. Validating a model per invoice
and payment would cost more than the statements that read them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TypedDict

from pydantic import BaseModel, ConfigDict

from verenigingen.clock import UtcDateTime


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
    updated_at: UtcDateTime | None


# The payment history as plain values, field for field the models above (same names, types and
# order), as ``history.queries`` builds it.


class AllocatedPaymentValues(TypedDict):
    payment_id: int
    payment_number: str
    posting_date: dt.date
    allocated_amount: Decimal
    mode_of_payment: str
    reference_no: str | None


class MandateRefValues(TypedDict):
    id: int
    mandate_reference: str
    status: str
    sign_date: dt.date
    expiry_date: dt.date | None
    iban: str


class HistoryInvoiceValues(TypedDict):
    id: int
    number: str
    posting_date: dt.date
    due_date: dt.date
    coverage_start: dt.date | None
    coverage_end: dt.date | None
    grand_total: Decimal
    outstanding_amount: Decimal
    paid_amount: Decimal
    status: str
    is_return: bool
    payments: list[AllocatedPaymentValues]
    mandate: MandateRefValues | None


class UnallocatedPaymentValues(TypedDict):
    id: int
    number: str
    posting_date: dt.date
    paid_amount: Decimal
    unallocated_amount: Decimal
    mode_of_payment: str
    reference_no: str | None


class HistorySummaryValues(TypedDict):
    invoices: int
    total: Decimal
    outstanding: Decimal
    active_mandates: int


class PaymentHistoryValues(TypedDict):
    member_id: int
    customer_id: int | None
    invoices: list[HistoryInvoiceValues]
    unallocated_payments: list[UnallocatedPaymentValues]
    active_mandates: list[MandateRefValues]
    summary: HistorySummaryValues
    next_cursor: str | None
