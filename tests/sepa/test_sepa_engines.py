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
