"""Money in from the association's own direct debits: a statement line that books a collection.

A bank books a submitted direct-debit batch in one of two ways, and both carry references the
association made itself (``sepa/batches.py``, ``sepa/pain008.py``), so a match is certain (1.0):

- one line for the whole batch, or for one of its payment-information blocks (FRST, RCUR): the
  line's payment information id is the batch's message id or a block's payment information id
  (``{message_id}-{sequence type}``), or the line names only the message id of the batch's
  pain.008 (camt ``Btch/MsgId``), and its amount is what the batch's (or block's) pending
  entries collect;
- one line per collection: the line's end-to-end id is an entry's, and its amount the entry's.

A whole batch is processed by the SEPA domain's own service (``sepa.batches.process_batch``).
A block or a single collection is collected here the same way, entry by entry
(:func:`mark_collected`): a payment per entry through billing, the entry and its mandate usage
Collected; once no entry of the batch is pending, ``process_batch`` closes the batch: it finds
nothing left to collect and counts each entry for what it is (Processed, or Partially Processed
when some entry was rejected or returned). The bank never sets a batch's status itself.

The lines name these references in their own columns: a collection by its end-to-end id
(``BankStatementLine.end_to_end_id``), a batch or block by its payment information id
(``BankStatementLine.payment_information_id``), a whole batch by its message id
(``BankStatementLine.batch_message_id``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.bank.models import BankStatementLine
from verenigingen.billing.models import DocStatus, Invoice, ModeOfPayment
from verenigingen.billing.service.bulk_payments import ReceivedPayment
from verenigingen.money import ZERO
from verenigingen.sepa.batches import process_batch
from verenigingen.sepa.models import (
    BatchStatus,
    DirectDebitBatch,
    DirectDebitEntry,
    EntryStatus,
    SepaMandateUsage,
    SequenceType,
    UsageStatus,
)

# References are looked up this many at a time: far below every engine's parameter limit.
REFERENCE_CHUNK = 500


@dataclass(frozen=True)
class Collection:
    """A pending entry of a submitted batch, with the invoice it collects."""

    entry: DirectDebitEntry
    invoice: Invoice
    message_id: str


@dataclass(frozen=True)
class BookedBatch:
    """What a batch-booking line may book: a whole submitted batch or one of its blocks."""

    batch: DirectDebitBatch
    sequence_type: str | None
    """None: the whole batch (named by its message id); else one block (its PmtInfId)."""
    pending_total: Decimal

    @property
    def reference(self) -> str:
        if self.sequence_type is None:
            return self.batch.message_id
        return f"{self.batch.message_id}-{self.sequence_type}"


@dataclass
class SepaReferences:
    """The collections and batches the lines' references name, loaded once per run."""

    collections: dict[str, Collection] = field(default_factory=dict)
    """By end-to-end id."""
    batches: dict[str, BookedBatch] = field(default_factory=dict)
    """By message id and by payment information id."""

    @classmethod
    def load(
        cls,
        session: Session,
        end_to_end_ids: Iterable[str],
        batch_references: Iterable[str],
    ) -> SepaReferences:
        """The pending collections the lines' end-to-end ids name, and the submitted batches
        (or blocks) their payment information ids or batch message ids name."""
        found = cls()
        for chunk in _chunks(end_to_end_ids):
            found._load_collections(session, chunk)
        for chunk in _chunks(batch_references):
            found._load_batches(session, chunk)
        return found

    def batch_of(self, line: BankStatementLine) -> BookedBatch | None:
        """The batch or block the line's payment information id names; else the whole batch
        its message id (camt ``Btch/MsgId``) names. None when neither is a submitted batch's."""
        booked = self.batches.get(line.payment_information_id or "")
        if booked is not None:
            return booked
        whole = self.batches.get(line.batch_message_id or "")
        return whole if whole is not None and whole.sequence_type is None else None

    def _load_collections(self, session: Session, references: Sequence[str]) -> None:
        rows = session.execute(
            select(DirectDebitEntry, Invoice, DirectDebitBatch.message_id)
            .join(Invoice, Invoice.id == DirectDebitEntry.invoice_id)
            .join(DirectDebitBatch, DirectDebitBatch.id == DirectDebitEntry.batch_id)
            .where(
                DirectDebitEntry.end_to_end_id.in_(references),
                DirectDebitEntry.status == EntryStatus.PENDING,
                DirectDebitBatch.status == BatchStatus.SUBMITTED,
            )
        ).all()
        for entry, invoice, message_id in rows:
            self.collections[entry.end_to_end_id] = Collection(entry, invoice, message_id)

    def _load_batches(self, session: Session, references: Sequence[str]) -> None:
        message_ids = set(references) | {_message_id_of(reference) for reference in references}
        batches = session.scalars(
            select(DirectDebitBatch).where(
                DirectDebitBatch.message_id.in_(sorted(message_ids)),
                DirectDebitBatch.status == BatchStatus.SUBMITTED,
            )
        ).all()
        if not batches:
            return
        totals = session.execute(
            select(
                DirectDebitEntry.batch_id,
                DirectDebitEntry.sequence_type,
                func.sum(DirectDebitEntry.amount).label("total"),
            )
            .where(
                DirectDebitEntry.batch_id.in_([batch.id for batch in batches]),
                DirectDebitEntry.status == EntryStatus.PENDING,
            )
            .group_by(DirectDebitEntry.batch_id, DirectDebitEntry.sequence_type)
        ).all()
        for batch in batches:
            blocks = {
                row.sequence_type: Decimal(row.total) for row in totals if row.batch_id == batch.id
            }
            whole = BookedBatch(batch, None, sum(blocks.values(), ZERO))
            self.batches[whole.reference] = whole
            for sequence_type, total in blocks.items():
                block = BookedBatch(batch, sequence_type, total)
                self.batches[block.reference] = block


