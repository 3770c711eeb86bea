"""Direct-debit batches: which invoices are collected on a date, and the batch's lifecycle.

::

    Draft ──export──▶ Generated ──submit──▶ Submitted ──process──▶ Processed
      └────────cancel──────┴──▶ Cancelled

A batch is made for one collection date from every submitted Unpaid or Overdue invoice of a
member with an active, unexpired mandate that no live batch (Draft, Generated, Submitted) holds
yet. Each entry copies the mandate's account and reference as they are at that moment, gets its
sequence type (RCUR; FRST for a mandate's first collection only when the creditor asks for it)
and a Pending mandate usage. Making a batch costs the same statements for ten entries as for ten
thousand: one read of the candidates, bulk inserts.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.models import DocStatus, Invoice, InvoiceStatus, ModeOfPayment
from verenigingen.billing.service.bulk_payments import ReceivedPayment, record_payments
from verenigingen.cache.tags import bump_tags
from verenigingen.db.bulk import insert_rows
from verenigingen.errors import NotFound
from verenigingen.jobs import report_progress
from verenigingen.members.models import Member
from verenigingen.money import ZERO
from verenigingen.sepa.creditor import required_creditor
from verenigingen.sepa.errors import (
    BatchTransitionNotAllowed,
    CollectionDateNotBusinessDay,
    CollectionDateTooEarly,
    NothingToCollect,
)
from verenigingen.sepa.models import (
    LIVE_BATCH_STATUSES,
    BatchStatus,
    DirectDebitBatch,
    DirectDebitEntry,
    EntryStatus,
    MandateStatus,
    SepaCreditor,
    SepaMandate,
    SepaMandateUsage,
    SequenceType,
    UsageStatus,
)
from verenigingen.sepa.retries import blocks_collection, take_due_retries
from verenigingen.sepa.target2 import earliest_collection_date, is_business_day
from verenigingen.sepa.text import to_sepa_text

BatchStep = Callable[[Session, User, int], DirectDebitBatch]
"""A step of the lifecycle: submit, process or cancel one batch."""
COLLECTABLE_STATUSES = (InvoiceStatus.UNPAID, InvoiceStatus.OVERDUE)
PROCESS_CHUNK = 500
"""Entries collected per round of statements when a batch is processed."""
COUNTING_USAGES = (UsageStatus.PENDING, UsageStatus.COLLECTED)
"""A mandate with such a usage has been collected on (or is being): its next collection RCUR."""


def check_collection_date(
    creditor: SepaCreditor, collection_date: dt.date, moment: dt.datetime
) -> None:
    """422 ``collection_date_not_business_day`` or ``collection_date_too_early``."""
    if not is_business_day(collection_date):
        raise CollectionDateNotBusinessDay(
            f"collection date {collection_date} is not a TARGET2 business day "
            "(a weekend or an ECB holiday)"
        )
    earliest = earliest_collection_date(moment, creditor.cutoff_time, creditor.lead_days)
    if collection_date < earliest:
        raise CollectionDateTooEarly(
            f"collection date {collection_date} is too early: with {creditor.lead_days} lead "
            f"day(s) and the cut-off the earliest is {earliest}"
        )


def _message_id(moment: dt.datetime) -> str:
    # 27 characters: the time it was made and a random part, unique across installations.
    return f"SDD-{moment:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"


def _candidates(session: Session, collection_date: dt.date) -> list[Any]:
    """The collectable invoices with their member's newest active mandate, in one statement."""
    in_live_batch = exists().where(
        DirectDebitEntry.invoice_id == Invoice.id,
        DirectDebitEntry.status != EntryStatus.CANCELLED,
        DirectDebitEntry.batch_id == DirectDebitBatch.id,
        DirectDebitBatch.status.in_([s.value for s in LIVE_BATCH_STATUSES]),
    )
    collected_before = (
        exists()
        .where(
            SepaMandateUsage.mandate_id == SepaMandate.id,
            SepaMandateUsage.status.in_([s.value for s in COUNTING_USAGES]),
        )
        .label("collected_before")
    )
    statement = (
        select(
            Invoice.id.label("invoice_id"),
            Invoice.number,
            Invoice.member_id,
            Invoice.outstanding_amount,
            Member.first_name,
            Member.last_name,
            SepaMandate.id.label("mandate_id"),
            SepaMandate.mandate_reference,
            SepaMandate.sign_date,
            SepaMandate.account_holder,
            SepaMandate.iban,
            SepaMandate.bic,
            SepaMandate.amended_from_iban,
            collected_before,
        )
        .join(Member, Member.id == Invoice.member_id)
        .join(SepaMandate, SepaMandate.member_id == Member.id)
        .where(
            Invoice.docstatus == DocStatus.SUBMITTED,
            Invoice.is_return.is_(False),
            Invoice.status.in_([s.value for s in COLLECTABLE_STATUSES]),
            Invoice.outstanding_amount > ZERO,
            SepaMandate.status == MandateStatus.ACTIVE,
            SepaMandate.sign_date <= collection_date,
            (SepaMandate.expiry_date.is_(None)) | (SepaMandate.expiry_date > collection_date),
            ~in_live_batch,
            ~blocks_collection(Invoice.id, SepaMandate.id, collection_date),
        )
        .order_by(Invoice.id, SepaMandate.sign_date.desc(), SepaMandate.id.desc())
    )
    chosen: dict[int, Any] = {}
    for row in session.execute(statement):
        chosen.setdefault(row.invoice_id, row)  # the newest mandate of the invoice's member
    return list(chosen.values())


