"""The batch round trip and its statement count on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sepa_factories import Collectables, make_creditor
from sqlalchemy import select

from verenigingen.auth.models import User
from verenigingen.billing.models import Invoice, InvoiceStatus
from verenigingen.perf.capture import capture
from verenigingen.sepa.batches import create_batch, process_batch, submit_batch
from verenigingen.sepa.errors import MandateReferenceTaken
from verenigingen.sepa.mandates import expire_mandates
from verenigingen.sepa.models import BatchStatus, SepaMandateUsage
from verenigingen.sepa.pain008 import export_batch

TODAY = dt.date(2026, 11, 16)
MORNING = dt.datetime(2026, 11, 16, 8, 0)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def test_a_batch_round_trip(any_session, treasurer: User) -> None:
    session = any_session
    make_creditor(session, treasurer, first_collection_frst=True)
    collectables = Collectables(session, treasurer)
    invoices = [collectables.invoice(collectables.member(), f"{10 + n}.25") for n in range(3)]
    batch = create_batch(session, treasurer, dt.date(2026, 11, 18), moment=MORNING)
    assert (batch.entry_count, batch.total_amount) == (3, Decimal("33.75"))
    assert b"<SeqTp>FRST</SeqTp>" in export_batch(session, treasurer, batch.id)
    submit_batch(session, treasurer, batch.id)
    process_batch(session, treasurer, batch.id)
    assert batch.status == BatchStatus.PROCESSED
    session.expire_all()
    statuses = session.scalars(
        select(Invoice.status).where(Invoice.id.in_([i.id for i in invoices]))
    )
    assert set(statuses) == {InvoiceStatus.PAID}
    usages = session.scalars(select(SepaMandateUsage.status)).all()
    assert usages == ["Collected"] * 3
    # Collected recently: nothing expires.
    assert expire_mandates(session, treasurer, TODAY) == 0


def test_references_are_unique_ignoring_case_on_every_engine(any_session, treasurer: User) -> None:
    make_creditor(any_session, treasurer)
    collectables = Collectables(any_session, treasurer)
    member = collectables.member(mandate=False)
    collectables.mandate(member, mandate_reference="Ref-Case-1")
    with pytest.raises(MandateReferenceTaken):
        collectables.mandate(member, mandate_reference="REF-CASE-1")


def test_statements_do_not_grow_with_the_batch(any_session, treasurer: User) -> None:
    session = any_session
    make_creditor(session, treasurer)
    collectables = Collectables(session, treasurer)
    counts = []
    for day, size in ((dt.date(2026, 11, 18), 10), (dt.date(2026, 11, 19), 200)):
        for _ in range(size):
            collectables.invoice(collectables.member())
        with capture() as log:
            batch = create_batch(session, treasurer, day, moment=MORNING)
        assert batch.entry_count == size
        counts.append(log.count)
    assert counts[0] == counts[1], f"10 entries: {counts[0]} statements, 200: {counts[1]}"


def test_rejects_and_a_due_retry_on_every_engine(any_session, treasurer: User) -> None:
    from sepa_reports import pain_002

    from verenigingen.sepa.batches import batch_entries
    from verenigingen.sepa.models import MandateStatus, RetryStatus, SepaMandate, SepaReturn
    from verenigingen.sepa.retries import retry_queue
    from verenigingen.sepa.returns import import_status_report

    session = any_session
    make_creditor(session, treasurer)
    collectables = Collectables(session, treasurer)
    invoices = [collectables.invoice(collectables.member()) for _ in range(3)]
    batch = create_batch(session, treasurer, dt.date(2026, 11, 18), moment=MORNING)
    export_batch(session, treasurer, batch.id)
    submit_batch(session, treasurer, batch.id)
    process_batch(session, treasurer, batch.id)
    ids = {e.invoice_id: e.end_to_end_id for e in batch_entries(session, batch.id)}
    block = f"{batch.message_id}-RCUR"
    report = pain_002(
        batch.message_id,
        [(block, ids[invoices[0].id], "AC04"), (block, ids[invoices[1].id], "AM04")],
    )
    outcome = import_status_report(session, treasurer, report)
    assert (outcome.tally.rejected, outcome.tally.invoices_reopened) == (2, 2)
    assert import_status_report(session, treasurer, report).already_imported
    session.expire_all()
    statuses = dict(
        session.execute(
            select(Invoice.id, Invoice.status).where(Invoice.id.in_([i.id for i in invoices]))
        ).all()
    )
    assert [statuses[i.id] for i in invoices] == [
        InvoiceStatus.UNPAID,
        InvoiceStatus.UNPAID,
        InvoiceStatus.PAID,
    ]
    stopped = session.scalars(
        select(SepaMandate.status).where(SepaMandate.member_id == invoices[0].member_id)
    ).one()
    assert stopped == MandateStatus.SUSPENDED
    assert [r.invoice_id for r in retry_queue(session, treasurer)] == [invoices[1].id]
    retry = create_batch(session, treasurer, dt.date(2026, 11, 19), moment=MORNING)
    assert [e.invoice_id for e in batch_entries(session, retry.id)] == [invoices[1].id]
    session.expire_all()
    included = session.scalars(
        select(SepaReturn.retry_status).where(SepaReturn.invoice_id == invoices[1].id)
    ).one()
    assert included == RetryStatus.INCLUDED
