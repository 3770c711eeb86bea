"""The member payment history read model: three statements whatever the size of the ledger.

1. the member with its mandates, and the summary of its customer's invoices (scalar subqueries);
2. one page of the customer's submitted invoices, newest first, outer-joined with their
   allocations and the submitted payments behind them;
3. the customer's submitted payments with something left unallocated.

The original built the same page per invoice (about 67 statements per member). Paging is by an
opaque keyset cursor over (posting date, id), so a page costs the same wherever it starts.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from verenigingen.billing.models import DocStatus, Invoice, Payment, PaymentAllocation
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.history.schemas import (
    AllocatedPayment,
    HistoryInvoice,
    HistorySummary,
    MandateRef,
    PaymentHistory,
    UnallocatedPayment,
)
from verenigingen.jobs.masking import mask_text
from verenigingen.members.models import Member
from verenigingen.money import ZERO
from verenigingen.sepa.models import MandateStatus, SepaMandate

MAX_LIMIT = 500
DEFAULT_LIMIT = 50

Cursor = tuple[dt.date, int]


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


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")


def _mandate_ref(mandate: SepaMandate) -> MandateRef:
    return MandateRef(
        id=mandate.id,
        mandate_reference=mandate.mandate_reference,
        status=mandate.status,
        sign_date=mandate.sign_date,
        expiry_date=mandate.expiry_date,
        iban=mask_text(mandate.iban),
    )


def _covering(mandates: Sequence[SepaMandate], due_date: dt.date) -> SepaMandate | None:
    """The newest signed mandate valid on ``due_date`` (a draft never covered anything)."""
    for mandate in mandates:  # newest signature first
        if mandate.status == MandateStatus.DRAFT or mandate.sign_date > due_date:
            continue
        if mandate.expiry_date is None or mandate.expiry_date >= due_date:
            return mandate
    return None


def _member_statement(member_id: int) -> Any:
    def invoice_aggregate(column: Any) -> Any:
        return (
            select(column)
            .where(
                Invoice.customer_id == Member.customer_id,
                Invoice.docstatus == DocStatus.SUBMITTED,
                Invoice.is_return.is_(False),
            )
            .correlate(Member)
            .scalar_subquery()
        )

    return (
        select(
            Member.id,
            Member.customer_id,
            invoice_aggregate(func.count(Invoice.id)).label("invoices"),
            invoice_aggregate(func.sum(Invoice.grand_total)).label("total"),
            invoice_aggregate(func.sum(Invoice.outstanding_amount)).label("outstanding"),
            SepaMandate,
        )
        .outerjoin(SepaMandate, SepaMandate.member_id == Member.id)
        .where(Member.id == member_id)
        .order_by(SepaMandate.sign_date.desc(), SepaMandate.id.desc())
    )


def _page_statement(customer_id: int, limit: int, before: Cursor | None) -> Any:
    conditions = [Invoice.customer_id == customer_id, Invoice.docstatus == DocStatus.SUBMITTED]
    if before is not None:
        day, invoice_id = before
        conditions.append(
            or_(
                Invoice.posting_date < day,
                and_(Invoice.posting_date == day, Invoice.id < invoice_id),
            )
        )
    page = (
        select(Invoice)
        .where(*conditions)
        .order_by(Invoice.posting_date.desc(), Invoice.id.desc())
        .limit(limit + 1)  # one more tells whether an older page exists
        .subquery()
    )
    return (
        select(
            page,
            PaymentAllocation.allocated_amount,
            Payment.id.label("payment_id"),
            Payment.number.label("payment_number"),
            Payment.posting_date.label("payment_date"),
            Payment.mode_of_payment,
            Payment.reference_no,
        )
        .select_from(page)
        .outerjoin(PaymentAllocation, PaymentAllocation.invoice_id == page.c.id)
        .outerjoin(
            Payment,
            and_(
                Payment.id == PaymentAllocation.payment_id,
                Payment.docstatus == DocStatus.SUBMITTED,
            ),
        )
        .order_by(page.c.posting_date.desc(), page.c.id.desc(), Payment.posting_date, Payment.id)
    )


def payment_history(
    session: Session, member_id: int, *, limit: int = DEFAULT_LIMIT, before: str | None = None
) -> PaymentHistory:
    """A member's payment history (DOMAIN.md's shape), one page of invoices, newest first.

    No permission check: the caller decides who may read it (see ``history.service``).
    Unknown member → 404; a limit outside 1-500 or a cursor that does not parse → 422.
    """
    check_limit(limit)
    cursor = decode_cursor(before) if before is not None else None
    rows = session.execute(_member_statement(member_id)).all()
    if not rows:
        raise NotFound(f"no member with id {member_id}")
    first = rows[0]
    customer_id: int | None = first.customer_id
    mandates = [row.SepaMandate for row in rows if row.SepaMandate is not None]
    active = [m for m in mandates if m.status == MandateStatus.ACTIVE]
    summary = HistorySummary(
        invoices=int(first.invoices or 0),
        total=Decimal(first.total or ZERO),
        outstanding=Decimal(first.outstanding or ZERO),
        active_mandates=len(active),
    )
    if customer_id is None:
        return PaymentHistory(
            member_id=member_id,
            customer_id=None,
            invoices=[],
            unallocated_payments=[],
            active_mandates=[_mandate_ref(m) for m in active],
            summary=summary,
            next_cursor=None,
        )
    invoices, next_cursor = _invoices(session, customer_id, limit, cursor, mandates)
    unallocated = session.scalars(
        select(Payment)
        .where(
            Payment.customer_id == customer_id,
            Payment.docstatus == DocStatus.SUBMITTED,
            Payment.unallocated_amount > 0,
        )
        .order_by(Payment.posting_date.desc(), Payment.id.desc())
    ).all()
    return PaymentHistory(
        member_id=member_id,
        customer_id=customer_id,
        invoices=invoices,
        unallocated_payments=[
            UnallocatedPayment(
                id=p.id,
                number=p.number,
                posting_date=p.posting_date,
                paid_amount=p.paid_amount,
                unallocated_amount=p.unallocated_amount,
                mode_of_payment=p.mode_of_payment,
                reference_no=p.reference_no,
            )
            for p in unallocated
        ],
        active_mandates=[_mandate_ref(m) for m in active],
        summary=summary,
        next_cursor=next_cursor,
    )


def _invoices(
    session: Session,
    customer_id: int,
    limit: int,
    cursor: Cursor | None,
    mandates: Sequence[SepaMandate],
) -> tuple[list[HistoryInvoice], str | None]:
    rows = session.execute(_page_statement(customer_id, limit, cursor)).all()
    order: list[int] = []
    heads: dict[int, Any] = {}
    payments: dict[int, list[AllocatedPayment]] = defaultdict(list)
    for row in rows:
        if row.id not in heads:
            heads[row.id] = row
            order.append(row.id)
        if row.payment_id is not None:
            payments[row.id].append(
                AllocatedPayment(
                    payment_id=row.payment_id,
                    payment_number=row.payment_number,
                    posting_date=row.payment_date,
                    allocated_amount=row.allocated_amount,
                    mode_of_payment=row.mode_of_payment,
                    reference_no=row.reference_no,
                )
            )
    next_cursor = None
    if len(order) > limit:
        order = order[:limit]
        last = heads[order[-1]]
        next_cursor = encode_cursor(last.posting_date, last.id)
    refs = {m.id: _mandate_ref(m) for m in mandates}
    invoices = []
    for invoice_id in order:
        head = heads[invoice_id]
        covering = _covering(mandates, head.due_date) if not head.is_return else None
        allocated = payments.get(invoice_id, [])
        invoices.append(
            HistoryInvoice(
                id=head.id,
                number=head.number,
                posting_date=head.posting_date,
                due_date=head.due_date,
                coverage_start=head.coverage_start,
                coverage_end=head.coverage_end,
                grand_total=head.grand_total,
                outstanding_amount=head.outstanding_amount,
                paid_amount=sum((p.allocated_amount for p in allocated), ZERO),
                status=head.status,
                is_return=head.is_return,
                payments=allocated,
                mandate=refs[covering.id] if covering is not None else None,
            )
        )
    return invoices, next_cursor