def create_batch(
    session: Session,
    user: User,
    collection_date: dt.date,
    *,
    description: str | None = None,
    moment: dt.datetime | None = None,
) -> DirectDebitBatch:
    """A Draft batch of every collectable invoice for ``collection_date``.

    422 ``collection_date_not_business_day`` / ``collection_date_too_early``, 409
    ``creditor_not_configured`` or ``nothing_to_collect``; nothing written then. The creditor
    row is locked, so two batches made at once cannot take the same invoice.
    """
    require(user, Permission.BILLING_WRITE)
    moment = moment or clock.now()
    creditor = session.scalar(
        select(SepaCreditor).order_by(SepaCreditor.id).limit(1).with_for_update()
    ) or required_creditor(session)
    check_collection_date(creditor, collection_date, moment)
    rows = _candidates(session, collection_date)
    if not rows:
        raise NothingToCollect(f"no invoice to collect by direct debit on {collection_date}")
    total = sum((row.outstanding_amount for row in rows), ZERO)
    batch = DirectDebitBatch(
        message_id=_message_id(moment),
        batch_date=moment.date(),
        collection_date=collection_date,
        description=to_sepa_text(description or f"Contributie {collection_date}", 140),
        status=BatchStatus.DRAFT,
        pain_version=creditor.pain_version,
        entry_count=len(rows),
        total_amount=total,
        created_by_id=user.id,
    )
    session.add(batch)
    session.flush()
    entries = [_entry_row(batch, creditor, row) for row in rows]
    insert_rows(session, DirectDebitEntry, entries)
    take_due_retries(session, batch.id, collection_date)
    insert_rows(
        session,
        SepaMandateUsage,
        [
            {
                "mandate_id": entry["mandate_id"],
                "usage_date": collection_date,
                "payment_id": None,
                "invoice_id": entry["invoice_id"],
                "batch_reference": batch.message_id,
                "sequence_type": entry["sequence_type"],
                "amount": entry["amount"],
                "status": UsageStatus.PENDING,
            }
            for entry in entries
        ],
    )
    return batch


def _entry_row(batch: DirectDebitBatch, creditor: SepaCreditor, row: Any) -> dict[str, Any]:
    first = creditor.first_collection_frst and not row.collected_before
    holder = row.account_holder or f"{row.first_name} {row.last_name}"
    return {
        "batch_id": batch.id,
        "invoice_id": row.invoice_id,
        "member_id": row.member_id,
        "mandate_id": row.mandate_id,
        "amount": row.outstanding_amount,
        "account_holder": to_sepa_text(holder, 70) or "Onbekend",
        "iban": row.iban,
        "bic": row.bic,
        "mandate_reference": row.mandate_reference,
        "mandate_sign_date": row.sign_date,
        "original_iban": row.amended_from_iban,
        "sequence_type": SequenceType.FIRST if first else SequenceType.RECURRING,
        "end_to_end_id": f"B{batch.id}-I{row.invoice_id}",
        "remittance": to_sepa_text(f"Contributie {row.number}", 140),
        "status": EntryStatus.PENDING,
    }


