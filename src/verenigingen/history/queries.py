"""The member payment history read model: one statement whatever the size of the ledger.

The statement (:mod:`verenigingen.history.statement`) returns the member with its mandates and
summary, one page of invoices with their payments, and the unallocated payments, in no order;
:func:`history_read` sorts them and builds the history. The original built the same page per
invoice (about 67 statements per member). Paging is by an opaque keyset cursor over (posting
date, id), so a page costs the same wherever it starts.

The history is built straight from the rows as a document of plain values (dicts, lists,
amounts as text, days as the driver gives them, in the field order of :class:`PaymentHistory`),
which pydantic's own JSON writer turns into the same text as the model would give: the API
sends that text and the cache stores it. Validating a pydantic object per invoice and payment,
and Python's ``json``, cost more than the statement; :func:`payment_history` validates the
document once, for Python callers, and a test holds its JSON equal to the model's.

The statement selects columns, not entities: no identity map, no ORM loading;
``session.execute`` still autoflushes and lets ``perf.capture`` count the rows.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

import pydantic_core
from sqlalchemy.orm import Session

from verenigingen.db.paging import check_page
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.history.schemas import PaymentHistory
from verenigingen.history.statement import (
    HISTORY,
    HISTORY_BEFORE,
    MEMBER,
    PAGE,
    SLOT,
    UNALLOCATED,
)
from verenigingen.jobs.masking import mask_text
from verenigingen.money import ZERO
from verenigingen.sepa.models import MandateStatus

DEFAULT_LIMIT = 50

Cursor = tuple[dt.date, int]
Day = Any
"""A day as the driver gives it (see ``history.statement``): a ``dt.date``, or on SQLite its
ISO text. Days of one statement are all one or all the other, which compare alike."""
Document = dict[str, Any]
"""A payment history as plain values in the shape of :class:`PaymentHistory`."""


def encode_cursor(posting_date: dt.date | str, invoice_id: int) -> str:
    """A cursor after the invoice posted on ``posting_date`` (a date, or its ISO text)."""
    day = posting_date if isinstance(posting_date, str) else posting_date.isoformat()
    raw = json.dumps([day, invoice_id], separators=(",", ":"))
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


def dumps(document: Document) -> str:
    """The document as the API's JSON text, written as ``PaymentHistory.model_dump_json``
    writes it (the same Rust serializer: amounts as strings, dates in ISO form, UTF-8 kept)."""
    return pydantic_core.to_json(document).decode()


class _MoneyText(dict[Any, str]):
    """Amounts with two decimals, each distinct amount written once per history: amounts repeat
    (a dues amount, 0.00), and writing a number costs as much as several lookups. Equal amounts
    have equal text (NUMERIC keeps no negative zero on these engines)."""

    def __missing__(self, amount: Decimal | float) -> str:
        text = self[amount] = f"{amount:.2f}"
        return text


def _signed(mandates: Sequence[Document]) -> list[tuple[Day, Day | None, Document]]:
    """The mandates that can cover an invoice (a draft never covered anything), newest
    signature first, as (signed, expires, MandateRef): the invoice's mandate is the first
    valid on its due date."""
    return [
        (m["sign_date"], m["expiry_date"], m)
        for m in mandates
        if m["status"] != MandateStatus.DRAFT
    ]


@dataclass(frozen=True, slots=True)
class Access:
    """Who may read the history, and the versions of its cache tags, from the same statement."""

    customer_id: int | None
    user_id: int | None
    member_version: int
    customer_version: int


def history_document(
    session: Session, member_id: int, *, limit: int = DEFAULT_LIMIT, before: str | None = None
) -> Document:
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
    session: Session, member_id: int, *, limit: int = DEFAULT_LIMIT, before: str | None = None
) -> tuple[Document, Access] | None:
    """:func:`history_document` with the member's :class:`Access`, or None for an unknown
    member: one statement."""
    check_page(limit)
    cursor = decode_cursor(before) if before is not None else None
    params: dict[str, Any] = {"member_id": member_id, "rows": limit + 1}
    statement = HISTORY
    if cursor is not None:
        statement = HISTORY_BEFORE
        params["day"], params["invoice_id"] = cursor
    # Fetched at once: iterating a result fetches row by row, a driver call and a row each.
    rows = session.execute(statement, params).all()
    parts: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
    for row in rows:
        parts[row[0]].append(row)  # by kind
    member_rows, page_rows, unallocated_rows = parts[MEMBER], parts[PAGE], parts[UNALLOCATED]
    if not member_rows:
        return None
    (
        _,
        _,
        customer_id,
        invoice_count,
        *_,
        total,
        outstanding,
        _,
        user_id,
        member_version,
        customer_version,
    ) = member_rows[0]
    mandates = _mandates(member_rows)
    active = [m for m in mandates if m["status"] == MandateStatus.ACTIVE]
    money = _MoneyText()
    invoices, next_cursor = _invoices(page_rows, limit, mandates, money)
    unallocated_rows.sort(key=_newest, reverse=True)
    unallocated = [
        {
            "id": payment_id,
            "number": number,
            "posting_date": posting_date,
            "paid_amount": money[paid_amount],
            "unallocated_amount": money[unallocated_amount],
            "mode_of_payment": mode_of_payment,
            "reference_no": reference_no,
        }
        for (
            _,
            payment_id,
            _,
            _,
            number,
            mode_of_payment,
            reference_no,
            _,
            _,
            posting_date,
            _,
            _,
            _,
            _,
            paid_amount,
            unallocated_amount,
            *_,
        ) in unallocated_rows
    ]
    document = {
        "member_id": member_id,
        "customer_id": customer_id,
        "invoices": invoices,
        "unallocated_payments": unallocated,
        "active_mandates": active,
        "summary": {
            "invoices": int(invoice_count or 0),
            "total": Decimal(money[total or ZERO]),
            "outstanding": Decimal(money[outstanding or ZERO]),
            "active_mandates": len(active),
        },
        "next_cursor": next_cursor,
    }
    return document, Access(customer_id, user_id, member_version, customer_version)


_newest = itemgetter(SLOT["day1"], SLOT["id"])
"""A part's order, newest first (with ``reverse``): its first day, then its id."""
_oldest = itemgetter("posting_date", "payment_id")
"""An invoice's payments, oldest first."""


