"""The member payment history read model: one statement whatever the size of the ledger.

Its rows come in three parts (``UNION ALL``, told apart by a ``kind`` column, each part in its
own order):

1. the member with its mandates, and the summary of its customer's invoices (scalar subqueries);
2. one page of the customer's submitted invoices, newest first, outer-joined with their
   allocations and the submitted payments behind them;
3. the customer's submitted payments with something left unallocated.

One statement, not three: a statement is a round trip and an execution, which on PostgreSQL
cost more than the rows themselves (docs/benchmarks.md, "Member payment history").

The original built the same page per invoice (about 67 statements per member). Paging is by an
opaque keyset cursor over (posting date, id), so a page costs the same wherever it starts.

The history is built straight from the rows as a document of plain values (dicts, lists,
``Decimal``, dates, in the field order of :class:`PaymentHistory`), which pydantic's own JSON
writer turns into the same text as the model would give: the API sends that text and the cache
stores it. Validating a pydantic object per invoice and payment, and Python's ``json``, cost
more than the statement; :func:`payment_history` validates the document once, for Python
callers, and a test holds its JSON equal to the model's.

The statement is built once, here (and once more with the cursor's condition), with bound
parameters: SQLAlchemy then finds its compiled form by a memoised cache key instead of
constructing and hashing a new statement (with a subquery's column collection) per read. It
selects columns, not entities: no identity map, no ORM loading; ``session.execute`` still
autoflushes and lets ``perf.capture`` count the rows.
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
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Dialect,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import UserDefinedType

from verenigingen.billing.models import DocStatus, Invoice, Payment, PaymentAllocation
from verenigingen.cache.tags import tag_version
from verenigingen.db.paging import check_page
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.history.schemas import PaymentHistory
from verenigingen.jobs.masking import mask_text
from verenigingen.members.models import Member
from verenigingen.money import ZERO
from verenigingen.sepa.models import MandateStatus, SepaMandate

DEFAULT_LIMIT = 50

Cursor = tuple[dt.date, int]
Day = Any
"""A day as the driver gives it (see ``_SLOTS``): a ``dt.date``, or on SQLite its ISO text.
Days of one statement are all one or all the other, which compare alike."""
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


_member = Member.__table__
_mandate = SepaMandate.__table__
_invoice = Invoice.__table__
_allocation = PaymentAllocation.__table__
_payment = Payment.__table__


class _Amount(UserDefinedType[Any]):
    """An amount as the driver gives it, unconverted: the ``Decimal`` of PostgreSQL and
    MariaDB; on SQLite, which keeps a NUMERIC as an integer or a float, that number. The history
    writes either with two decimals (``_MoneyText``), the text ``Numeric``'s ``Decimal`` would give,
    without building one only to write it back out."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "NUMERIC(12, 2)"

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class _MoneyText(dict[Any, str]):
    """Amounts with two decimals, each distinct amount written once per history: amounts repeat
    (a dues amount, 0.00), and writing a number costs as much as several lookups. Equal amounts
    have equal text (NUMERIC keeps no negative zero on these engines)."""

    def __missing__(self, amount: Decimal | float) -> str:
        text = self[amount] = f"{amount:.2f}"
        return text


# The three parts of a history come as the rows of one statement, told apart by ``kind``, in
# slots of one type each (the first part's types are the statement's). Days come as the driver
# gives them: ``dt.date`` from PostgreSQL and MariaDB, the ISO text SQLite stores; both compare
# in date order and are written the same. Amounts: see ``_Amount``.
MEMBER, PAGE, UNALLOCATED = 0, 1, 2
_DAY, _MONEY = String(), _Amount()
_SLOTS: tuple[tuple[str, Any], ...] = (
    ("kind", Integer()),
    ("id", BigInteger()),  # the mandate, the invoice, the payment
    ("other_id", BigInteger()),  # the member's customer, the allocated payment
    ("number", Integer()),  # how many invoices, whether a credit note
    ("text1", String()),  # mandate reference, invoice number, payment number
    ("text2", String()),  # mandate status, invoice status, mode of payment
    ("text3", String()),  # IBAN, the allocated payment's number, reference
    ("text4", String()),  # -, the allocated payment's mode of payment, -
    ("text5", String()),  # -, the allocated payment's reference, -
    ("day1", _DAY),  # signed, posted, posted
    ("day2", _DAY),  # expires, due, -
    ("day3", _DAY),  # -, coverage start, -
    ("day4", _DAY),  # -, coverage end, -
    ("day5", _DAY),  # -, the allocated payment's posting date, -
    ("money1", _MONEY),  # total invoiced, grand total, paid amount
    ("money2", _MONEY),  # outstanding, outstanding, unallocated
    ("money3", _MONEY),  # -, allocated amount, -
    ("owner_id", BigInteger()),  # the member's user (who may read it)
    ("member_version", Integer()),  # the versions of the history's cache tags (history.service)
    ("customer_version", Integer()),
)


def tag_text(prefix: str, key: ColumnElement[int]) -> ColumnElement[str]:
    """The text of a cache tag, as ``history.service`` names them: "customer:17"."""
    return literal(prefix, String) + cast(key, String)


def _part(kind: int, values: dict[str, Any]) -> list[Any]:
    """A part's columns in slot order, each of its slot's type: its values, NULLs elsewhere."""
    columns: list[Any] = [literal(kind, Integer()).label("kind")]
    for name, type_ in _SLOTS[1:]:
        value = values.get(name)
        columns.append(type_coerce(null() if value is None else value, type_).label(name))
    return columns


