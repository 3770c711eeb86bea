"""Mandate usages of payments recorded in bulk (the demo, a statement import): set-based, as
each payment alone would get its own, in a constant number of statements."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sepa_factories import Collectables, make_creditor
from sqlalchemy import select

from verenigingen.auth.models import User
from verenigingen.billing.models import Invoice, ModeOfPayment
from verenigingen.billing.service.bulk_payments import ReceivedPayment, record_payments
from verenigingen.members.models import Customer
from verenigingen.perf.capture import capture
from verenigingen.sepa.models import SepaMandateUsage
from verenigingen.sepa.usage import record_usages

TODAY = dt.date(2026, 11, 10)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def paid_by_direct_debit(session, user: User, invoices: list[Invoice]) -> list[int]:
    return record_payments(
        session,
        user,
        [
            ReceivedPayment(
                invoice.customer_id,
                TODAY,
                invoice.outstanding_amount,
                ModeOfPayment.SEPA_DIRECT_DEBIT,
                allocations=((invoice.id, invoice.outstanding_amount),),
            )
            for invoice in invoices
        ],
    )


def usages(session) -> list[tuple[int, int, str]]:
    return [
        (row.payment_id, row.mandate_id, row.sequence_type)
        for row in session.scalars(select(SepaMandateUsage).order_by(SepaMandateUsage.payment_id))
    ]


@pytest.mark.parametrize("frst", [False, True])
def test_bulk_usages_name_the_mandate_and_sequence_each_payment_alone_would(
    session, treasurer: User, frst: bool
) -> None:
    make_creditor(session, treasurer, first_collection_frst=frst)
    collectables = Collectables(session, treasurer)
    one = collectables.member()
    two = collectables.member()
    # A customer with two members: the invoice's member's mandate, though the other is newer.
    family = collectables.ledger.member(collectables.ledger.customer())
    older = collectables.mandate(family, sign_date=dt.date(2024, 3, 1))
    partner = collectables.ledger.member(session.get_one(Customer, family.customer_id))
    collectables.mandate(partner, sign_date=dt.date(2025, 6, 1))
    unmandated = collectables.member(mandate=False)
    invoices = [
        collectables.invoice(one),
        collectables.invoice(one, "12.50"),
        collectables.invoice(two),
        collectables.invoice(family),
        collectables.invoice(unmandated),
    ]
    payment_ids = paid_by_direct_debit(session, treasurer, invoices)

    with capture() as log:
        added = record_usages(session, payment_ids)

    assert added == 4  # the unmandated member's payment was collected under no mandate
    assert log.count == (8 if frst else 7)  # whatever the number of payments
    recorded = usages(session)
    first = "FRST" if frst else "RCUR"
    assert [sequence for _, _, sequence in recorded] == [first, "RCUR", first, first]
    assert recorded[3][:2] == (payment_ids[3], older.id)
    assert record_usages(session, payment_ids) == 0  # run again: nothing added twice
    assert usages(session) == recorded
    assert Decimal(0) < sum(row.amount for row in session.scalars(select(SepaMandateUsage)))
