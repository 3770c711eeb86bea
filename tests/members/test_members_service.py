"""Applications, approval, rejection, updates and termination of members."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from member_factories import OTHER_IBAN, VALID_IBAN, application, make_active_member, make_type
from verenigingen import clock
from verenigingen.auth.errors import NotOwnRecord
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import AuditEvent, Invoice, InvoiceLine
from verenigingen.config import Settings
from verenigingen.db.naming import NamingSeries
from verenigingen.dues.models import DuesSchedule, ScheduleStatus
from verenigingen.errors import (
    AmountNotANumber,
    AmountNotPositive,
    AmountTooPrecise,
    InvalidIban,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from verenigingen.members.errors import (
    ApplicationAlreadyDecided,
    BicWithoutIban,
    BirthDateInFuture,
    ContactDetailsOnly,
    DuesRateBelowMinimum,
    IbanRequiredForDirectDebit,
    MemberAlreadyTerminated,
    MemberNotTerminable,
    NoDefaultMembershipType,
    RejectionReasonRequired,
    TerminationBeforeMemberSince,
)
from verenigingen.members.models import (
    BillingPeriod,
    Customer,
    Member,
    Membership,
    MembershipStatus,
    MemberStatus,
    PaymentMethod,
)
from verenigingen.members.schemas import MemberUpdate
from verenigingen.members.service import (
    apply_for_membership,
    approve_member,
    reject_member,
    terminate_member,
    update_member,
)

TODAY = dt.date(2026, 11, 15)


pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def snapshot(session: Session) -> tuple[int, ...]:
    """Row counts of everything an application or approval may write."""
    return tuple(
        count(session, model)
        for model in (
            Member,
            Customer,
            Membership,
            DuesSchedule,
            Invoice,
            InvoiceLine,
            AuditEvent,
            NamingSeries,
        )
    )


# --- applications ---------------------------------------------------------------------------


def test_application_gets_pending_member_with_monthly_numbered_id(session, admin):
    monthly = make_type(session, default=True)
    first = apply_for_membership(session, admin, application(email=" Anna@Example.ORG "))
    second = apply_for_membership(session, admin, application())

    assert first.member_id == "Assoc-Member-2026-11-0001"
    assert second.member_id == "Assoc-Member-2026-11-0002"
    assert (first.status, first.application_status) == ("Pending", "Pending")
    assert first.email == "anna@example.org"
    assert first.requested_membership_type_id == monthly.id
    assert first.customer_id is None
    with clock.frozen(dt.date(2026, 12, 1)):
        december = apply_for_membership(session, admin, application())
    assert december.member_id == "Assoc-Member-2026-12-0001"


def test_application_uses_the_configured_prefix(session, admin):
    make_type(session, default=True)
    member = apply_for_membership(
        session, admin, application(), settings=Settings(member_id_prefix="VV")
    )
    assert member.member_id == "VV-2026-11-0001"


def test_sepa_application_normalises_iban_and_derives_bic(session, admin):
    make_type(session, default=True)
    member = apply_for_membership(
        session,
        admin,
        application(
            payment_method=PaymentMethod.SEPA_DIRECT_DEBIT,
            iban="nl91 abna 0417 1643 00",
        ),
    )
    assert member.iban == VALID_IBAN
    assert member.bic == "ABNANL2A"
    assert member.account_holder == member.full_name
    assert member.payment_method == "SEPA Direct Debit"


def test_application_joins_an_existing_customer(session, admin):
    monthly = make_type(session, default=True)
    parent, _, _ = make_active_member(session, admin, monthly)
    child = apply_for_membership(session, admin, application(customer_id=parent.customer_id))
    approve_member(session, admin, child.id)
    assert child.customer_id == parent.customer_id
    assert count(session, Customer) == 1


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"email": "not-an-email"}, ValidationFailed, "email"),
        ({"first_name": "  "}, ValidationFailed, "first_name"),
        ({"birth_date": TODAY + dt.timedelta(days=1)}, BirthDateInFuture, "future"),
        ({"iban": "NL91ABNA0417164301"}, InvalidIban, "IBAN"),
        ({"iban": "hello"}, InvalidIban, "IBAN"),
        (
            {"payment_method": PaymentMethod.SEPA_DIRECT_DEBIT},
            IbanRequiredForDirectDebit,
            "IBAN is required",
        ),
        ({"bic": "ABNANL2A"}, BicWithoutIban, "without an IBAN"),
    ],
)
def test_bad_application_is_refused_and_writes_nothing(session, admin, overrides, error, message):
    make_type(session, default=True)
    before = snapshot(session)
    with pytest.raises(error, match=message) as raised:
        apply_for_membership(session, admin, application(**overrides))
    assert raised.value.code == error.code
    assert snapshot(session) == before


def test_unknown_type_or_customer_is_not_found(session, admin):
    make_type(session, default=True)
    before = snapshot(session)
    with pytest.raises(NotFound, match="membership type"):
        apply_for_membership(session, admin, application(membership_type_id=9999))
    with pytest.raises(NotFound, match="customer"):
        apply_for_membership(session, admin, application(customer_id=9999))
    assert snapshot(session) == before


def test_application_without_type_and_without_default_is_refused(session, admin):
    make_type(session, default=False)
    with pytest.raises(NoDefaultMembershipType, match="default"):
        apply_for_membership(session, admin, application())


def test_member_role_may_not_apply_on_behalf_of_others(session, member_user):
    make_type(session, default=True)
    with pytest.raises(PermissionDenied):
        apply_for_membership(session, member_user, application())


# --- approval -------------------------------------------------------------------------------


def test_approval_creates_customer_membership_and_schedule(session, admin):
    monthly = make_type(session, amount="12.50", default=True)
    member = apply_for_membership(session, admin, application())
    approve_member(session, admin, member.id)

    assert (member.status, member.application_status) == ("Active", "Approved")
    assert member.member_since == TODAY
    customer = session.get(Customer, member.customer_id)
    assert customer is not None
    assert customer.debtor_number == "DEB-00001"
    assert customer.name == member.full_name
    membership = session.scalars(select(Membership).where(Membership.member_id == member.id)).one()
    assert membership.membership_type_id == monthly.id
    assert membership.start_date == TODAY
    assert membership.renewal_date == dt.date(2027, 11, 15)  # monthly, minimum period enforced
    assert membership.status == MembershipStatus.ACTIVE
    schedule = session.scalars(select(DuesSchedule)).one()
    assert schedule.membership_id == membership.id
    assert schedule.customer_id == customer.id
    assert (schedule.billing_frequency, schedule.billing_months) == ("Monthly", 1)
    assert schedule.dues_rate == Decimal("12.50")
    assert schedule.next_invoice_date == TODAY
    assert schedule.invoice_days_before == 30
    assert schedule.status == ScheduleStatus.ACTIVE
    assert count(session, Invoice) == 0  # the daily run bills it


def test_approval_with_custom_type_rate_and_start(session, admin):
    make_type(session, default=True)
    annual = make_type(session, period=BillingPeriod.ANNUAL, amount="60.00", minimum="30.00")
    member = apply_for_membership(session, admin, application())
    approve_member(
        session,
        admin,
        member.id,
        membership_type_id=annual.id,
        dues_rate="30.00",
        start_date=dt.date(2027, 1, 1),
    )
    schedule = session.scalars(select(DuesSchedule)).one()
    membership = session.scalars(select(Membership)).one()
    assert membership.membership_type_id == annual.id
    assert membership.renewal_date == dt.date(2028, 1, 1)
    assert (schedule.dues_rate, schedule.billing_months) == (Decimal("30.00"), 12)
    assert schedule.next_invoice_date == dt.date(2027, 1, 1)
    assert member.member_since == dt.date(2027, 1, 1)


@pytest.mark.parametrize(
    ("rate", "error", "message"),
    [
        ("29.99", DuesRateBelowMinimum, "below the minimum"),
        ("30.005", AmountTooPrecise, "two decimals"),
        ("-5", AmountNotPositive, "greater than zero"),
        ("abc", AmountNotANumber, "number"),
    ],
)
def test_approval_with_bad_rate_is_refused_and_writes_nothing(session, admin, rate, error, message):
    make_type(session, amount="60.00", minimum="30.00", default=True)
    member = apply_for_membership(session, admin, application())
    before = snapshot(session)
    with pytest.raises(error, match=message):
        approve_member(session, admin, member.id, dues_rate=rate)
    assert snapshot(session) == before
    assert member.status == MemberStatus.PENDING


def test_lifetime_approval_bills_one_invoice_and_has_no_schedule(session, admin):
    lifetime = make_type(session, period=BillingPeriod.LIFETIME, amount="500.00", default=True)
    member = apply_for_membership(session, admin, application())
    approve_member(session, admin, member.id)

    membership = session.scalars(select(Membership)).one()
    assert membership.renewal_date is None
    assert count(session, DuesSchedule) == 0
    invoice = session.scalars(select(Invoice)).one()
    assert (invoice.docstatus, invoice.status) == (1, "Unpaid")
    assert invoice.grand_total == invoice.outstanding_amount == Decimal("500.00")
    assert (invoice.member_id, invoice.customer_id) == (member.id, member.customer_id)
    assert invoice.dues_schedule_id is None
    assert invoice.due_date == TODAY + dt.timedelta(days=14)
    line = session.scalars(select(InvoiceLine)).one()
    assert line.amount == Decimal("500.00")
    assert lifetime.name in line.description


def test_unknown_member_or_type_is_not_found(session, admin):
    make_type(session, default=True)
    member = apply_for_membership(session, admin, application())
    with pytest.raises(NotFound):
        approve_member(session, admin, 9999)
    with pytest.raises(NotFound):
        approve_member(session, admin, member.id, membership_type_id=9999)
    assert member.status == MemberStatus.PENDING


def test_approving_rejected_or_approved_member_conflicts(session, admin):
    make_type(session, default=True)
    rejected = apply_for_membership(session, admin, application())
    reject_member(session, admin, rejected.id, "no references")
    with pytest.raises(ApplicationAlreadyDecided, match="rejected"):
        approve_member(session, admin, rejected.id)
    approved = apply_for_membership(session, admin, application())
    approve_member(session, admin, approved.id)
    before = snapshot(session)
    with pytest.raises(ApplicationAlreadyDecided, match="already approved"):
        approve_member(session, admin, approved.id)
    assert snapshot(session) == before


def test_secretary_may_approve_but_treasurer_may_not(
    session, admin, treasurer, membership_secretary
):
    make_type(session, default=True)
    member = apply_for_membership(session, admin, application())
    with pytest.raises(PermissionDenied):
        approve_member(session, treasurer, member.id)
    approve_member(session, membership_secretary, member.id)
    assert member.status == MemberStatus.ACTIVE


# --- rejection ------------------------------------------------------------------------------


def test_rejection_stores_reason(session, admin):
    make_type(session, default=True)
    member = apply_for_membership(session, admin, application())
    reject_member(session, admin, member.id, "  incomplete form ")
    assert (member.status, member.application_status) == ("Rejected", "Rejected")
    assert member.rejection_reason == "incomplete form"


def test_rejecting_an_approved_or_rejected_member_conflicts(session, admin):
    monthly = make_type(session, default=True)
    member, _, _ = make_active_member(session, admin, monthly)
    with pytest.raises(ApplicationAlreadyDecided, match="already decided"):
        reject_member(session, admin, member.id, "changed our minds")
    assert member.status == MemberStatus.ACTIVE
    other = apply_for_membership(session, admin, application())
    reject_member(session, admin, other.id, "no")
    with pytest.raises(ApplicationAlreadyDecided):
        reject_member(session, admin, other.id, "no again")
    assert other.rejection_reason == "no"


def test_rejection_needs_a_reason(session, admin):
    make_type(session, default=True)
    member = apply_for_membership(session, admin, application())
    with pytest.raises(RejectionReasonRequired, match="reason"):
        reject_member(session, admin, member.id, "   ")
    with pytest.raises(NotFound):
        reject_member(session, admin, 9999, "why")
    assert member.status == MemberStatus.PENDING


# --- updates --------------------------------------------------------------------------------


def test_update_changes_only_the_fields_sent(session, admin):
    monthly = make_type(session, default=True)
    member, _, _ = make_active_member(session, admin, monthly)
    update_member(
        session,
        admin,
        member.id,
        MemberUpdate(
            city="Amsterdam",
            payment_method=PaymentMethod.SEPA_DIRECT_DEBIT,
            iban=OTHER_IBAN,
        ),
    )
    assert member.city == "Amsterdam"
    assert member.address_line == "Dorpsstraat 1"
    assert (member.iban, member.bic) == (OTHER_IBAN, "COBADEFFXXX")
    update_member(session, admin, member.id, MemberUpdate(birth_date=None))
    assert member.birth_date is None


@pytest.mark.parametrize(
    "data",
    [
        MemberUpdate(email="nope"),
        MemberUpdate(last_name=""),
        MemberUpdate(first_name=None),
        MemberUpdate(iban="NL00ABNA0417164300"),
        MemberUpdate(birth_date=TODAY + dt.timedelta(days=3)),
        MemberUpdate(payment_method=PaymentMethod.SEPA_DIRECT_DEBIT),
        MemberUpdate(payment_method=None),
    ],
)
def test_bad_update_changes_nothing(session, admin, data):
    monthly = make_type(session, default=True)
    member, _, _ = make_active_member(session, admin, monthly, email="keep@example.org")
    with pytest.raises(ValidationFailed):
        update_member(session, admin, member.id, data)
    session.expire_all()
    reloaded = session.get(Member, member.id)
    assert reloaded is not None
    assert (reloaded.email, reloaded.iban, reloaded.payment_method) == (
        "keep@example.org",
        None,
        "Bank Transfer",
    )


def test_clearing_iban_of_sepa_payer_is_refused(session, admin):
    monthly = make_type(session, default=True)
    member, _, _ = make_active_member(
        session,
        admin,
        monthly,
        payment_method=PaymentMethod.SEPA_DIRECT_DEBIT,
        iban=VALID_IBAN,
    )
    with pytest.raises(IbanRequiredForDirectDebit, match="IBAN is required"):
        update_member(session, admin, member.id, MemberUpdate(iban=None))
    assert member.iban == VALID_IBAN


def portal_user(session: Session, member: Member) -> User:
    user = create_user(session, f"portal{member.id}@example.org", Role.MEMBER)
    member.user_id = user.id
    session.flush()
    return user


def test_member_updates_own_contact_fields_only(session, admin):
    monthly = make_type(session, default=True)
    member, _, _ = make_active_member(session, admin, monthly)
    other, _, _ = make_active_member(session, admin, monthly)
    portal = portal_user(session, member)

    update_member(session, portal, member.id, MemberUpdate(email="new@example.org", city="Ede"))
    assert (member.email, member.city) == ("new@example.org", "Ede")
    with pytest.raises(ContactDetailsOnly, match="contact details"):
        update_member(session, portal, member.id, MemberUpdate(iban=VALID_IBAN))
    with pytest.raises(NotOwnRecord, match="own"):
        update_member(session, portal, other.id, MemberUpdate(city="Ede"))
    assert member.iban is None
    assert other.city == "Utrecht"


def test_treasurer_may_not_update_members(session, admin, treasurer):
    monthly = make_type(session, default=True)
    member, _, _ = make_active_member(session, admin, monthly)
    with pytest.raises(PermissionDenied):
        update_member(session, treasurer, member.id, MemberUpdate(city="Ede"))


# --- termination ----------------------------------------------------------------------------


def test_termination_cancels_memberships_and_schedules(session, admin):
    monthly = make_type(session, default=True)
    member, membership, schedule = make_active_member(session, admin, monthly)
    terminate_member(session, admin, member.id, reason="moved abroad")

    assert member.status == MemberStatus.TERMINATED
    assert (member.termination_date, member.termination_reason) == (TODAY, "moved abroad")
    session.expire_all()
    membership = session.get(Membership, membership.id)
    schedule = session.get(DuesSchedule, schedule.id)
    assert (membership.status, membership.cancellation_type) == ("Cancelled", "Immediate")
    assert membership.cancellation_date == TODAY
    assert schedule.status == ScheduleStatus.CANCELLED


def test_terminating_twice_or_a_pending_member_conflicts(session, admin):
    monthly = make_type(session, default=True)
    member, _, _ = make_active_member(session, admin, monthly)
    terminate_member(session, admin, member.id, termination_date=dt.date(2026, 12, 31))
    with pytest.raises(MemberAlreadyTerminated, match="already terminated"):
        terminate_member(session, admin, member.id)
    assert member.termination_date == dt.date(2026, 12, 31)
    pending = apply_for_membership(session, admin, application())
    with pytest.raises(MemberNotTerminable, match="Pending"):
        terminate_member(session, admin, pending.id)
    with pytest.raises(NotFound):
        terminate_member(session, admin, 9999)


def test_termination_before_membership_start_is_refused(session, admin):
    monthly = make_type(session, default=True)
    member, _, _ = make_active_member(session, admin, monthly)
    with pytest.raises(TerminationBeforeMemberSince, match="before member_since"):
        terminate_member(session, admin, member.id, termination_date=TODAY - dt.timedelta(days=1))
    assert member.status == MemberStatus.ACTIVE
