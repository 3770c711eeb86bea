"""What follows a member's decisions through their events: billing the approval, stopping the
dues and crediting the periods after a termination, the history of a new mandate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from member_factories import VALID_IBAN, make_active_member, make_type
from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import DocStatus, Invoice, InvoiceStatus, Payment
from verenigingen.billing.schemas import PaymentCreate
from verenigingen.billing.service.payments import create_payment, submit_payment
from verenigingen.cache.models import CacheTag
from verenigingen.dues.models import DuesSchedule, ScheduleStatus
from verenigingen.dues.service import bill_schedule_until
from verenigingen.members.models import BillingPeriod
from verenigingen.members.service import terminate_member
from verenigingen.sepa.schemas import MandateCreate
from verenigingen.sepa.service import create_mandate

START = dt.date(2026, 1, 1)
TODAY = dt.date(2026, 3, 10)


@pytest.fixture(autouse=True)
def _today() -> Iterator[None]:
    with clock.frozen(TODAY):
        yield


def invoices_of(session: Session, member_id: int) -> list[Invoice]:
    session.expire_all()
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.member_id == member_id)
            .order_by(Invoice.is_return, Invoice.coverage_start, Invoice.id)
        )
    )


def pay(session: Session, user: User, invoice: Invoice, amount: str) -> Payment:
    payment = create_payment(
        session,
        user,
        PaymentCreate(
            customer_id=invoice.customer_id,
            paid_amount=Decimal(amount),
            allocations=[{"invoice_id": invoice.id, "allocated_amount": Decimal(amount)}],
        ),
    )
    return submit_payment(session, user, payment.id)


def test_termination_credits_what_is_open_for_periods_after_it(session: Session, admin: User):
    monthly = make_type(session, period=BillingPeriod.MONTHLY, amount="10.00", default=True)
    member, _, schedule = make_active_member(session, admin, monthly, start=START)
    assert schedule is not None
    # January to June billed ahead: six monthly invoices of 10.00.
    bill_schedule_until(session, admin, schedule.id, dt.date(2026, 7, 1))
    january, february, march, april, may, june = invoices_of(session, member.id)
    pay(session, admin, april, "10.00")  # paid ahead: stays paid
    pay(session, admin, may, "4.00")  # partly paid: the rest is credited

    secretary = create_user(session, "secretaris@example.org", Role.MEMBERSHIP_SECRETARY)
    terminate_member(session, secretary, member.id, termination_date=dt.date(2026, 3, 31))

    invoices = invoices_of(session, member.id)
    originals = {invoice.coverage_start: invoice for invoice in invoices if not invoice.is_return}
    credit_notes = [invoice for invoice in invoices if invoice.is_return]
    # Periods that began on or before 31 March are owed as billed.
    for day in (january.coverage_start, february.coverage_start, march.coverage_start):
        assert originals[day].outstanding_amount == Decimal("10.00")
        assert originals[day].status == InvoiceStatus.UNPAID
    assert originals[april.coverage_start].status == InvoiceStatus.PAID
    assert originals[may.coverage_start].outstanding_amount == Decimal("0.00")
    assert originals[june.coverage_start].outstanding_amount == Decimal("0.00")
    assert originals[june.coverage_start].status == InvoiceStatus.CREDIT_NOTE_ISSUED
    assert sorted((c.return_against_id, c.grand_total) for c in credit_notes) == sorted(
        [(may.id, Decimal("-6.00")), (june.id, Decimal("-10.00"))]
    )
    assert all(c.docstatus == DocStatus.SUBMITTED for c in credit_notes)
    assert "beëindigd per 31-03-2026" in (credit_notes[0].remarks or "")
    assert session.get(DuesSchedule, schedule.id).status == ScheduleStatus.CANCELLED


def test_termination_without_later_invoices_credits_nothing(session: Session, admin: User):
    monthly = make_type(session, period=BillingPeriod.MONTHLY, amount="10.00", default=True)
    member, _, schedule = make_active_member(session, admin, monthly, start=START)
    assert schedule is not None
    bill_schedule_until(session, admin, schedule.id, dt.date(2026, 3, 1))
    before = [(i.id, i.outstanding_amount) for i in invoices_of(session, member.id)]

    terminate_member(session, admin, member.id, termination_date=dt.date(2026, 3, 31))

    after = invoices_of(session, member.id)
    assert [(i.id, i.outstanding_amount) for i in after] == before
    assert not any(invoice.is_return for invoice in after)


def test_a_new_mandate_bumps_the_member_history_tag(session: Session, admin: User):
    monthly = make_type(session, default=True)
    member, _, _ = make_active_member(session, admin, monthly, start=START)
    tag = f"member:{member.id}"
    before = session.scalar(select(CacheTag.version).where(CacheTag.tag == tag)) or 0

    create_mandate(
        session,
        admin,
        member.id,
        MandateCreate(
            mandate_reference=f"M-{member.id}-EVENTS",
            iban=VALID_IBAN,
            sign_date=dt.date(2026, 2, 1),
        ),
    )

    session.expire_all()
    assert session.scalar(select(CacheTag.version).where(CacheTag.tag == tag)) == before + 1
