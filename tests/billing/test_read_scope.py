"""What a login may read (members.scope): one scope, the same readable rows in every domain."""

from __future__ import annotations

import pytest
from billing_factories import LedgerFactory
from sqlalchemy.orm import Session

from verenigingen.auth.errors import LoginNotLinkedToMember
from verenigingen.auth.models import User
from verenigingen.billing.queries import readable_invoices, readable_payments
from verenigingen.members.queries import readable_members
from verenigingen.members.scope import EVERYTHING, read_scope
from verenigingen.perf.capture import capture
from verenigingen.sepa.service import readable_mandates


def test_staff_read_everything_without_a_query(session: Session, treasurer: User) -> None:
    with capture() as log:
        scope = read_scope(session, treasurer)
    assert scope == EVERYTHING
    assert log.count == 0


def test_a_member_reads_its_own_rows_in_every_domain(
    session: Session, treasurer: User, member_user: User
) -> None:
    ledger = LedgerFactory(session, treasurer)
    own_customer, other_customer = ledger.customer(), ledger.customer()
    own = ledger.member(own_customer, user=member_user)
    other = ledger.member(other_customer)
    own_invoice = ledger.invoice(own_customer, "10.00")
    ledger.invoice(other_customer, "20.00")
    ledger.payment(own_customer, "10.00", [(own_invoice, "10.00")])
    ledger.payment(other_customer, "5.00", [])

    with capture() as log:
        scope = read_scope(session, member_user)
    assert log.count == 1
    assert (scope.everything, scope.member_id, scope.customer_id) == (
        False,
        own.id,
        own_customer.id,
    )
    assert scope.may_read_member(own.id)
    assert not scope.may_read_member(other.id)
    assert scope.may_read_customer(own_customer.id)
    assert not scope.may_read_customer(other_customer.id)

    assert [m.id for m in session.scalars(readable_members(scope))] == [own.id]
    invoices = session.scalars(readable_invoices(scope)).all()
    assert {i.customer_id for i in invoices} == {own_customer.id}
    payments = session.scalars(readable_payments(scope)).all()
    assert {p.customer_id for p in payments} == {own_customer.id}
    assert session.scalars(readable_mandates(scope)).all() == []


def test_a_member_login_without_a_member_reads_nothing(session: Session, member_user: User):
    with pytest.raises(LoginNotLinkedToMember):
        read_scope(session, member_user)
