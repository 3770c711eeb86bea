"""Twenty payments race for one invoice on PostgreSQL and MariaDB: none may over-allocate.

Each thread works in its own session and transaction, as twenty API requests would. The invoice
row lock in ``submit_payment`` makes them queue; whoever comes after the invoice is (nearly)
settled is refused with a domain error, and the ledger adds up afterwards.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from billing_factories import D, LedgerFactory
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import DocStatus, Invoice, Payment, PaymentAllocation
from verenigingen.billing.numbering import next_payment_numbers
from verenigingen.billing.schemas import AllocationIn, PaymentCreate
from verenigingen.billing.service.payments import create_payment, submit_payment
from verenigingen.clock import today
from verenigingen.db.session import make_session_factory
from verenigingen.errors import Conflict, ValidationFailed

THREADS = 20
SHARE = D("15.00")
TOTAL = D("100.00")
WINNERS = 6  # 6 times 15.00 = 90.00 fits in 100.00; a seventh would not


def _setup(factory: sessionmaker[Session], drafts: int) -> tuple[User, int, int, list[int]]:
    """Commit a Treasurer, a customer with one submitted invoice and ``drafts`` draft payments."""
    with factory() as session, session.begin():
        user = create_user(session, f"kas-{uuid.uuid4().hex[:8]}@example.org", Role.TREASURER)
        ledger = LedgerFactory(session, user)
        customer = ledger.customer()
        invoice = ledger.invoice(customer, TOTAL)
        # The year's payment series exists before the race, as it does after the first payment.
        next_payment_numbers(session, today())
        draft_ids = [
            ledger.payment(customer, SHARE, [(invoice, SHARE)], submit=False).id
            for _ in range(drafts)
        ]
        return user, customer.id, invoice.id, draft_ids


def _race(work: list[object], run: object) -> list[str]:
    barrier = threading.Barrier(len(work))

    def attempt(item: object) -> str:
        barrier.wait()
        try:
            run(item)  # type: ignore[operator]
        except (Conflict, ValidationFailed):
            return "refused"
        return "submitted"

    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        return list(pool.map(attempt, work))


def _check_ledger(factory: sessionmaker[Session], invoice_id: int, outcomes: list[str]) -> None:
    assert outcomes.count("submitted") == WINNERS, outcomes
    assert outcomes.count("refused") == THREADS - WINNERS
    with factory() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        allocated: Decimal | None = session.scalar(
            select(func.sum(PaymentAllocation.allocated_amount))
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(
                PaymentAllocation.invoice_id == invoice_id,
                Payment.docstatus == DocStatus.SUBMITTED,
            )
        )
        assert allocated == SHARE * WINNERS
        assert invoice.outstanding_amount == TOTAL - SHARE * WINNERS
        assert allocated == invoice.grand_total - invoice.outstanding_amount
        assert 0 <= invoice.outstanding_amount <= invoice.grand_total


def test_racing_create_and_submit_never_over_allocate(committed_server_engine: Engine) -> None:
    factory = make_session_factory(committed_server_engine)
    user, customer_id, invoice_id, _ = _setup(factory, drafts=0)

    def create_and_submit(_index: object) -> None:
        with factory() as session, session.begin():
            payment = create_payment(
                session,
                user,
                PaymentCreate(
                    customer_id=customer_id,
                    paid_amount=SHARE,
                    allocations=[AllocationIn(invoice_id=invoice_id, allocated_amount=SHARE)],
                ),
            )
            submit_payment(session, user, payment.id)

    outcomes = _race(list(range(THREADS)), create_and_submit)
    _check_ledger(factory, invoice_id, outcomes)


def test_racing_submits_of_drafts_never_over_allocate(committed_server_engine: Engine) -> None:
    # Drafts made beforehand: the racers share no naming-series lock, only the invoice row.
    factory = make_session_factory(committed_server_engine)
    user, _customer_id, invoice_id, draft_ids = _setup(factory, drafts=THREADS)

    def submit(payment_id: object) -> None:
        with factory() as session, session.begin():
            submit_payment(session, user, payment_id)  # type: ignore[arg-type]

    outcomes = _race(list(draft_ids), submit)
    _check_ledger(factory, invoice_id, outcomes)
