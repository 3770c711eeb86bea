"""The simple member payment history: a customer's ledger in a constant number of statements."""

from __future__ import annotations

import pytest
from billing_factories import LedgerFactory
from sqlalchemy.orm import Session

from verenigingen.auth.errors import NotOwnRecord
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.billing.queries import customer_ledger
from verenigingen.errors import NotFound
from verenigingen.perf.assertions import assert_queries


def _as_in_a_new_request(session: Session, ledger: LedgerFactory) -> None:
    """Nothing cached in the session but the user (a request loads it to authenticate)."""
    session.expire_all()
    session.refresh(ledger.user)


def _customer_with(ledger: LedgerFactory, invoices: int) -> int:
    customer = ledger.customer()
    for number in range(invoices):
        invoice = ledger.invoice(customer, "12.50")
        if number % 2 == 0:
            ledger.payment(customer, "12.50", [(invoice, "12.50")])
    ledger.payment(customer, "3.00", [])  # an unallocated payment belongs to the history too
    return customer.id


@pytest.mark.parametrize("invoices", [1, 10, 40])
def test_three_statements_whatever_the_number_of_invoices(
    session: Session, ledger: LedgerFactory, invoices: int
) -> None:
    customer_id = _customer_with(ledger, invoices)
    _as_in_a_new_request(session, ledger)
    with assert_queries(3):
        history = customer_ledger(session, ledger.user, customer_id)
        allocated = [a.invoice_id for p in history.payments for a in p.allocations]
    assert len(history.invoices) == invoices
    assert len(history.payments) == (invoices + 1) // 2 + 1
    assert set(allocated) <= {invoice.id for invoice in history.invoices}
    assert [i.posting_date for i in history.invoices] == sorted(
        i.posting_date for i in history.invoices
    )


def test_an_empty_ledger_is_one_statement_cheaper_and_an_unknown_customer_is_404(
    session: Session, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    _as_in_a_new_request(session, ledger)
    with assert_queries(3):  # invoices, payments (no allocations to load), customer exists
        history = customer_ledger(session, ledger.user, customer.id)
    assert history.invoices == []
    assert history.payments == []
    with pytest.raises(NotFound):
        customer_ledger(session, ledger.user, customer.id + 10_000)


def test_a_member_reads_only_its_own_customer(session: Session, ledger: LedgerFactory) -> None:
    own, other = ledger.customer(), ledger.customer()
    login = create_user(session, "lid@example.org", Role.MEMBER)
    ledger.member(own, login)
    assert customer_ledger(session, login, own.id).customer_id == own.id
    with pytest.raises(NotOwnRecord):
        customer_ledger(session, login, other.id)