def get_batch(session: Session, user: User, batch_id: int) -> DirectDebitBatch:
    require(user, Permission.BANK_ACCOUNTS_READ)
    batch = session.get(DirectDebitBatch, batch_id)
    if batch is None:
        raise NotFound(f"no direct-debit batch with id {batch_id}")
    return batch


def list_batches(session: Session, user: User) -> list[DirectDebitBatch]:
    """Every batch, newest first."""
    require(user, Permission.BANK_ACCOUNTS_READ)
    return list(session.scalars(select(DirectDebitBatch).order_by(DirectDebitBatch.id.desc())))


def batch_entries(session: Session, batch_id: int) -> list[DirectDebitEntry]:
    """The batch's entries in the order they are exported: by sequence type, then id."""
    return list(
        session.scalars(
            select(DirectDebitEntry)
            .where(DirectDebitEntry.batch_id == batch_id)
            .order_by(DirectDebitEntry.sequence_type, DirectDebitEntry.id)
        )
    )


def _locked_batch(
    session: Session, batch_id: int, allowed: Sequence[BatchStatus], step: str
) -> DirectDebitBatch:
    batch = session.scalar(
        select(DirectDebitBatch).where(DirectDebitBatch.id == batch_id).with_for_update()
    )
    if batch is None:
        raise NotFound(f"no direct-debit batch with id {batch_id}")
    if batch.status not in allowed:
        wanted = " or ".join(allowed)
        raise BatchTransitionNotAllowed(
            f"batch {batch_id} is {batch.status}; only a {wanted} batch can be {step}"
        )
    return batch


def mark_generated(session: Session, user: User, batch_id: int) -> DirectDebitBatch:
    """Draft → Generated once its file was built and validated (``pain008.export_batch``)."""
    require(user, Permission.BILLING_WRITE)
    allowed = (BatchStatus.DRAFT, BatchStatus.GENERATED)
    batch = _locked_batch(session, batch_id, allowed, "exported")
    batch.status = BatchStatus.GENERATED
    session.flush()
    return batch


def submit_batch(session: Session, user: User, batch_id: int) -> DirectDebitBatch:
    """Generated → Submitted: the file went to the bank. The mandates were presented on the
    collection date (their 36 months start again) and their amendments were sent: cleared."""
    require(user, Permission.BILLING_WRITE)
    batch = _locked_batch(session, batch_id, (BatchStatus.GENERATED,), "submitted")
    mandate_rows = session.execute(
        select(
            DirectDebitEntry.mandate_id, DirectDebitEntry.member_id, DirectDebitEntry.original_iban
        )
        .where(DirectDebitEntry.batch_id == batch.id)
        .distinct()
    ).all()
    mandate_ids = sorted({row.mandate_id for row in mandate_rows})
    session.execute(
        update(SepaMandate)
        .where(SepaMandate.id.in_(mandate_ids))
        .values(last_collection_date=batch.collection_date)
    )
    amended = sorted({row.mandate_id for row in mandate_rows if row.original_iban is not None})
    if amended:
        session.execute(
            update(SepaMandate).where(SepaMandate.id.in_(amended)).values(amended_from_iban=None)
        )
    # The members' histories show their mandates: one bump for all of them.
    bump_tags(session, sorted({f"member:{row.member_id}" for row in mandate_rows}))
    batch.status = BatchStatus.SUBMITTED
    session.flush()
    return batch


def cancel_batch(session: Session, user: User, batch_id: int) -> DirectDebitBatch:
    """Draft or Generated → Cancelled: its invoices are free for another batch, and its
    pending usages are removed (nothing was presented)."""
    require(user, Permission.BILLING_WRITE)
    allowed = (BatchStatus.DRAFT, BatchStatus.GENERATED)
    batch = _locked_batch(session, batch_id, allowed, "cancelled")
    session.execute(
        update(DirectDebitEntry)
        .where(DirectDebitEntry.batch_id == batch.id)
        .values(status=EntryStatus.CANCELLED)
    )
    session.execute(
        delete(SepaMandateUsage).where(
            SepaMandateUsage.batch_reference == batch.message_id,
            SepaMandateUsage.status == UsageStatus.PENDING,
        )
    )
    batch.status = BatchStatus.CANCELLED
    session.flush()
    return batch


