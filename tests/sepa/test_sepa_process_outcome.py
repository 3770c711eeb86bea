"""What processing a batch makes of entries that are no longer Pending: each counts for what it
is. Rejected or returned before processing: not collected, no payment, the batch Partially
Processed (Failed when nothing was collected). Entries collected by the bank's statement lines
before processing: ``tests/bank/test_bank_sepa_matching.py``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sepa_factories import Collectables, make_creditor
from sepa_reports import camt_054, pain_002
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.models import Invoice, Payment
from verenigingen.sepa.batches import batch_entries, create_batch, process_batch, submit_batch
from verenigingen.sepa.models import BatchStatus, DirectDebitBatch, EntryStatus
from verenigingen.sepa.pain008 import export_batch
from verenigingen.sepa.returns import import_status_report

TODAY = dt.date(2026, 11, 16)  # a Monday
COLLECTION = dt.date(2026, 11, 18)
MORNING = dt.datetime(2026, 11, 16, 8, 0)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


@pytest.fixture
def submitted(session: Session, treasurer: User) -> DirectDebitBatch:
    """A submitted batch of three collections: 25.00, 30.00 and 45.00."""
    make_creditor(session, treasurer)
    members = Collectables(session, treasurer)
    for amount in ("25.00", "30.00", "45.00"):
        members.invoice(members.member(), amount)
    batch = create_batch(session, treasurer, COLLECTION, moment=MORNING)
    export_batch(session, treasurer, batch.id)
    submit_batch(session, treasurer, batch.id)
    return batch


def payments(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Payment)) or 0


def test_entries_returned_and_rejected_before_processing_are_not_collected(
    session: Session, treasurer: User, submitted: DirectDebitBatch
) -> None:
    first, second, third = batch_entries(session, submitted.id)
    block = f"{submitted.message_id}-{first.sequence_type}"
    import_status_report(
        session, treasurer, pain_002(submitted.message_id, [(block, first.end_to_end_id, "AC04")])
    )
    import_status_report(
        session, treasurer, camt_054([(second.end_to_end_id, "MD06", second.amount)])
    )

    process_batch(session, treasurer, submitted.id)

    assert submitted.status == BatchStatus.PARTIALLY_PROCESSED
    assert [e.status for e in batch_entries(session, submitted.id)] == [
        EntryStatus.REJECTED,
        EntryStatus.REJECTED,
        EntryStatus.COLLECTED,
    ]
    assert payments(session) == 1
    outstanding = session.scalars(select(Invoice.outstanding_amount).order_by(Invoice.id)).all()
    assert outstanding == [Decimal("25.00"), Decimal("30.00"), Decimal("0.00")]
    assert third.amount == Decimal("45.00")


def test_a_batch_whose_every_entry_was_rejected_before_processing_failed(
    session: Session, treasurer: User, submitted: DirectDebitBatch
) -> None:
    entries = batch_entries(session, submitted.id)
    block = f"{submitted.message_id}-{entries[0].sequence_type}"
    rejects = [(block, entry.end_to_end_id, "AC04") for entry in entries]
    import_status_report(session, treasurer, pain_002(submitted.message_id, rejects))

    process_batch(session, treasurer, submitted.id)

    assert submitted.status == BatchStatus.FAILED
    assert payments(session) == 0
