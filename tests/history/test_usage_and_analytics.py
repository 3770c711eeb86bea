"""Mandate usage (FRST when the creditor asks for it, then RCUR; Returned on cancel), also for
payments recorded in bulk, and monthly analytics, as jobs leave them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from billing_factories import D, LedgerFactory
from history_factories import Drain
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.models import ModeOfPayment
from verenigingen.billing.service.bulk_payments import ReceivedPayment, record_payments
from verenigingen.billing.service.payments import cancel_payment
from verenigingen.history import analytics
from verenigingen.history.models import PaymentAnalytics
from verenigingen.sepa.batches import batch_entries, create_batch
from verenigingen.sepa.creditor import set_creditor
from verenigingen.sepa.models import SepaMandate, SepaMandateUsage
from verenigingen.sepa.schemas import CreditorIn, MandateCreate
from verenigingen.sepa.service import create_mandate
from verenigingen.sepa.usage import record_usage


def use_frst(session: Session, user: User, *, first_collection_frst: bool = True) -> None:
    set_creditor(
        session,
        user,
        CreditorIn(
            name="Vereniging De Eendracht",
            iban="NL44RABO0123456789",
            creditor_identifier="NL51ZZZ405365330000",
            first_collection_frst=first_collection_frst,
        ),
    )


def mandate_of(session: Session, user: User, member_id: int, reference: str) -> SepaMandate:
    return create_mandate(
        session,
        user,
        member_id,
        MandateCreate(
            mandate_reference=reference, iban="NL91ABNA0417164300", sign_date=dt.date(2026, 1, 1)
        ),
    )


def usages(session: Session, mandate_id: int) -> list[tuple[str, str, object]]:
    session.expire_all()
    return [
        (u.sequence_type, u.status, u.amount)
        for u in session.scalars(
            select(SepaMandateUsage)
            .where(SepaMandateUsage.mandate_id == mandate_id)
            .order_by(SepaMandateUsage.id)
        )
    ]


def test_first_collection_is_frst_then_rcur_and_a_cancel_returns_it(
    session: Session, ledger: LedgerFactory, drain: Drain
) -> None:
    use_frst(session, ledger.user)
    customer = ledger.customer()
    member = ledger.member(customer)
    mandate = create_mandate(
        session,
        ledger.user,
        member.id,
        MandateCreate(
            mandate_reference="M-USAGE-1", iban="NL91ABNA0417164300", sign_date=dt.date(2026, 1, 1)
        ),
    )
    january, february = ledger.invoice(customer, "25.00"), ledger.invoice(customer, "25.00")
    sdd = {"mode_of_payment": "SEPA Direct Debit"}
    first = ledger.payment(customer, "25.00", [(january, "25.00")], **sdd)
    ledger.payment(customer, "25.00", [(february, "25.00")], **sdd)
    ledger.payment(customer, "9.00", [], reference_no="cash")  # no usage for a transfer
    session.commit()
    drain()
    assert usages(session, mandate.id) == [
        ("FRST", "Collected", D("25.00")),
        ("RCUR", "Collected", D("25.00")),
    ]
    cancel_payment(session, ledger.user, first.id)
    session.commit()
    drain()
    assert usages(session, mandate.id)[0] == ("FRST", "Returned", D("25.00"))
    # A retried job finds its row and adds nothing.
    assert record_usage(session, first.id, cancelled=True) is not None
    assert len(usages(session, mandate.id)) == 2


def test_after_a_returned_first_collection_the_next_is_frst_again(
    session: Session, ledger: LedgerFactory, drain: Drain
) -> None:
    use_frst(session, ledger.user)
    customer = ledger.customer()
    member = ledger.member(customer)
    mandate = create_mandate(
        session,
        ledger.user,
        member.id,
        MandateCreate(
            mandate_reference="M-USAGE-2", iban="NL91ABNA0417164300", sign_date=dt.date(2026, 1, 1)
        ),
    )
    payment = ledger.payment(customer, "10.00", [], mode_of_payment="SEPA Direct Debit")
    session.commit()
    drain()
    cancel_payment(session, ledger.user, payment.id)
    ledger.payment(customer, "10.00", [], mode_of_payment="SEPA Direct Debit")
    session.commit()
    drain()
    assert [u[:2] for u in usages(session, mandate.id)] == [
        ("FRST", "Returned"),
        ("FRST", "Collected"),
    ]


@pytest.mark.parametrize("configured", [False, True])
def test_a_first_collection_is_rcur_unless_the_creditor_asks_for_frst(
    session: Session, ledger: LedgerFactory, drain: Drain, configured: bool
) -> None:
    # Regression: the usage's sequence type ignored the creditor's setting (default off).
    if configured:
        use_frst(session, ledger.user, first_collection_frst=False)
    customer = ledger.customer()
    member = ledger.member(customer)
    mandate = mandate_of(session, ledger.user, member.id, f"M-RCUR-{configured}")
    ledger.payment(customer, "10.00", [], mode_of_payment="SEPA Direct Debit")
    session.commit()
    drain()
    assert usages(session, mandate.id) == [("RCUR", "Collected", D("10.00"))]


@pytest.mark.today(dt.date(2026, 11, 16))
@pytest.mark.usefixtures("frozen_today")
def test_payments_recorded_in_bulk_record_their_usage_so_the_next_collection_is_rcur(
    session: Session, ledger: LedgerFactory, drain: Drain
) -> None:
    # Regression: bulk payments (the demo) left no usage, so the next batch sent FRST again.
    use_frst(session, ledger.user)
    customer = ledger.customer()
    member = ledger.member(customer)
    mandate = mandate_of(session, ledger.user, member.id, "M-BULK-1")
    paid = ledger.invoice(customer, "12.50", member=member)
    next_one = ledger.invoice(customer, "12.50", member=member)
    record_payments(
        session,
        ledger.user,
        [
            ReceivedPayment(
                customer.id,
                paid.posting_date,
                Decimal("12.50"),
                ModeOfPayment.SEPA_DIRECT_DEBIT,
                allocations=((paid.id, Decimal("12.50")),),
            ),
            ReceivedPayment(customer.id, paid.posting_date, Decimal("3.00")),  # a transfer
        ],
    )
    session.commit()
    drain()
    assert usages(session, mandate.id) == [("FRST", "Collected", D("12.50"))]
    batch = create_batch(
        session, ledger.user, dt.date(2026, 11, 18), moment=dt.datetime(2026, 11, 16, 8)
    )
    (entry,) = batch_entries(session, batch.id)
    assert (entry.invoice_id, entry.sequence_type) == (next_one.id, "RCUR")


def test_without_an_active_mandate_nothing_is_recorded(
    session: Session, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    payment = ledger.payment(customer, "10.00", [], mode_of_payment="SEPA Direct Debit")
    assert record_usage(session, payment.id) is None
    assert (
        session.scalar(select(SepaMandateUsage.id).where(SepaMandateUsage.payment_id == payment.id))
        is None
    )


def test_monthly_analytics_totals_and_collection_rate(
    session: Session, ledger: LedgerFactory, drain: Drain
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    paid = ledger.invoice(customer, "80.00", posting_date=dt.date(2026, 3, 1))
    ledger.invoice(customer, "20.00", posting_date=dt.date(2026, 3, 2))
    ledger.payment(customer, "60.00", [(paid, "60.00")])
    ledger.payment(customer, "5.00", [], payment_type="Pay")
    session.commit()
    drain()
    session.expire_all()
    row = session.get(PaymentAnalytics, dt.date(2026, 3, 1))
    assert row is not None
    assert (row.payment_count, row.received, row.refunded) == (2, D("60.00"), D("5.00"))
    assert (row.invoiced, row.collected, row.collection_rate) == (
        D("100.00"),
        D("60.00"),
        D("60.00"),
    )


def test_analytics_refuses_a_month_it_cannot_read(session: Session) -> None:
    import pytest

    from verenigingen.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="YYYY-MM"):
        analytics.update_months(session, ["2026-13"])
    assert session.scalar(select(PaymentAnalytics.month)) is None
