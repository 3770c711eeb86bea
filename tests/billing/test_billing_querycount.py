"""Statement counts of the hot paths stay the same whatever the size of the ledger (no N+1)."""

from __future__ import annotations

from billing_factories import LedgerFactory
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing import queries
from verenigingen.billing.service.payments import submit_payment
from verenigingen.db.paging import PageRequest
from verenigingen.perf.capture import capture


def _as_in_a_new_request(session: Session, user: User) -> None:
    """Forget what the session holds, except the user (a request loads it to authenticate)."""
    session.expire_all()
    session.refresh(user)


def _submit_statements(session: Session, engine: Engine, ledger: LedgerFactory) -> int:
    customer = ledger.customer()
    first, second = ledger.invoice(customer, "50.00"), ledger.invoice(customer, "50.00")
    ledger.credit_note(first, "5.00")
    draft = ledger.payment(customer, "80.00", [(first, "40.00"), (second, "40.00")], submit=False)
    payment_id = draft.id
    _as_in_a_new_request(session, ledger.user)
    with capture() as log:
        submit_payment(session, ledger.user, payment_id)
    print(log)
    return log.count


def test_submit_payment_statements_do_not_grow_with_the_ledger(
    session: Session, sqlite_engine: Engine, ledger: LedgerFactory
) -> None:
    small = _submit_statements(session, sqlite_engine, ledger)
    ledger.invoice(ledger.customer(), "10.00")  # one more invoice in the database
    for _ in range(20):
        ledger.invoice(ledger.customer(), "10.00")
    large = _submit_statements(session, sqlite_engine, ledger)
    # SELECT the payment (locked) with its allocations and its customer's members; the two
    # invoices (locked) with their credit-note flags; UPDATE both invoices (one executemany) and
    # the payment; INSERT every audit row (one executemany); bump the cache tags of the customer
    # and its members (one upsert); add the payment's delta to its month's analytics (one
    # UPDATE: both invoices and the payment are of one month); no job, for a customer without
    # members has no summary to keep. The budget is 8.
    assert small == large == 7


def _list_statements(session: Session, engine: Engine, user: User) -> int:
    _as_in_a_new_request(session, user)
    with capture() as log:
        page = queries.list_invoices(session, user, page=PageRequest(500))
        lines = [line.amount for invoice in page.items for line in invoice.lines]
    print(log)
    assert len(lines) == len(page.items)
    return log.count


def test_list_invoices_statements_do_not_grow_with_the_page(
    session: Session, sqlite_engine: Engine, ledger: LedgerFactory, treasurer: User
) -> None:
    customer = ledger.customer()
    for _ in range(5):
        ledger.invoice(customer, "10.00")
    five = _list_statements(session, sqlite_engine, treasurer)
    for _ in range(45):
        ledger.invoice(customer, "10.00")
    fifty = _list_statements(session, sqlite_engine, treasurer)
    # the page + one selectin query for the lines of the whole page (no count unless asked)
    assert five == fifty == 2