def _chunks(references: Iterable[str]) -> Iterator[list[str]]:
    wanted = sorted(set(references))
    for start in range(0, len(wanted), REFERENCE_CHUNK):
        yield wanted[start : start + REFERENCE_CHUNK]


def _message_id_of(reference: str) -> str:
    """The message id in a payment information id ``{message_id}-RCUR``; else the reference."""
    head, _, tail = reference.rpartition("-")
    return head if head and tail in set(SequenceType) else reference


WAITING_FOR_COLLECTION = EntryStatus.PENDING
"""A return of an entry in this status came before its collection was booked."""
_DECIDED = (EntryStatus.COLLECTED, EntryStatus.RETURNED, EntryStatus.REJECTED)


def pending_collections(session: Session, end_to_end_ids: Iterable[str]) -> set[str]:
    """The end-to-end ids among ``end_to_end_ids`` whose entry is still pending: no statement
    line or processing of its batch has booked the collection yet. One statement per
    :data:`REFERENCE_CHUNK` ids."""
    pending: set[str] = set()
    for chunk in _chunks(end_to_end_ids):
        pending.update(
            session.scalars(
                select(DirectDebitEntry.end_to_end_id).where(
                    DirectDebitEntry.end_to_end_id.in_(chunk),
                    DirectDebitEntry.status == WAITING_FOR_COLLECTION,
                )
            )
        )
    return pending


def entries_by_end_to_end_id(
    session: Session, end_to_end_ids: Iterable[str]
) -> dict[str, DirectDebitEntry]:
    """The entries ``end_to_end_ids`` name, whatever their status. One statement per
    :data:`REFERENCE_CHUNK` ids."""
    found: dict[str, DirectDebitEntry] = {}
    for chunk in _chunks(end_to_end_ids):
        for entry in session.scalars(
            select(DirectDebitEntry).where(DirectDebitEntry.end_to_end_id.in_(chunk))
        ):
            found[entry.end_to_end_id] = entry
    return found


def return_can_be_recorded_now() -> ColumnElement[bool]:
    """For a return line in Review (correlated on ``bank_statement_line``): the entry its
    end-to-end id names, of its amount, is no longer pending, so the return that waited for its
    collection can be recorded (or is found recorded already, from a camt.054)."""
    return exists().where(
        DirectDebitEntry.end_to_end_id == BankStatementLine.end_to_end_id,
        DirectDebitEntry.amount == -BankStatementLine.amount,
        DirectDebitEntry.status.in_(_DECIDED),
    )


