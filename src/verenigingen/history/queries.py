"""The member payment history read model: three statements whatever the size of the ledger.

:func:`history_read` reads the member with its mandates and summary, one page of invoices with
their payments, and the unallocated payments (:mod:`verenigingen.history.statement`, a named
row shape each), and builds the history from those rows. The original built the same page per
invoice (about 67 statements per member). Paging is by an opaque keyset cursor over (posting
date, id), so a page costs the same wherever it starts.

The history is built as plain values in the shape of :class:`PaymentHistory`
(:class:`PaymentHistoryValues`: amounts ``Decimal``, days ``dt.date``), which pydantic's own JSON
writer turns into the same text as the model would give: the API sends that text and the cache
stores it. :func:`payment_history` validates it once, for Python callers.

What the three statements see together: on SQLite a read transaction is one snapshot; on
PostgreSQL and MariaDB (READ COMMITTED) each statement sees what was committed when it started,
so a ledger write committed between them can show in the later parts and not in the earlier.
The cache is not misled by it: the versions of the history's tags are read by the first
statement, before anything else, and every ledger write bumps them in its own transaction, so
an entry stored with those versions is served only while nothing has changed since that first
statement, when all three read the same ledger (``history.service``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic_core
from sqlalchemy.orm import Session

from verenigingen.db.paging import check_page
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.history.schemas import (
    AllocatedPaymentValues,
    HistoryInvoiceValues,
    MandateRefValues,
    PaymentHistory,
    PaymentHistoryValues,
    UnallocatedPaymentValues,
)
from verenigingen.history.statement import (
    MEMBER,
    PAGE,
    PAGE_BEFORE,
    UNALLOCATED,
    InvoicePaymentRow,
    MemberRow,
    UnallocatedRow,
)
from verenigingen.jobs.masking import mask_text
from verenigingen.money import ZERO
from verenigingen.sepa.models import MandateStatus

DEFAULT_LIMIT = 50

Cursor = tuple[dt.date, int]


def encode_cursor(posting_date: dt.date, invoice_id: int) -> str:
    """A cursor after the invoice posted on ``posting_date``."""
    raw = json.dumps([posting_date.isoformat(), invoice_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> Cursor:
    """The (posting date, invoice id) of a cursor this module gave out; anything else is a 422."""
    try:
        padded = value + "=" * (-len(value) % 4)
        day, invoice_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(invoice_id, int) or isinstance(invoice_id, bool) or invoice_id < 1:
            raise ValueError(invoice_id)
        return dt.date.fromisoformat(day), invoice_id
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise ValidationFailed("before is not a cursor of this history; use next_cursor") from None


def dumps(history: PaymentHistoryValues) -> str:
    """The history as the API's JSON text, written as ``PaymentHistory.model_dump_json``
    writes it (the same Rust serializer: amounts as strings, dates in ISO form, UTF-8 kept)."""
    return pydantic_core.to_json(history).decode()


@dataclass(frozen=True, slots=True)
class Access:
    """Who may read the history, and the versions of its cache tags, from its first statement."""

    customer_id: int | None
    user_id: int | None
    member_version: int
    customer_version: int


def history_document(
    session: Session, member_id: int, *, limit: int = DEFAULT_LIMIT, before: str | None = None
) -> PaymentHistoryValues:
    """A member's payment history (DOMAIN.md's shape), one page of invoices, newest first, as
    plain values in the shape of :class:`PaymentHistory` (write it with :func:`dumps`).

    No permission check: the caller decides who may read it (see ``history.service``).
    Unknown member → 404; a limit outside 1-500 or a cursor that does not parse → 422.
    """
    read = history_read(session, member_id, limit=limit, before=before)
    if read is None:
        raise NotFound(f"no member with id {member_id}")
    return read[0]


def history_read(
    session: Session,
    member_id: int,
    *,
    limit: int = DEFAULT_LIMIT,
    before: str | None = None,
    permit: Callable[[Access | None], None] = lambda _access: None,
) -> tuple[PaymentHistoryValues, Access] | None:
    """:func:`history_document` with the member's :class:`Access`, or None for an unknown
    member. Three statements (the member's, the page's, the unallocated payments'); one for a
    member without a customer or an unknown member.

    ``permit`` judges the member's access (None: unknown member) as soon as the first statement
    has read it, and raises to refuse: a refused read costs that one statement.
    """
    check_page(limit)
    cursor = decode_cursor(before) if before is not None else None
    member_rows = MEMBER.rows(session, {"member_id": member_id})
    if not member_rows:
        permit(None)
        return None
    member = member_rows[0]
    access = Access(
        member.customer_id, member.user_id, member.member_version, member.customer_version
    )
    permit(access)
    mandates = [_mandate_ref(row) for row in member_rows if row.mandate_id is not None]
    active = [mandate for mandate in mandates if mandate["status"] == MandateStatus.ACTIVE]
    invoices: list[HistoryInvoiceValues] = []
    unallocated: list[UnallocatedPaymentValues] = []
    next_cursor = None
    if member.customer_id is not None:
        invoices, next_cursor = _page(session, member.customer_id, limit, cursor, mandates)
        unallocated = [
            _unallocated_payment(row)
            for row in UNALLOCATED.rows(session, {"customer_id": member.customer_id})
        ]
    history: PaymentHistoryValues = {
        "member_id": member_id,
        "customer_id": member.customer_id,
        "invoices": invoices,
        "unallocated_payments": unallocated,
        "active_mandates": active,
        "summary": {
            "invoices": member.invoice_count or 0,
            "total": ZERO if member.total_invoiced is None else member.total_invoiced,
            "outstanding": ZERO if member.outstanding is None else member.outstanding,
            "active_mandates": len(active),
        },
        "next_cursor": next_cursor,
    }
    return history, access


def _mandate_ref(row: MemberRow) -> MandateRefValues:
    """The row's mandate as a MandateRef, its IBAN masked (a row with a mandate has all of its
    fields: the outer join gives all of them or none)."""
    assert row.mandate_id is not None
    assert row.mandate_reference is not None
    assert row.mandate_status is not None
    assert row.iban is not None
    assert row.sign_date is not None
    return {
        "id": row.mandate_id,
        "mandate_reference": row.mandate_reference,
        "status": row.mandate_status,
        "sign_date": row.sign_date,
        "expiry_date": row.expiry_date,
        "iban": mask_text(row.iban),
    }


def _page(
    session: Session,
    customer_id: int,
    limit: int,
    cursor: Cursor | None,
    mandates: list[MandateRefValues],
) -> tuple[list[HistoryInvoiceValues], str | None]:
    """One page of invoices, newest first, each with its payments oldest first and the mandate
    that covers its due date; and the cursor of the next (older) page, if there is one."""
    params: dict[str, Any] = {"customer_id": customer_id, "rows": limit + 1}
    statement = PAGE
    if cursor is not None:
        statement = PAGE_BEFORE
        params["day"], params["invoice_id"] = cursor
    # A draft mandate never covered anything.
    signed = [mandate for mandate in mandates if mandate["status"] != MandateStatus.DRAFT]
    invoices: list[HistoryInvoiceValues] = []
    for row in statement.rows(session, params):  # an invoice's rows come together, in order
        if not invoices or invoices[-1]["id"] != row.invoice_id:
            if len(invoices) == limit:  # the page's extra invoice: an older page exists
                last = invoices[-1]
                return invoices, encode_cursor(last["posting_date"], last["id"])
            invoices.append(_invoice(row, signed))
        if row.payment_id is not None:
            invoice = invoices[-1]
            payment = _allocated_payment(row)
            invoice["payments"].append(payment)
            invoice["paid_amount"] += payment["allocated_amount"]
    return invoices, None


def _invoice(row: InvoicePaymentRow, signed: list[MandateRefValues]) -> HistoryInvoiceValues:
    """The row's invoice, before its payments (``paid_amount`` is their sum, added after)."""
    return {
        "id": row.invoice_id,
        "number": row.number,
        "posting_date": row.posting_date,
        "due_date": row.due_date,
        "coverage_start": row.coverage_start,
        "coverage_end": row.coverage_end,
        "grand_total": row.grand_total,
        "outstanding_amount": row.outstanding_amount,
        "paid_amount": ZERO,
        "status": row.status,
        "is_return": row.is_return,
        "payments": [],
        "mandate": None if row.is_return else _covering(signed, row.due_date),
    }


