"""What a credit line may pay, with a confidence: the candidates of reconciliation and review.

- 1.00: the line books one of the association's own direct debits: a whole submitted batch or
  one of its blocks (its payment information id or the batch's message id, the amount its
  pending entries collect), or one collection (its end-to-end id and amount):
  ``bank/sepa_matching.py``;
- 0.95: the remittance names an open invoice's number and the amount is exactly what it owes;
- 0.90: the payer's IBAN is a member's and the amount is exactly what one of that member's
  invoices owes (the oldest such invoice);
- 0.60: the payer's name is a member's name and the amount is exactly what one of that member's
  invoices owes;
- 0.50: the remittance names an open invoice, or the reference a batch or collection, but the
  amount differs from what it owes.

Everything the lines may name is loaded up front in a few queries, in chunks of
:data:`CHUNK` keys: the invoices the remittances name, the members with the payers' IBANs or
names and those members' open invoices, the collections and batches the references name. Scoring
a line then asks the database nothing, so a run's statements do not grow with its lines beyond
the chunking.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.bank.models import BankStatementLine
from verenigingen.bank.sepa_matching import BookedBatch, Collection, SepaReferences
from verenigingen.billing.models import DocStatus, Invoice
from verenigingen.billing.numbering import INVOICE_SERIES
from verenigingen.members.models import Member

SEPA_REFERENCE_AND_AMOUNT = Decimal("1.00")
INVOICE_NUMBER_AND_AMOUNT = Decimal("0.95")
MEMBER_IBAN_AND_AMOUNT = Decimal("0.90")
MEMBER_NAME_AND_AMOUNT = Decimal("0.60")
REFERENCE_ONLY = Decimal("0.50")
INVOICE_NUMBER_ONLY = REFERENCE_ONLY
CHUNK = 500
_INVOICE_NUMBER = re.compile(rf"\b{re.escape(INVOICE_SERIES)}-\d{{4}}-\d{{5}}\b", re.IGNORECASE)
K = TypeVar("K", str, int)
Claim = tuple[str, object]


@dataclass(frozen=True)
class Candidate:
    """One thing a line may pay: an invoice, a collection of a batch, or a batch (or block)."""

    score: Decimal
    reason: str
    invoice: Invoice | None = None
    """The invoice it pays; for a collection, the invoice collected."""
    collection: Collection | None = None
    batch: BookedBatch | None = None

    @property
    def invoice_id(self) -> int | None:
        return self.invoice.id if self.invoice is not None else None

    def claims(self) -> set[Claim]:
        """What paying this candidate takes, so that no other line of a run pays it again: its
        invoice; a whole batch; a block of a batch (which leaves the batch's other blocks)."""
        if self.batch is None:
            return {("invoice", self.invoice_id)}
        batch_id = self.batch.batch.id
        if self.batch.sequence_type is None:
            return {("batch", batch_id)}
        return {("block", (batch_id, self.batch.sequence_type)), ("part of batch", batch_id)}

    def is_taken(self, taken: set[Claim]) -> bool:
        if self.batch is None:
            return ("invoice", self.invoice_id) in taken
        batch_id = self.batch.batch.id
        if ("batch", batch_id) in taken:
            return True
        if self.batch.sequence_type is None:
            return ("part of batch", batch_id) in taken
        return ("block", (batch_id, self.batch.sequence_type)) in taken


@dataclass
class Candidates:
    by_number: dict[str, Invoice]
    member_by_iban: dict[str, int]
    members_by_name: dict[str, list[int]]
    open_by_member: dict[int, list[Invoice]]
    sepa: SepaReferences

    @classmethod
    def load(cls, session: Session, lines: Sequence[BankStatementLine]) -> Candidates:
        numbers = {number.upper() for line in lines for number in _invoice_numbers(line.remittance)}
        named = _all_scalars(
            session, numbers, lambda chunk: select(Invoice).where(Invoice.number.in_(chunk))
        )
        ibans = {line.counterparty_iban for line in lines if line.counterparty_iban}
        members = _all_rows(
            session,
            ibans,
            lambda chunk: select(Member.id, Member.iban).where(Member.iban.in_(chunk)),
        )
        names = {_name_key(line.counterparty_name) for line in lines if line.counterparty_name}
        last_names = {name.rsplit(" ", 1)[-1] for name in names if name}
        by_name_rows = _all_rows(
            session,
            last_names,
            lambda chunk: select(Member.id, Member.first_name, Member.last_name).where(
                func.lower(Member.last_name).in_(chunk)
            ),
        )
        members_by_name: dict[str, list[int]] = {}
        for row in by_name_rows:
            key = _name_key(f"{row.first_name} {row.last_name}")
            members_by_name.setdefault(key, []).append(row.id)
        member_ids = {row.id for row in members} | {row.id for row in by_name_rows}
        open_invoices = _all_scalars(
            session,
            member_ids,
            lambda chunk: (
                select(Invoice)
                .where(
                    Invoice.member_id.in_(chunk),
                    Invoice.docstatus == DocStatus.SUBMITTED,
                    Invoice.is_return.is_(False),
                    Invoice.outstanding_amount > 0,
                )
                .order_by(Invoice.due_date, Invoice.id)
            ),
        )
        open_by_member: dict[int, list[Invoice]] = {}
        for invoice in sorted(open_invoices, key=lambda i: (i.due_date, i.id)):
            assert invoice.member_id is not None  # selected by member
            open_by_member.setdefault(invoice.member_id, []).append(invoice)
        return cls(
            by_number={invoice.number.upper(): invoice for invoice in named},
            member_by_iban={row.iban: row.id for row in members if row.iban},
            members_by_name=members_by_name,
            open_by_member=open_by_member,
            sepa=SepaReferences.load(
                session,
                {line.end_to_end_id for line in lines if line.end_to_end_id},
                {line.payment_information_id for line in lines if line.payment_information_id}
                | {line.batch_message_id for line in lines if line.batch_message_id},
            ),
        )

    def best_for(self, line: BankStatementLine, taken: set[Claim]) -> Candidate | None:
        """The highest-scoring candidate that no earlier line of the run took."""
        return next(iter(self.ranked(line, taken)), None)

    def ranked(self, line: BankStatementLine, taken: set[Claim] | None = None) -> list[Candidate]:
        """The line's candidates, best first, one per invoice or batch (its best reason)."""
        found = [c for c in self._candidates(line) if not c.is_taken(taken or set())]
        found.sort(key=lambda c: c.score, reverse=True)
        seen: set[Claim] = set()
        unique = []
        for candidate in found:
            if not candidate.claims() & seen:
                seen |= candidate.claims()
                unique.append(candidate)
        return unique

    def _candidates(self, line: BankStatementLine) -> list[Candidate]:
        found = self._sepa_candidates(line)
        for number in _invoice_numbers(line.remittance):
            invoice = self.by_number.get(number.upper())
            if invoice is None or not is_open(invoice):
                continue
            exact = invoice.outstanding_amount == line.amount
            score = INVOICE_NUMBER_AND_AMOUNT if exact else INVOICE_NUMBER_ONLY
            found.append(Candidate(score, f"invoice {invoice.number} in the remittance", invoice))
        member_id = self.member_by_iban.get(line.counterparty_iban or "")
        if member_id is not None:
            found += self._owed_exactly(member_id, line.amount, MEMBER_IBAN_AND_AMOUNT, "IBAN")
        for member_id in self.members_by_name.get(_name_key(line.counterparty_name), []):
            found += self._owed_exactly(member_id, line.amount, MEMBER_NAME_AND_AMOUNT, "name")
        return found

    def _sepa_candidates(self, line: BankStatementLine) -> list[Candidate]:
        """The collection the line's end-to-end id names; else the batch or block its payment
        information id names, or the batch its message id names (a line of one collection may
        name its block too: it is that collection, not the block)."""
        collection = self.sepa.collections.get(line.end_to_end_id or "")
        if collection is not None:
            exact = collection.entry.amount == line.amount
            score = SEPA_REFERENCE_AND_AMOUNT if exact else REFERENCE_ONLY
            reason = f"direct debit {line.end_to_end_id} of batch {collection.message_id}"
            return [Candidate(score, reason, collection.invoice, collection=collection)]
        booked = self.sepa.batch_of(line)
        if booked is None:
            return []
        exact = booked.pending_total == line.amount
        score = SEPA_REFERENCE_AND_AMOUNT if exact else REFERENCE_ONLY
        what = "batch" if booked.sequence_type is None else f"{booked.sequence_type} block"
        reason = f"direct-debit {what} {booked.reference} ({booked.pending_total} still to collect)"
        return [Candidate(score, reason, batch=booked)]

    def _owed_exactly(
        self, member_id: int, amount: Decimal, score: Decimal, by: str
    ) -> list[Candidate]:
        for invoice in self.open_by_member.get(member_id, []):
            if invoice.outstanding_amount == amount:
                return [Candidate(score, f"the member's {by} and the amount", invoice)]
        return []


def is_open(invoice: Invoice) -> bool:
    """A submitted invoice (not a credit note) that still owes something."""
    return (
        invoice.docstatus == DocStatus.SUBMITTED
        and not invoice.is_return
        and invoice.outstanding_amount > 0
    )


def _chunks(keys: Iterable[K]) -> Iterator[list[K]]:
    """``keys`` sorted, :data:`CHUNK` at a time: an IN list far below every engine's limit."""
    ordered = sorted(keys)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def _all_scalars(session: Session, keys: Iterable[K], query: Callable[[list[K]], Any]) -> list[Any]:
    return [row for chunk in _chunks(keys) for row in session.scalars(query(chunk)).all()]


def _all_rows(session: Session, keys: Iterable[K], query: Callable[[list[K]], Any]) -> list[Any]:
    return [row for chunk in _chunks(keys) for row in session.execute(query(chunk)).all()]


def _invoice_numbers(remittance: str | None) -> list[str]:
    return _INVOICE_NUMBER.findall(remittance or "")


def _name_key(name: str | None) -> str:
    return " ".join((name or "").lower().split())
