"""Matching money in to open invoices, by confidence; payments for the sure matches.

Each Open credit line (money in) gets its candidates, each with a score:

- 0.95: the remittance names an open invoice's number and the amount is exactly what it owes;
- 0.90: the payer's IBAN is a member's and the amount is exactly what one of that member's
  invoices owes (the oldest such invoice);
- 0.60: the payer's name is a member's name and the amount is exactly what one of that member's
  invoices owes;
- 0.50: the remittance names an open invoice, but the amount differs from what it owes.

At or above the threshold (the runtime setting ``bank_auto_allocate_score``, 0.85) a payment
of the line's amount is created for the invoice's customer, allocated to the invoice and
submitted through billing; the line is Allocated. Below it, or without candidates, the line
waits in Review with its best candidate. An invoice takes one line per run: a second line for it
waits in Review.

Queries do not grow with the lines: the open lines, the invoices their remittances name, the
members with their IBANs, and those members' open invoices, each loaded once per run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.bank.models import BankStatementLine, ReconciliationStatus
from verenigingen.billing.models import DocStatus, Invoice
from verenigingen.billing.numbering import INVOICE_SERIES
from verenigingen.billing.schemas import AllocationIn, PaymentCreate
from verenigingen.billing.service.payments import create_payment, submit_payment
from verenigingen.members.models import Member
from verenigingen.settings import runtime_of

INVOICE_NUMBER_AND_AMOUNT = Decimal("0.95")
MEMBER_IBAN_AND_AMOUNT = Decimal("0.90")
MEMBER_NAME_AND_AMOUNT = Decimal("0.60")
INVOICE_NUMBER_ONLY = Decimal("0.50")
_INVOICE_NUMBER = re.compile(rf"\b{re.escape(INVOICE_SERIES)}-\d{{4}}-\d{{5}}\b", re.IGNORECASE)


@dataclass(frozen=True)
class Candidate:
    invoice: Invoice
    score: Decimal
    reason: str


@dataclass(frozen=True)
class ReconcileResult:
    allocated: int
    review: int


def reconcile_open_lines(
    session: Session, user: User, *, threshold: Decimal | None = None
) -> ReconcileResult:
    """Score every Open credit line; allocate those at or above ``threshold`` (by default the
    runtime setting ``bank_auto_allocate_score``), put the rest in Review. 403 for a role that
    may not write billing."""
    require(user, Permission.BILLING_WRITE)
    if threshold is None:
        threshold = runtime_of(session).bank_auto_allocate_score
    lines = session.scalars(
        select(BankStatementLine)
        .where(
            BankStatementLine.reconciliation_status == ReconciliationStatus.OPEN,
            BankStatementLine.amount > 0,
        )
        .order_by(BankStatementLine.booking_date, BankStatementLine.id)
    ).all()
    if not lines:
        return ReconcileResult(0, 0)
    candidates = _Candidates.load(session, lines)
    taken: set[int] = set()
    allocated = review = 0
    for line in lines:
        best = candidates.best_for(line, exclude=taken)
        line.match_score = best.score if best else None
        line.match_invoice_id = best.invoice.id if best else None
        if best is not None and best.score >= threshold:
            payment = create_payment(
                session,
                user,
                PaymentCreate(
                    customer_id=best.invoice.customer_id,
                    paid_amount=line.amount,
                    posting_date=line.booking_date,
                    reference_no=line.end_to_end_id or line.bank_reference,
                    reference_date=line.booking_date,
                    allocations=[
                        AllocationIn(invoice_id=best.invoice.id, allocated_amount=line.amount)
                    ],
                ),
            )
            submit_payment(session, user, payment.id)
            line.payment_id = payment.id
            line.reconciliation_status = ReconciliationStatus.ALLOCATED
            taken.add(best.invoice.id)
            allocated += 1
        else:
            line.reconciliation_status = ReconciliationStatus.REVIEW
            review += 1
    session.flush()
    return ReconcileResult(allocated, review)


def review_lines(session: Session, user: User) -> Sequence[BankStatementLine]:
    """The lines waiting for the treasurer, oldest first, with their best candidate's id."""
    require(user, Permission.BANK_ACCOUNTS_READ)
    return session.scalars(
        select(BankStatementLine)
        .where(BankStatementLine.reconciliation_status == ReconciliationStatus.REVIEW)
        .order_by(BankStatementLine.booking_date, BankStatementLine.id)
    ).all()


