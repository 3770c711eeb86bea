"""The member payment history read model: three statements whatever the size of the ledger.

1. the member with its mandates, and the summary of its customer's invoices (scalar subqueries);
2. one page of the customer's submitted invoices, newest first, outer-joined with their
   allocations and the submitted payments behind them;
3. the customer's submitted payments with something left unallocated.

The original built the same page per invoice (about 67 statements per member). Paging is by an
opaque keyset cursor over (posting date, id), so a page costs the same wherever it starts.

The history is built straight from the rows as a document of plain values (dicts, lists,
``Decimal``, dates, in the field order of :class:`PaymentHistory`), which pydantic's own JSON
writer turns into the same text as the model would give: the API sends that text and the cache
stores it. Validating a pydantic object per invoice and payment, and Python's ``json``, cost
more than the three statements together; :func:`payment_history` validates the document once,
for Python callers, and a test holds its JSON equal to the model's.

The statements are built once, here, with bound parameters: SQLAlchemy then finds their
compiled form by a memoised cache key instead of constructing and hashing a new statement (with
a subquery's column collection) per read. They select columns, not entities: no identity map,
no ORM loading; ``session.execute`` still autoflushes and lets ``perf.capture`` count the rows.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pydantic_core
from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from verenigingen.billing.models import DocStatus, Invoice, Payment, PaymentAllocation
from verenigingen.db.paging import check_page
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.history.schemas import PaymentHistory
from verenigingen.jobs.masking import mask_text
from verenigingen.members.models import Member
from verenigingen.money import ZERO
from verenigingen.sepa.models import MandateStatus, SepaMandate

DEFAULT_LIMIT = 50

Cursor = tuple[dt.date, int]
Document = dict[str, Any]
"""A payment history as plain values in the shape of :class:`PaymentHistory`."""


def encode_cursor(posting_date: dt.date, invoice_id: int) -> str:
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


def dumps(document: Document) -> str:
    """The document as the API's JSON text, written as ``PaymentHistory.model_dump_json``
    writes it (the same Rust serializer: amounts as strings, dates in ISO form, UTF-8 kept)."""
    return pydantic_core.to_json(document).decode()


_member = Member.__table__
_mandate = SepaMandate.__table__
_invoice = Invoice.__table__
_allocation = PaymentAllocation.__table__
_payment = Payment.__table__


def _invoice_aggregate(column: Any) -> Any:
    return (
        select(column)
        .where(
            _invoice.c.customer_id == _member.c.customer_id,
            _invoice.c.docstatus == DocStatus.SUBMITTED,
            _invoice.c.is_return.is_(False),
        )
        .correlate(_member)
        .scalar_subquery()
    )


_MEMBER = (
    select(
        _member.c.customer_id,
        _invoice_aggregate(func.count(_invoice.c.id)).label("invoices"),
        _invoice_aggregate(func.sum(_invoice.c.grand_total)).label("total"),
        _invoice_aggregate(func.sum(_invoice.c.outstanding_amount)).label("outstanding"),
        _mandate.c.id,
        _mandate.c.mandate_reference,
        _mandate.c.status,
        _mandate.c.sign_date,
        _mandate.c.expiry_date,
        _mandate.c.iban,
    )
    .select_from(_member.outerjoin(_mandate, _mandate.c.member_id == _member.c.id))
    .where(_member.c.id == bindparam("member_id"))
    .order_by(_mandate.c.sign_date.desc(), _mandate.c.id.desc())
)


def _page_statement(*, after_cursor: bool) -> Select[Any]:
    conditions = [
        _invoice.c.customer_id == bindparam("customer_id"),
        _invoice.c.docstatus == DocStatus.SUBMITTED,
    ]
    if after_cursor:
        conditions.append(
            or_(
                _invoice.c.posting_date < bindparam("day"),
                and_(
                    _invoice.c.posting_date == bindparam("day"),
                    _invoice.c.id < bindparam("invoice_id"),
                ),
            )
        )
    page = (
        select(
            _invoice.c.id,
            _invoice.c.number,
            _invoice.c.posting_date,
            _invoice.c.due_date,
            _invoice.c.coverage_start,
            _invoice.c.coverage_end,
            _invoice.c.grand_total,
            _invoice.c.outstanding_amount,
            _invoice.c.status,
            _invoice.c.is_return,
        )
        .where(*conditions)
        .order_by(_invoice.c.posting_date.desc(), _invoice.c.id.desc())
        .limit(bindparam("rows"))  # limit + 1: one more tells whether an older page exists
        .subquery("page")
    )
    return (
        select(
            page,
            _allocation.c.allocated_amount,
            _payment.c.id.label("payment_id"),
            _payment.c.number.label("payment_number"),
            _payment.c.posting_date.label("payment_date"),
            _payment.c.mode_of_payment,
            _payment.c.reference_no,
        )
        .select_from(page)
        .outerjoin(_allocation, _allocation.c.invoice_id == page.c.id)
        .outerjoin(
            _payment,
            and_(
                _payment.c.id == _allocation.c.payment_id,
                _payment.c.docstatus == DocStatus.SUBMITTED,
            ),
        )
        .order_by(
            page.c.posting_date.desc(), page.c.id.desc(), _payment.c.posting_date, _payment.c.id
        )
    )


_PAGE = _page_statement(after_cursor=False)
_PAGE_BEFORE = _page_statement(after_cursor=True)

_UNALLOCATED = (
    select(
        _payment.c.id,
        _payment.c.number,
        _payment.c.posting_date,
        _payment.c.paid_amount,
        _payment.c.unallocated_amount,
        _payment.c.mode_of_payment,
        _payment.c.reference_no,
    )
    .where(
        _payment.c.customer_id == bindparam("customer_id"),
        _payment.c.docstatus == DocStatus.SUBMITTED,
        _payment.c.unallocated_amount > 0,
    )
    .order_by(_payment.c.posting_date.desc(), _payment.c.id.desc())
)


@dataclass(frozen=True, slots=True)
class _Mandate:
    status: str
    sign_date: dt.date
    expiry_date: dt.date | None
    ref: Document
    """Its MandateRef (the IBAN masked)."""


def _covering(mandates: Sequence[_Mandate], due_date: dt.date) -> _Mandate | None:
    """The newest signed mandate valid on ``due_date`` (a draft never covered anything)."""
    for mandate in mandates:  # newest signature first
        if mandate.status == MandateStatus.DRAFT or mandate.sign_date > due_date:
            continue
        if mandate.expiry_date is None or mandate.expiry_date >= due_date:
            return mandate
    return None


def history_document(
    session: Session, member_id: int, *, limit: int = DEFAULT_LIMIT, before: str | None = None
) -> Document:
    """A member's payment history (DOMAIN.md's shape), one page of invoices, newest first, as
    plain values in the shape of :class:`PaymentHistory` (write it with :func:`dumps`).

    No permission check: the caller decides who may read it (see ``history.service``).
    Unknown member → 404; a limit outside 1-500 or a cursor that does not parse → 422.
    """
    check_page(limit)
    cursor = decode_cursor(before) if before is not None else None
    rows = session.execute(_MEMBER, {"member_id": member_id}).all()
    if not rows:
        raise NotFound(f"no member with id {member_id}")
    customer_id, invoice_count, total, outstanding = rows[0][:4]
    mandates = [
        _Mandate(
            status,
            sign_date,
            expiry_date,
            {
                "id": mandate_id,
                "mandate_reference": reference,
                "status": status,
                "sign_date": sign_date,
                "expiry_date": expiry_date,
                "iban": mask_text(iban),
            },
        )
        for *_, mandate_id, reference, status, sign_date, expiry_date, iban in rows
        if mandate_id is not None
    ]
    active = [m.ref for m in mandates if m.status == MandateStatus.ACTIVE]
    invoices: list[Document] = []
    unallocated: list[Document] = []
    next_cursor = None
    if customer_id is not None:
        invoices, next_cursor = _invoices(session, customer_id, limit, cursor, mandates)
        unallocated = [
            {
                "id": payment_id,
                "number": number,
                "posting_date": posting_date,
                "paid_amount": paid_amount,
                "unallocated_amount": unallocated_amount,
                "mode_of_payment": mode_of_payment,
                "reference_no": reference_no,
            }
            for (
                payment_id,
                number,
                posting_date,
                paid_amount,
                unallocated_amount,
                mode_of_payment,
                reference_no,
            ) in session.execute(_UNALLOCATED, {"customer_id": customer_id}).all()
        ]
    return {
        "member_id": member_id,
        "customer_id": customer_id,
        "invoices": invoices,
        "unallocated_payments": unallocated,
        "active_mandates": active,
        "summary": {
            "invoices": int(invoice_count or 0),
            "total": Decimal(total or ZERO),
            "outstanding": Decimal(outstanding or ZERO),
            "active_mandates": len(active),
        },
        "next_cursor": next_cursor,
    }


def _invoices(
    session: Session,
    customer_id: int,
    limit: int,
    cursor: Cursor | None,
    mandates: Sequence[_Mandate],
) -> tuple[list[Document], str | None]:
    params: dict[str, Any] = {"customer_id": customer_id, "rows": limit + 1}
    statement = _PAGE
    if cursor is not None:
        statement = _PAGE_BEFORE
        params["day"], params["invoice_id"] = cursor
    invoices: list[Document] = []
    last: Cursor | None = None
    older = False
    for (
        invoice_id,
        number,
        posting_date,
        due_date,
        coverage_start,
        coverage_end,
        grand_total,
        outstanding_amount,
        status,
        is_return,
        allocated_amount,
        payment_id,
        payment_number,
        payment_date,
        mode_of_payment,
        reference_no,
    ) in session.execute(statement, params).all():
        # Rows come grouped by invoice (the page's order, then its payments). Fetched at once:
        # iterating a result fetches row by row, a driver call and a row object each time.
        if last is None or last[1] != invoice_id:
            if len(invoices) == limit:  # the page's extra invoice: an older page exists
                older = True
                break
            covering = _covering(mandates, due_date) if not is_return else None
            invoices.append(
                {
                    "id": invoice_id,
                    "number": number,
                    "posting_date": posting_date,
                    "due_date": due_date,
                    "coverage_start": coverage_start,
                    "coverage_end": coverage_end,
                    "grand_total": grand_total,
                    "outstanding_amount": outstanding_amount,
                    "paid_amount": ZERO,  # the sum of its payments, added below
                    "status": status,
                    "is_return": bool(is_return),
                    "payments": [],
                    "mandate": covering.ref if covering is not None else None,
                }
            )
            last = (posting_date, invoice_id)
        if payment_id is not None:
            invoices[-1]["payments"].append(
                {
                    "payment_id": payment_id,
                    "payment_number": payment_number,
                    "posting_date": payment_date,
                    "allocated_amount": allocated_amount,
                    "mode_of_payment": mode_of_payment,
                    "reference_no": reference_no,
                }
            )
            invoices[-1]["paid_amount"] += allocated_amount
    next_cursor = encode_cursor(*last) if older and last is not None else None
    return invoices, next_cursor


def payment_history(
    session: Session, member_id: int, *, limit: int = DEFAULT_LIMIT, before: str | None = None
) -> PaymentHistory:
    """:func:`history_document` as the validated model (for Python callers and tests)."""
    return PaymentHistory.model_validate(
        history_document(session, member_id, limit=limit, before=before)
    )