def collection_payment(
    collection: Collection, paid_amount: Decimal, posting_date: dt.date
) -> ReceivedPayment:
    """The SEPA Direct Debit payment of one collection, allocated to its invoice up to what it
    still owes (as ``process_batch`` does: a settled or cancelled invoice leaves it unallocated)."""
    invoice = collection.invoice
    is_open = (
        invoice.docstatus == DocStatus.SUBMITTED
        and not invoice.is_return
        and invoice.outstanding_amount > ZERO
    )
    return ReceivedPayment(
        customer_id=invoice.customer_id,
        posting_date=posting_date,
        paid_amount=paid_amount,
        mode_of_payment=ModeOfPayment.SEPA_DIRECT_DEBIT,
        reference_no=collection.entry.end_to_end_id,
        allocations=(
            ((invoice.id, min(paid_amount, invoice.outstanding_amount)),) if is_open else ()
        ),
    )


def block_collections(session: Session, booked: BookedBatch) -> list[Collection]:
    """The pending collections of one block of a batch, with their invoices."""
    rows = session.execute(
        select(DirectDebitEntry, Invoice)
        .join(Invoice, Invoice.id == DirectDebitEntry.invoice_id)
        .where(
            DirectDebitEntry.batch_id == booked.batch.id,
            DirectDebitEntry.sequence_type == booked.sequence_type,
            DirectDebitEntry.status == EntryStatus.PENDING,
        )
        .order_by(DirectDebitEntry.id)
    ).all()
    return [Collection(entry, invoice, booked.batch.message_id) for entry, invoice in rows]


def book_whole_batch(session: Session, user: User, booked: BookedBatch) -> None:
    """The line books the whole batch: the SEPA domain processes it (a payment per entry)."""
    process_batch(session, user, booked.batch.id)


def mark_collected(
    session: Session, user: User, collected: Sequence[tuple[Collection, int]]
) -> None:
    """Entries paid by ``(collection, payment id)`` become Collected with their mandate usages;
    a batch left without a pending entry is closed."""
    if not collected:
        return
    session.execute(
        update(DirectDebitEntry),
        [
            {"id": c.entry.id, "payment_id": payment_id, "status": EntryStatus.COLLECTED}
            for c, payment_id in collected
        ],
    )
    usage_ids = {
        (row.batch_reference, row.mandate_id, row.invoice_id): row.id
        for row in session.execute(
            select(
                SepaMandateUsage.id,
                SepaMandateUsage.batch_reference,
                SepaMandateUsage.mandate_id,
                SepaMandateUsage.invoice_id,
            ).where(
                SepaMandateUsage.batch_reference.in_(sorted({c.message_id for c, _ in collected}))
            )
        )
    }
    usages = [
        {"id": usage_id, "payment_id": payment_id, "status": UsageStatus.COLLECTED}
        for c, payment_id in collected
        if (usage_id := usage_ids.get((c.message_id, c.entry.mandate_id, c.entry.invoice_id)))
    ]
    if usages:
        session.execute(update(SepaMandateUsage), usages)
    _close_finished_batches(session, user, sorted({c.entry.batch_id for c, _ in collected}))


def _close_finished_batches(session: Session, user: User, batch_ids: Sequence[int]) -> None:
    """A submitted batch none of whose entries is pending any more is done: the SEPA domain
    processes it (``process_batch``), which finds nothing left to collect and closes it for what
    its entries are (Processed, or Partially Processed when some entry was rejected or
    returned)."""
    finished = session.scalars(
        select(DirectDebitBatch.id)
        .where(
            DirectDebitBatch.id.in_(batch_ids),
            DirectDebitBatch.status == BatchStatus.SUBMITTED,
            ~exists().where(
                DirectDebitEntry.batch_id == DirectDebitBatch.id,
                DirectDebitEntry.status == EntryStatus.PENDING,
            ),
        )
        .order_by(DirectDebitBatch.id)
    ).all()
    for batch_id in finished:
        process_batch(session, user, batch_id)