@dataclass
class _Candidates:
    by_number: dict[str, Invoice]
    member_by_iban: dict[str, int]
    members_by_name: dict[str, list[int]]
    open_by_member: dict[int, list[Invoice]]

    @classmethod
    def load(cls, session: Session, lines: Sequence[BankStatementLine]) -> _Candidates:
        numbers = {number.upper() for line in lines for number in _invoice_numbers(line.remittance)}
        named = (
            session.scalars(select(Invoice).where(Invoice.number.in_(numbers))).all()
            if numbers
            else []
        )
        ibans = {line.counterparty_iban for line in lines if line.counterparty_iban}
        names = {_name_key(line.counterparty_name) for line in lines if line.counterparty_name}
        members = (
            session.execute(select(Member.id, Member.iban).where(Member.iban.in_(ibans))).all()
            if ibans
            else []
        )
        last_names = {name.rsplit(" ", 1)[-1] for name in names if name}
        by_name_rows = (
            session.execute(
                select(Member.id, Member.first_name, Member.last_name).where(
                    func.lower(Member.last_name).in_(last_names)
                )
            ).all()
            if last_names
            else []
        )
        members_by_name: dict[str, list[int]] = {}
        for row in by_name_rows:
            key = _name_key(f"{row.first_name} {row.last_name}")
            members_by_name.setdefault(key, []).append(row.id)
        member_ids = {row.id for row in members} | {row.id for row in by_name_rows}
        open_invoices = (
            session.scalars(
                select(Invoice)
                .where(
                    Invoice.member_id.in_(member_ids),
                    Invoice.docstatus == DocStatus.SUBMITTED,
                    Invoice.is_return.is_(False),
                    Invoice.outstanding_amount > 0,
                )
                .order_by(Invoice.due_date, Invoice.id)
            ).all()
            if member_ids
            else []
        )
        open_by_member: dict[int, list[Invoice]] = {}
        for invoice in open_invoices:
            assert invoice.member_id is not None  # selected by member
            open_by_member.setdefault(invoice.member_id, []).append(invoice)
        return cls(
            by_number={invoice.number.upper(): invoice for invoice in named},
            member_by_iban={row.iban: row.id for row in members if row.iban},
            members_by_name=members_by_name,
            open_by_member=open_by_member,
        )

    def best_for(self, line: BankStatementLine, *, exclude: set[int]) -> Candidate | None:
        found = [c for c in self._candidates(line) if c.invoice.id not in exclude]
        return max(found, key=lambda c: c.score, default=None)

    def _candidates(self, line: BankStatementLine) -> list[Candidate]:
        found = []
        for number in _invoice_numbers(line.remittance):
            invoice = self.by_number.get(number.upper())
            if invoice is None or not _is_open(invoice):
                continue
            exact = invoice.outstanding_amount == line.amount
            score = INVOICE_NUMBER_AND_AMOUNT if exact else INVOICE_NUMBER_ONLY
            found.append(Candidate(invoice, score, f"invoice {invoice.number} in the remittance"))
        member_id = self.member_by_iban.get(line.counterparty_iban or "")
        if member_id is not None:
            found += self._owed_exactly(member_id, line.amount, MEMBER_IBAN_AND_AMOUNT, "IBAN")
        for member_id in self.members_by_name.get(_name_key(line.counterparty_name), []):
            found += self._owed_exactly(member_id, line.amount, MEMBER_NAME_AND_AMOUNT, "name")
        return found

    def _owed_exactly(
        self, member_id: int, amount: Decimal, score: Decimal, by: str
    ) -> list[Candidate]:
        for invoice in self.open_by_member.get(member_id, []):
            if invoice.outstanding_amount == amount:
                return [Candidate(invoice, score, f"the member's {by} and the amount")]
        return []


def _invoice_numbers(remittance: str | None) -> list[str]:
    return _INVOICE_NUMBER.findall(remittance or "")


def _is_open(invoice: Invoice) -> bool:
    return (
        invoice.docstatus == DocStatus.SUBMITTED
        and not invoice.is_return
        and invoice.outstanding_amount > 0
    )


def _name_key(name: str | None) -> str:
    return " ".join((name or "").lower().split())
