"""Collection batches: which invoices, which dates, FRST or RCUR, and the lifecycle through
billing; statements that do not grow with the batch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sepa_factories import Collectables, make_creditor
from sqlalchemy import func, select

from verenigingen.auth.models import User
from verenigingen.billing.models import Invoice, InvoiceStatus, Payment
from verenigingen.perf.capture import capture
from verenigingen.sepa.batches import (
    batch_entries,
    cancel_batch,
    create_batch,
    process_batch,
    submit_batch,
)
from verenigingen.sepa.errors import (
    BatchTransitionNotAllowed,
    CollectionDateNotBusinessDay,
    CollectionDateTooEarly,
    CreditorNotConfigured,
    NothingToCollect,
)
from verenigingen.sepa.mandates import change_mandate_account, suspend_mandate
from verenigingen.sepa.models import (
    BatchStatus,
    DirectDebitBatch,
    DirectDebitEntry,
    SepaMandate,
    SepaMandateUsage,
)
from verenigingen.sepa.pain008 import export_batch

TODAY = dt.date(2026, 11, 16)  # a Monday
COLLECTION = dt.date(2026, 11, 18)
MORNING = dt.datetime(2026, 11, 16, 8, 0)  # 09:00 in Amsterdam
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


@pytest.fixture
def collectables(session, treasurer: User) -> Collectables:
    make_creditor(session, treasurer)
    return Collectables(session, treasurer)


def count(session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def make(session, user: User, day: dt.date = COLLECTION, moment: dt.datetime = MORNING):
    return create_batch(session, user, day, moment=moment)


@pytest.mark.parametrize(
    ("today", "day"),
    [
        (dt.date(2026, 3, 23), dt.date(2026, 4, 3)),  # Good Friday
        (dt.date(2026, 3, 23), dt.date(2026, 4, 6)),  # Easter Monday
        (dt.date(2027, 3, 15), dt.date(2027, 3, 26)),
        (dt.date(2027, 3, 15), dt.date(2027, 3, 29)),
        (dt.date(2026, 11, 16), dt.date(2026, 11, 21)),  # a Saturday
        (dt.date(2026, 11, 16), dt.date(2026, 12, 25)),
    ],
)
def test_target2_holidays_and_weekends_are_refused(
    collectables: Collectables, session, treasurer: User, today: dt.date, day: dt.date
) -> None:
    member = collectables.member()
    collectables.invoice(member)
    moment = dt.datetime.combine(today, dt.time(8))
    with pytest.raises(CollectionDateNotBusinessDay, match=str(day)):
        create_batch(session, treasurer, day, moment=moment)
    assert count(session, DirectDebitBatch) == 0


def test_lead_days_and_the_cut_off_set_the_earliest_date(
    collectables: Collectables, session, treasurer: User
) -> None:
    collectables.invoice(collectables.member())
    with pytest.raises(CollectionDateTooEarly, match="2026-11-17"):
        make(session, treasurer, TODAY)
    make_creditor(session, treasurer, lead_days=2, cutoff_time="12:00")
    late = dt.datetime(2026, 11, 16, 12, 30)  # 13:30 in Amsterdam: after the cut-off
    with pytest.raises(CollectionDateTooEarly, match="2026-11-19"):
        create_batch(session, treasurer, COLLECTION, moment=late)
    assert count(session, DirectDebitBatch) == 0
    assert make(session, treasurer).collection_date == COLLECTION  # before the cut-off


def test_without_a_creditor_nothing_is_made(session, treasurer: User) -> None:
    with pytest.raises(CreditorNotConfigured):
        make(session, treasurer)


def test_only_open_invoices_of_members_with_an_active_mandate_are_collected(
    collectables: Collectables, session, treasurer: User
) -> None:
    payer = collectables.member()
    unpaid = collectables.invoice(payer, "25.00")
    overdue = collectables.invoice(
        payer, "30.00", posting_date=dt.date(2026, 9, 1), due_date=dt.date(2026, 9, 15)
    )
    assert overdue.status == InvoiceStatus.OVERDUE
    collectables.invoice(payer, "99.00", submit=False)  # a draft
    no_mandate = collectables.member(mandate=False)
    collectables.invoice(no_mandate)
    suspended = collectables.member()
    collectables.invoice(suspended)
    suspend_mandate(
        session,
        treasurer,
        session.scalars(select(SepaMandate).where(SepaMandate.member_id == suspended.id)).one().id,
        "pause",
    )
    expired = collectables.member(expiry_date=dt.date(2026, 11, 18))
    collectables.invoice(expired)
    signed_later = collectables.member(sign_date=TODAY)
    collectables.invoice(signed_later)

    batch = make(session, treasurer)
    entries = batch_entries(session, batch.id)
    assert sorted(e.invoice_id for e in entries) == sorted(
        [
            unpaid.id,
            overdue.id,
            *[
                i.id
                for i in session.scalars(
                    select(Invoice).where(Invoice.member_id == signed_later.id)
                )
            ],
        ]
    )
    assert (batch.status, batch.entry_count, batch.total_amount) == ("Draft", 3, Decimal("80.00"))
    assert {e.sequence_type for e in entries} == {"RCUR"}  # the 2016 rulebook: no FRST
    assert count(session, SepaMandateUsage) == 3
    # The same invoices are in a live batch now: a second batch has nothing left.
    with pytest.raises(NothingToCollect):
        make(session, treasurer, dt.date(2026, 11, 19))
    cancel_batch(session, treasurer, batch.id)
    assert count(session, SepaMandateUsage) == 0
    assert make(session, treasurer, dt.date(2026, 11, 19)).entry_count == 3


def test_frst_for_a_first_collection_only_when_the_creditor_asks(
    collectables: Collectables, session, treasurer: User
) -> None:
    make_creditor(session, treasurer, first_collection_frst=True)
    newcomer = collectables.member()
    collectables.invoice(newcomer)
    regular = collectables.member()
    collectables.invoice(regular)
    first = make(session, treasurer)
    export_batch(session, treasurer, first.id)
    submit_batch(session, treasurer, first.id)
    process_batch(session, treasurer, first.id)
    collectables.invoice(regular)
    collectables.invoice(collectables.member())
    second = make(session, treasurer, dt.date(2026, 11, 19))
    kinds = {e.member_id: e.sequence_type for e in batch_entries(session, second.id)}
    assert kinds[regular.id] == "RCUR"
    assert sorted(kinds.values()) == ["FRST", "RCUR"]


def test_the_lifecycle_collects_through_billing(
    collectables: Collectables, session, treasurer: User
) -> None:
    member = collectables.member()
    invoice = collectables.invoice(member, "42.50")
    batch = make(session, treasurer)
    for step in (submit_batch, process_batch):
        with pytest.raises(BatchTransitionNotAllowed):
            step(session, treasurer, batch.id)
    export_batch(session, treasurer, batch.id)
    assert batch.status == BatchStatus.GENERATED
    with pytest.raises(BatchTransitionNotAllowed):
        process_batch(session, treasurer, batch.id)
    submit_batch(session, treasurer, batch.id)
    mandate = session.scalars(select(SepaMandate).where(SepaMandate.member_id == member.id)).one()
    assert mandate.last_collection_date == COLLECTION
    with pytest.raises(BatchTransitionNotAllowed):
        cancel_batch(session, treasurer, batch.id)
    process_batch(session, treasurer, batch.id)
    assert batch.status == BatchStatus.PROCESSED
    session.expire_all()
    assert session.get(Invoice, invoice.id).status == InvoiceStatus.PAID
    entry = session.scalars(select(DirectDebitEntry)).one()
    payment = session.get(Payment, entry.payment_id)
    assert (payment.paid_amount, payment.mode_of_payment) == (Decimal("42.50"), "SEPA Direct Debit")
    assert payment.reference_no == entry.end_to_end_id
    usage = session.scalars(select(SepaMandateUsage)).one()
    assert (usage.status, usage.payment_id, usage.batch_reference) == (
        "Collected",
        payment.id,
        batch.message_id,
    )
    with pytest.raises(BatchTransitionNotAllowed):
        process_batch(session, treasurer, batch.id)


def test_an_account_change_is_sent_as_amendment_on_the_next_collection_only(
    collectables: Collectables, session, treasurer: User
) -> None:
    member = collectables.member()
    mandate = session.scalars(select(SepaMandate).where(SepaMandate.member_id == member.id)).one()
    change_mandate_account(session, treasurer, mandate.id, "NL20INGB0001234567")
    collectables.invoice(member)
    first = make(session, treasurer)
    (entry,) = batch_entries(session, first.id)
    assert (entry.iban, entry.original_iban) == ("NL20INGB0001234567", "NL91ABNA0417164300")
    document = export_batch(session, treasurer, first.id)
    assert b"<AmdmntInd>true</AmdmntInd>" in document
    assert b"<Id>SMNDA</Id>" in document
    submit_batch(session, treasurer, first.id)
    assert mandate.amended_from_iban is None
    collectables.invoice(member)
    second = make(session, treasurer, dt.date(2026, 11, 19))
    (entry,) = batch_entries(session, second.id)
    assert entry.original_iban is None
    assert b"<AmdmntInd>false</AmdmntInd>" in export_batch(session, treasurer, second.id)


def _batch_of(session, treasurer: User, collectables: Collectables, size: int) -> int:
    for _ in range(size):
        collectables.invoice(collectables.member())
    with capture() as log:
        make(session, treasurer)
    return log.count


def test_statements_do_not_grow_with_the_batch(session, treasurer: User) -> None:
    make_creditor(session, treasurer, first_collection_frst=True)
    collectables = Collectables(session, treasurer)
    small = _batch_of(session, treasurer, collectables, 10)
    session.execute(DirectDebitBatch.__table__.update().values(status=BatchStatus.CANCELLED))
    session.execute(DirectDebitEntry.__table__.update().values(status="Cancelled"))
    session.execute(SepaMandateUsage.__table__.delete())
    large = _batch_of(session, treasurer, collectables, 200)
    # The cancelled batch's 10 invoices are free again: 210 entries in the second batch.
    assert count(session, DirectDebitEntry) == 10 + 210
    assert small == large, f"10 entries: {small} statements, 210 entries: {large}"
