"""The three statements of the member payment history, each with its own row shape.

1. :data:`MEMBER`: the member (its customer and user, the versions of its history's cache tags)
   with its mandates, newest signature first, and the summary of its customer's invoices;
2. :data:`PAGE` (:data:`PAGE_BEFORE` after a cursor): one page of the customer's submitted
   invoices, newest first, each outer-joined with its allocations and the submitted payments
   behind them, oldest first;
3. :data:`UNALLOCATED`: the customer's submitted payments with money left unallocated, newest
   first.

Each statement's columns are named by the fields of its row shape (a ``NamedTuple``) and built
in their order, so a row becomes its shape without anyone counting positions
(:meth:`NamedStatement.rows`). The columns keep their table's types: amounts are ``Numeric``
and arrive as ``Decimal`` on every engine (SQLite, which stores a NUMERIC as an integer or a
float, gets it through SQLAlchemy's two-decimal conversion), days as ``dt.date``, flags as
``bool``.

The statements are built once, with bound parameters: SQLAlchemy then finds their compiled
form by a memoised cache key instead of building and hashing a new statement per read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from verenigingen.billing.models import DocStatus, Invoice, Payment, PaymentAllocation
from verenigingen.cache.tags import tag_version
from verenigingen.members.models import Member
from verenigingen.sepa.models import SepaMandate

_member = Member.__table__
_mandate = SepaMandate.__table__
_invoice = Invoice.__table__
_allocation = PaymentAllocation.__table__
_payment = Payment.__table__

Row = TypeVar("Row", bound=NamedTuple)


class MemberRow(NamedTuple):
    """The member with one of its mandates; a member without mandates has one row, its mandate
    fields None. The member's fields repeat on each of its rows."""

    customer_id: int | None
    user_id: int | None
    """The member's portal user: a Member role may read only its own history."""
    member_version: int
    """The current version of the cache tag ``member:<id>`` (0 if never bumped)."""
    customer_version: int
    """The current version of ``customer:<customer id>``."""
    invoice_count: int | None
    """The summary, over all the customer's submitted invoices (credit notes left out);
    None when it has none."""
    total_invoiced: Decimal | None
    outstanding: Decimal | None
    mandate_id: int | None
    mandate_reference: str | None
    mandate_status: str | None
    iban: str | None
    sign_date: dt.date | None
    expiry_date: dt.date | None


class InvoicePaymentRow(NamedTuple):
    """An invoice of the page with one submitted payment allocated to it; an invoice without
    one has one row, its payment fields None."""

    invoice_id: int
    number: str
    posting_date: dt.date
    due_date: dt.date
    coverage_start: dt.date | None
    coverage_end: dt.date | None
    grand_total: Decimal
    outstanding_amount: Decimal
    status: str
    is_return: bool
    payment_id: int | None
    payment_number: str | None
    payment_date: dt.date | None
    allocated_amount: Decimal | None
    mode_of_payment: str | None
    reference_no: str | None


class UnallocatedRow(NamedTuple):
    """A submitted payment with money left that no invoice took."""

    payment_id: int
    number: str
    posting_date: dt.date
    paid_amount: Decimal
    unallocated_amount: Decimal
    mode_of_payment: str
    reference_no: str | None


@dataclass(frozen=True, slots=True)
class NamedStatement(Generic[Row]):
    """A statement whose rows are read as ``shape``: it selects the shape's fields, by name
    and in their order (checked when it is built, at import)."""

    shape: type[Row]
    statement: Select[Any]

    def __post_init__(self) -> None:
        columns = tuple(self.statement.selected_columns.keys())
        if columns != self.shape._fields:
            raise TypeError(
                f"{self.shape.__name__}: the statement selects {columns}, not {self.shape._fields}"
            )

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[Row]:
        # Fetched at once: iterating a result fetches row by row, a driver call each.
        make = self.shape._make
        return [make(row) for row in session.execute(self.statement, params).all()]


def tag_text(prefix: str, key: ColumnElement[int]) -> ColumnElement[str]:
    """The text of a cache tag, as ``history.service`` names them: "customer:17"."""
    return literal(prefix, String) + cast(key, String)


def _member_statement() -> NamedStatement[MemberRow]:
    # One aggregate over the customer's invoices, joined once (not computed per mandate row).
    summary = (
        select(
            _invoice.c.customer_id,
            func.count(_invoice.c.id).label("invoice_count"),
            func.sum(_invoice.c.grand_total).label("total_invoiced"),
            func.sum(_invoice.c.outstanding_amount).label("outstanding"),
        )
        .where(
            _invoice.c.customer_id
            == select(_member.c.customer_id)
            .where(_member.c.id == bindparam("member_id"))
            .scalar_subquery(),
            _invoice.c.docstatus == DocStatus.SUBMITTED,
            _invoice.c.is_return.is_(False),
        )
        .group_by(_invoice.c.customer_id)
        .subquery("summary")
    )
    statement = (
        select(
            _member.c.customer_id,
            _member.c.user_id,
            tag_version(tag_text("member:", _member.c.id)).label("member_version"),
            tag_version(tag_text("customer:", _member.c.customer_id)).label("customer_version"),
            summary.c.invoice_count,
            summary.c.total_invoiced,
            summary.c.outstanding,
            _mandate.c.id.label("mandate_id"),
            _mandate.c.mandate_reference,
            _mandate.c.status.label("mandate_status"),
            _mandate.c.iban,
            _mandate.c.sign_date,
            _mandate.c.expiry_date,
        )
        .select_from(
            _member.outerjoin(_mandate, _mandate.c.member_id == _member.c.id).outerjoin(
                summary, summary.c.customer_id == _member.c.customer_id
            )
        )
        .where(_member.c.id == bindparam("member_id"))
        .order_by(_mandate.c.sign_date.desc(), _mandate.c.id.desc())
    )
    return NamedStatement(MemberRow, statement)


def _page_statement(*, after_cursor: bool) -> NamedStatement[InvoicePaymentRow]:
    conditions = [
        _invoice.c.customer_id == bindparam("customer_id"),
        _invoice.c.docstatus == DocStatus.SUBMITTED,
    ]
    if after_cursor:  # older than the cursor's invoice: (posting date, id) below its own
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
    statement = (
        select(
            page.c.id.label("invoice_id"),
            page.c.number,
            page.c.posting_date,
            page.c.due_date,
            page.c.coverage_start,
            page.c.coverage_end,
            page.c.grand_total,
            page.c.outstanding_amount,
            page.c.status,
            page.c.is_return,
            _payment.c.id.label("payment_id"),
            _payment.c.number.label("payment_number"),
            _payment.c.posting_date.label("payment_date"),
            _allocation.c.allocated_amount,
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
            page.c.posting_date.desc(),
            page.c.id.desc(),
            _payment.c.posting_date,
            _payment.c.id,
        )
    )
    return NamedStatement(InvoicePaymentRow, statement)


def _unallocated_statement() -> NamedStatement[UnallocatedRow]:
    statement = (
        select(
            _payment.c.id.label("payment_id"),
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
    return NamedStatement(UnallocatedRow, statement)


MEMBER = _member_statement()
"""Parameter ``member_id``."""
PAGE = _page_statement(after_cursor=False)
"""Parameters ``customer_id`` and ``rows`` (the page's limit + 1)."""
PAGE_BEFORE = _page_statement(after_cursor=True)
""":data:`PAGE` older than a cursor: also ``day`` and ``invoice_id``."""
UNALLOCATED = _unallocated_statement()
"""Parameter ``customer_id``."""