def _mandates(member_rows: list[Any]) -> list[Document]:
    """The member's mandates as MandateRefs (the IBAN masked), newest signature first (none:
    one row without a mandate)."""
    rows = [row for row in member_rows if row[SLOT["id"]] is not None]
    rows.sort(key=_newest, reverse=True)
    return [
        {
            "id": mandate_id,
            "mandate_reference": reference,
            "status": status,
            "sign_date": sign_date,
            "expiry_date": expiry_date,
            "iban": mask_text(iban),
        }
        for (
            _,
            mandate_id,
            _,
            _,
            reference,
            status,
            iban,
            _,
            _,
            sign_date,
            expiry_date,
            *_,
        ) in rows
    ]


def _invoices(
    rows: list[Any], limit: int, mandates: Sequence[Document], money: _MoneyText
) -> tuple[list[Document], str | None]:
    """The page's invoices, newest first, each with its payments oldest first, from the rows of
    the page (an invoice's row per payment allocated to it; one row without a payment for an
    invoice with none), in any order."""
    # Newest invoice first: an invoice's rows, of one key, stay together.
    rows.sort(key=_newest, reverse=True)
    invoices: list[Document] = []
    invoice: Document = {}
    payments: list[Document] = []
    several: list[list[Document]] = []  # the payments of invoices with more than one
    signed_mandates = _signed(mandates)
    last_id: int | None = None
    left = limit
    older = False
    for (
        _,
        invoice_id,
        payment_id,
        is_return,
        number,
        status,
        payment_number,
        mode_of_payment,
        reference_no,
        posting_date,
        due_date,
        coverage_start,
        coverage_end,
        payment_date,
        grand_total,
        outstanding_amount,
        allocated_amount,
        _,
        _,
        _,
    ) in rows:
        if invoice_id != last_id:
            if left == 0:  # the page's extra invoice: an older page exists
                older = True
                break
            left -= 1
            covering = None
            if not is_return:
                for signed, expires, ref in signed_mandates:  # inline: a call per invoice shows
                    if signed <= due_date and (expires is None or expires >= due_date):
                        covering = ref
                        break
            payments = []
            invoice = {
                "id": invoice_id,
                "number": number,
                "posting_date": posting_date,
                "due_date": due_date,
                "coverage_start": coverage_start,
                "coverage_end": coverage_end,
                "grand_total": money[grand_total],
                "outstanding_amount": money[outstanding_amount],
                "paid_amount": ZERO,  # what its payments allocated, set below
                "status": status,
                "is_return": is_return == 1,
                "payments": payments,
                "mandate": covering,
            }
            invoices.append(invoice)
            last_id = invoice_id
        if payment_id is not None:
            allocated = money[allocated_amount]
            if payments:  # more than one: their sum, and oldest first (sorted below)
                invoice["paid_amount"] = Decimal(invoice["paid_amount"]) + Decimal(allocated)
                if len(payments) == 1:
                    several.append(payments)
            else:
                invoice["paid_amount"] = allocated
            payments.append(
                {
                    "payment_id": payment_id,
                    "payment_number": payment_number,
                    "posting_date": payment_date,
                    "allocated_amount": allocated,
                    "mode_of_payment": mode_of_payment,
                    "reference_no": reference_no,
                }
            )
    for payments in several:
        payments.sort(key=_oldest)
    last = invoices[-1] if invoices else None
    next_cursor = encode_cursor(last["posting_date"], last["id"]) if older and last else None
    return invoices, next_cursor


def payment_history(
    session: Session, member_id: int, *, limit: int = DEFAULT_LIMIT, before: str | None = None
) -> PaymentHistory:
    """:func:`history_document` as the validated model (for Python callers and tests)."""
    return PaymentHistory.model_validate(
        history_document(session, member_id, limit=limit, before=before)
    )