_customer_id = (
    select(_member.c.customer_id).where(_member.c.id == bindparam("member_id")).scalar_subquery()
)


def _history_statement(*, after_cursor: bool) -> CompoundSelect[Any]:
    # The summary over all the customer's submitted invoices: one row (none without invoices),
    # computed once, not per mandate row.
    summary = (
        select(
            _invoice.c.customer_id,
            func.count(_invoice.c.id).label("invoices"),
            func.sum(_invoice.c.grand_total).label("total"),
            func.sum(_invoice.c.outstanding_amount).label("outstanding"),
        )
        .where(
            _invoice.c.customer_id == _customer_id,
            _invoice.c.docstatus == DocStatus.SUBMITTED,
            _invoice.c.is_return.is_(False),
        )
        .group_by(_invoice.c.customer_id)
        .subquery("summary")
    )
    member = (
        select(
            *_part(
                MEMBER,
                {
                    "id": _mandate.c.id,
                    "other_id": _member.c.customer_id,
                    "number": summary.c.invoices,
                    "text1": _mandate.c.mandate_reference,
                    "text2": _mandate.c.status,
                    "text3": _mandate.c.iban,
                    "day1": _mandate.c.sign_date,
                    "day2": _mandate.c.expiry_date,
                    "money1": summary.c.total,
                    "money2": summary.c.outstanding,
                    "owner_id": _member.c.user_id,
                    "member_version": tag_version(tag_text("member:", _member.c.id)),
                    "customer_version": tag_version(tag_text("customer:", _member.c.customer_id)),
                },
            )
        )
        .select_from(
            _member.outerjoin(_mandate, _mandate.c.member_id == _member.c.id).outerjoin(
                summary, summary.c.customer_id == _member.c.customer_id
            )
        )
        .where(_member.c.id == bindparam("member_id"))
    )
    conditions = [
        _invoice.c.customer_id == _customer_id,
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
    invoices = (
        select(
            *_part(
                PAGE,
                {
                    "id": page.c.id,
                    "other_id": _payment.c.id,
                    "number": cast(page.c.is_return, Integer()),
                    "text1": page.c.number,
                    "text2": page.c.status,
                    "text3": _payment.c.number,
                    "text4": _payment.c.mode_of_payment,
                    "text5": _payment.c.reference_no,
                    "day1": page.c.posting_date,
                    "day2": page.c.due_date,
                    "day3": page.c.coverage_start,
                    "day4": page.c.coverage_end,
                    "day5": _payment.c.posting_date,
                    "money1": page.c.grand_total,
                    "money2": page.c.outstanding_amount,
                    "money3": _allocation.c.allocated_amount,
                },
            )
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
    )
    unallocated = select(
        *_part(
            UNALLOCATED,
            {
                "id": _payment.c.id,
                "text1": _payment.c.number,
                "text2": _payment.c.mode_of_payment,
                "text3": _payment.c.reference_no,
                "day1": _payment.c.posting_date,
                "money1": _payment.c.paid_amount,
                "money2": _payment.c.unallocated_amount,
            },
        )
    ).where(
        _payment.c.customer_id == _customer_id,
        _payment.c.docstatus == DocStatus.SUBMITTED,
        _payment.c.unallocated_amount > 0,
    )
    # In no order: sorting the parts' rows together costs SQLite a temporary B-tree of whole
    # rows, more than Python's sort of rows that come nearly in order (``history_read``).
    return union_all(member, invoices, unallocated)


_HISTORY = _history_statement(after_cursor=False)
_HISTORY_BEFORE = _history_statement(after_cursor=True)


@dataclass(frozen=True, slots=True)
class _Mandate:
    status: str
    sign_date: Day
    expiry_date: Day | None
    ref: Document
    """Its MandateRef (the IBAN masked)."""


def _signed(mandates: Sequence[_Mandate]) -> list[tuple[Day, Day | None, Document]]:
    """The mandates that can cover an invoice (a draft never covered anything), newest
    signature first, as (signed, expires, MandateRef): the invoice's mandate is the first
    valid on its due date."""
    return [
        (m.sign_date, m.expiry_date, m.ref) for m in mandates if m.status != MandateStatus.DRAFT
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
    statement = _HISTORY
    if cursor is not None:
        statement = _HISTORY_BEFORE
        params["day"], params["invoice_id"] = cursor
    # Fetched at once: iterating a result fetches row by row, a driver call and a row each.
    rows = session.execute(statement, params).all()
    parts: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
    for row in rows:
        parts[row[0]].append(row)
    member_rows, page_rows, unallocated_rows = parts
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
    active = [m.ref for m in mandates if m.status == MandateStatus.ACTIVE]
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


_newest = itemgetter(9, 1)
"""A part's order, newest first (with ``reverse``): its first day, then its id."""
_oldest = itemgetter("posting_date", "payment_id")
"""An invoice's payments, oldest first."""


def _mandates(member_rows: list[Any]) -> list[_Mandate]:
    """The member's mandates, newest signature first (none: one row without a mandate)."""
    rows = [row for row in member_rows if row[1] is not None]
    rows.sort(key=_newest, reverse=True)
    return [
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
    rows: list[Any], limit: int, mandates: Sequence[_Mandate], money: _MoneyText
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
