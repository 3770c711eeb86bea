"""Deliberately naive code: the N+1 patterns the detector must find. Lives only in the tests.

Each function does per item what the product does per batch; test_nplusone.py asserts that the
detector names the line marked ``# N+1 …`` (and the query marked ``# origin …``) and the remedy.
The tests find those lines by their marker comments, so the markers must stay on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, lazyload

from verenigingen.billing.models import DocStatus, Invoice, InvoiceStatus, PaymentAllocation
from verenigingen.members.models import Customer, Member, MembershipType
from verenigingen.sepa.models import MandateStatus, SepaMandate


def payment_entries_per_invoice(
    session: Session, invoice_ids: Sequence[int]
) -> dict[int, list[PaymentAllocation]]:
    """The payment entries (allocations) of each invoice, one SELECT per invoice."""
    invoices = session.scalars(  # origin of the invoices
        select(Invoice).where(Invoice.id.in_(invoice_ids)).order_by(Invoice.id)
    ).all()
    entries: dict[int, list[PaymentAllocation]] = {}
    for invoice in invoices:
        entries[invoice.id] = list(
            session.scalars(  # N+1 payment entries
                select(PaymentAllocation).where(PaymentAllocation.invoice_id == invoice.id)
            )
        )
    return entries


def mandate_per_member(session: Session, member_ids: Sequence[int]) -> dict[int, SepaMandate]:
    """The active SEPA mandate of each member of a collection run, one lookup per member."""
    mandates: dict[int, SepaMandate] = {}
    for member_id in member_ids:
        mandate = session.scalars(  # N+1 mandate
            select(SepaMandate).where(
                SepaMandate.member_id == member_id, SepaMandate.status == MandateStatus.ACTIVE
            )
        ).first()
        if mandate is not None:
            mandates[member_id] = mandate
    return mandates


def financial_history_per_member(
    session: Session, member_ids: Sequence[int]
) -> dict[int, tuple[int, Decimal, Decimal]]:
    """Invoice count, total billed and outstanding per member, one aggregate per member."""
    history: dict[int, tuple[int, Decimal, Decimal]] = {}
    for member_id in member_ids:
        count, billed, outstanding = session.execute(  # N+1 history
            select(
                func.count(Invoice.id),
                func.coalesce(func.sum(Invoice.grand_total), 0),
                func.coalesce(func.sum(Invoice.outstanding_amount), 0),
            ).where(Invoice.member_id == member_id, Invoice.docstatus == DocStatus.SUBMITTED)
        ).one()
        history[member_id] = (count, Decimal(billed), Decimal(outstanding))
    return history


def mark_overdue_per_invoice(session: Session, invoice_ids: Sequence[int]) -> None:
    """Set each invoice's status to Overdue, one UPDATE per invoice."""
    for invoice_id in invoice_ids:
        session.execute(  # N+1 status
            update(Invoice).where(Invoice.id == invoice_id).values(status=InvoiceStatus.OVERDUE)
        )


def line_counts_lazily(session: Session, invoice_ids: Sequence[int]) -> dict[int, int]:
    """Lines per invoice through a relationship made lazy again (the product says raise)."""
    invoices = session.scalars(  # origin of the lazy invoices
        select(Invoice)
        .where(Invoice.id.in_(invoice_ids))
        .options(lazyload(Invoice.lines))
        .order_by(Invoice.id)
    ).all()
    counts: dict[int, int] = {}
    for invoice in invoices:
        counts[invoice.id] = len(invoice.lines)  # N+1 lazy lines
    return counts


def customer_names_lazily(session: Session, member_ids: Sequence[int]) -> list[str]:
    """Each member's debtor name through a many-to-one made lazy again."""
    members = session.scalars(  # origin of the lazy members
        select(Member)
        .where(Member.id.in_(member_ids))
        .options(lazyload(Member.customer))
        .order_by(Member.id)
    ).all()
    names = []
    for member in members:
        customer = member.customer  # N+1 lazy customer
        names.append(customer.name if customer else "")
    return names


def default_type_per_member(session: Session, member_ids: Sequence[int]) -> list[int]:
    """The same default membership type read again for every member."""
    type_ids = []
    for _member_id in member_ids:
        default = session.scalar(  # N+1 identical
            select(MembershipType.id).where(MembershipType.is_default.is_(True))
        )
        type_ids.append(default or 0)
    return type_ids


def customer_per_member_by_id(session: Session, customer_ids: Sequence[int]) -> list[str]:
    """Each customer fetched by primary key, one SELECT per id."""
    names = []
    for customer_id in customer_ids:
        customer = session.get(Customer, customer_id)  # N+1 by id
        names.append(customer.name if customer else "")
    return names