def process_batch(session: Session, user: User, batch_id: int) -> DirectDebitBatch:
    """Submitted → Processed: the bank collected. One submitted SEPA Direct Debit payment per
    entry through billing (allocated to its invoice up to what is still outstanding; an invoice
    settled or cancelled meanwhile leaves the payment unallocated), entries and their mandate
    usages Collected. Only Pending entries are collected here; every entry then counts for what
    it is (:func:`_processed_status`): one collected before (a bank statement line of its own)
    as collected, one rejected (a pain.002) or returned as not. A constant number of statements
    per :data:`PROCESS_CHUNK` entries; progress is reported after each chunk
    (``jobs.report_progress``: the job's progress, or a command's progress bar)."""
    require(user, Permission.BILLING_WRITE)
    batch = _locked_batch(session, batch_id, (BatchStatus.SUBMITTED,), "processed")
    rows = session.execute(
        select(
            DirectDebitEntry.id,
            DirectDebitEntry.invoice_id,
            DirectDebitEntry.mandate_id,
            DirectDebitEntry.amount,
            DirectDebitEntry.end_to_end_id,
            Invoice.customer_id,
            Invoice.outstanding_amount,
            Invoice.docstatus,
        )
        .join(Invoice, Invoice.id == DirectDebitEntry.invoice_id)
        .where(
            DirectDebitEntry.batch_id == batch.id,
            DirectDebitEntry.status == EntryStatus.PENDING,
        )
        .order_by(DirectDebitEntry.id)
    ).all()
    usage_ids = {
        (usage.mandate_id, usage.invoice_id): usage.id
        for usage in session.execute(
            select(
                SepaMandateUsage.id, SepaMandateUsage.mandate_id, SepaMandateUsage.invoice_id
            ).where(SepaMandateUsage.batch_reference == batch.message_id)
        )
    }
    report_progress(0, len(rows))
    for start in range(0, len(rows), PROCESS_CHUNK):
        _collect(session, user, batch, rows[start : start + PROCESS_CHUNK], usage_ids)
        report_progress(min(start + PROCESS_CHUNK, len(rows)), len(rows))
    batch.status = _processed_status(session, batch.id)
    session.flush()
    return batch


def _processed_status(session: Session, batch_id: int) -> BatchStatus:
    """Processed when every entry was collected; Partially Processed when some were and others
    were rejected or returned (a returned collection brought no money); Failed when none was."""
    statuses = set(
        session.scalars(
            select(DirectDebitEntry.status)
            .where(
                DirectDebitEntry.batch_id == batch_id,
                DirectDebitEntry.status != EntryStatus.CANCELLED,
            )
            .distinct()
        )
    )
    if statuses == {EntryStatus.COLLECTED}:
        return BatchStatus.PROCESSED
    if EntryStatus.COLLECTED in statuses:
        return BatchStatus.PARTIALLY_PROCESSED
    return BatchStatus.FAILED


def _collect(
    session: Session,
    user: User,
    batch: DirectDebitBatch,
    rows: Sequence[Any],
    usage_ids: dict[tuple[int, int], int],
) -> None:
    payments = [
        ReceivedPayment(
            customer_id=row.customer_id,
            posting_date=batch.collection_date,
            paid_amount=row.amount,
            mode_of_payment=ModeOfPayment.SEPA_DIRECT_DEBIT,
            reference_no=row.end_to_end_id,
            allocations=_allocation(row),
        )
        for row in rows
    ]
    payment_ids = record_payments(session, user, payments)
    session.execute(
        update(DirectDebitEntry),
        [
            {"id": row.id, "payment_id": payment_id, "status": EntryStatus.COLLECTED}
            for row, payment_id in zip(rows, payment_ids, strict=True)
        ],
    )
    usages = [
        {
            "id": usage_ids[(row.mandate_id, row.invoice_id)],
            "payment_id": payment_id,
            "status": UsageStatus.COLLECTED,
        }
        for row, payment_id in zip(rows, payment_ids, strict=True)
        if (row.mandate_id, row.invoice_id) in usage_ids
    ]
    if usages:
        session.execute(update(SepaMandateUsage), usages)


def _allocation(row: Any) -> tuple[tuple[int, Decimal], ...]:
    if row.docstatus != DocStatus.SUBMITTED or row.outstanding_amount <= ZERO:
        return ()
    return ((row.invoice_id, min(row.amount, row.outstanding_amount)),)
