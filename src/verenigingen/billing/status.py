"""Invoice status follows from docstatus, outstanding and due date; nothing else sets it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from verenigingen.billing.models import DocStatus, InvoiceStatus


def invoice_status(
    *,
    docstatus: int,
    is_return: bool,
    grand_total: Decimal,
    outstanding: Decimal,
    due_date: dt.date,
    today: dt.date,
    has_credit_notes: bool = False,
) -> InvoiceStatus:
    if docstatus == DocStatus.DRAFT:
        return InvoiceStatus.DRAFT
    if docstatus == DocStatus.CANCELLED:
        return InvoiceStatus.CANCELLED
    if is_return:
        return InvoiceStatus.RETURN
    if outstanding <= 0:
        return InvoiceStatus.CREDIT_NOTE_ISSUED if has_credit_notes else InvoiceStatus.PAID
    if due_date < today:
        return InvoiceStatus.OVERDUE
    if outstanding < grand_total:
        return InvoiceStatus.PARTLY_PAID
    return InvoiceStatus.UNPAID