def _covering(signed: list[MandateRefValues], due_date: dt.date) -> MandateRefValues | None:
    """The member's mandate that covers ``due_date``: the newest signed on or before it that had
    not expired (``signed`` is newest signature first)."""
    for mandate in signed:
        expiry_date = mandate["expiry_date"]
        if mandate["sign_date"] <= due_date and (expiry_date is None or expiry_date >= due_date):
            return mandate
    return None


def _allocated_payment(row: InvoicePaymentRow) -> AllocatedPaymentValues:
    """The row's payment and what it allocated to the row's invoice (for a row with a payment:
    the outer join gives all of its fields or none)."""
    assert row.payment_id is not None
    assert row.payment_number is not None
    assert row.payment_date is not None
    assert row.allocated_amount is not None
    assert row.mode_of_payment is not None
    return {
        "payment_id": row.payment_id,
        "payment_number": row.payment_number,
        "posting_date": row.payment_date,
        "allocated_amount": row.allocated_amount,
        "mode_of_payment": row.mode_of_payment,
        "reference_no": row.reference_no,
    }


def _unallocated_payment(row: UnallocatedRow) -> UnallocatedPaymentValues:
    return {
        "id": row.payment_id,
        "number": row.number,
        "posting_date": row.posting_date,
        "paid_amount": row.paid_amount,
        "unallocated_amount": row.unallocated_amount,
        "mode_of_payment": row.mode_of_payment,
        "reference_no": row.reference_no,
    }


def payment_history(
    session: Session, member_id: int, *, limit: int = DEFAULT_LIMIT, before: str | None = None
) -> PaymentHistory:
    """:func:`history_document` as the validated model (for Python callers and tests)."""
    return PaymentHistory.model_validate(
        history_document(session, member_id, limit=limit, before=before)
    )
