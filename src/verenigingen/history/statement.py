"""The one statement of the member payment history (``history.queries`` reads its rows).

Its rows come in three parts (``UNION ALL``, told apart by a ``kind`` column, in no order:
sorting the parts' rows together costs SQLite a temporary B-tree of whole rows, more than
Python's sort of rows that come nearly in order):

1. the member with its mandates, and the summary of its customer's invoices (one aggregate);
2. one page of the customer's submitted invoices (the newest, by a limit), outer-joined with
   their allocations and the submitted payments behind them;
3. the customer's submitted payments with something left unallocated.

One statement, not three: a statement is a round trip and an execution, which on PostgreSQL
cost more than the rows themselves (docs/benchmarks.md, "Member payment history").

It is built once, here (and once more with the cursor's condition), with bound parameters:
SQLAlchemy then finds its compiled form by a memoised cache key instead of constructing and
hashing a new statement (with a subquery's column collection) per read.
"""

from __future__ import annotations

from typing import Any

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
from sqlalchemy.types import UserDefinedType

from verenigingen.billing.models import DocStatus, Invoice, Payment, PaymentAllocation
from verenigingen.cache.tags import tag_version
from verenigingen.members.models import Member
from verenigingen.sepa.models import SepaMandate

_member = Member.__table__
_mandate = SepaMandate.__table__
_invoice = Invoice.__table__
_allocation = PaymentAllocation.__table__
_payment = Payment.__table__


class _Amount(UserDefinedType[Any]):
    """An amount as the driver gives it, unconverted: the ``Decimal`` of PostgreSQL and
    MariaDB; on SQLite, which keeps a NUMERIC as an integer or a float, that number. The history
    writes either with two decimals (``queries._MoneyText``), the text ``Numeric``'s ``Decimal``
    would give, without building one only to write it back out."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "NUMERIC(12, 2)"

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


# The three parts of a history come as the rows of one statement, told apart by ``kind`` (each
# kind is also its part's position in ``history_read``), in slots of one type each (the first
# part's types are the statement's). Days come as the driver gives them: ``dt.date`` from
# PostgreSQL and MariaDB, the ISO text SQLite stores; both compare in date order and are
# written the same. Amounts: see ``_Amount``.
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
SLOT = {name: index for index, (name, _) in enumerate(_SLOTS)}
"""Each slot's position in a row (a row unpacks in this order)."""


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


def history_statement(*, after_cursor: bool) -> CompoundSelect[Any]:
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
    return union_all(member, invoices, unallocated)  # in no order (see above)


HISTORY = history_statement(after_cursor=False)
HISTORY_BEFORE = history_statement(after_cursor=True)
