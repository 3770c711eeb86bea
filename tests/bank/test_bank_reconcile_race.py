"""A reconciliation run and a treasurer's decision at once on a server database: the run skips
the line the treasurer holds, so the line is decided once and paid at most once."""

from __future__ import annotations

import threading

from bank_samples import ING
from billing_factories import LedgerFactory
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from test_bank_reconcile import camt

from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.bank.models import BankStatementLine
from verenigingen.bank.reconcile import ReconcileResult, reconcile_open_lines
from verenigingen.bank.review import mark_unrelated
from verenigingen.bank.service import add_account, import_statement_file
from verenigingen.billing.models import Payment


def test_a_run_skips_the_line_a_treasurer_is_deciding(committed_server_engine: Engine) -> None:
    with Session(committed_server_engine) as session, session.begin():
        user = create_user(session, "race@example.org", Role.TREASURER)
        add_account(session, user, ING)
        ledger = LedgerFactory(session, user)
        invoice = ledger.invoice(ledger.customer(), "25.00")
        import_statement_file(
            session,
            user,
            camt([{"amount": "25.00", "remittance": invoice.number}, {"amount": "9.00"}]),
        )
        user_id = user.id
        paying, gift = session.scalars(
            select(BankStatementLine.id).order_by(BankStatementLine.id)
        ).all()
    treasurer = Session(committed_server_engine)
    treasurer.begin()
    mark_unrelated(treasurer, treasurer.get_one(User, user_id), paying)  # holds the line
    outcome: list[ReconcileResult] = []

    def run() -> None:
        with Session(committed_server_engine) as session, session.begin():
            outcome.append(reconcile_open_lines(session, session.get_one(User, user_id)))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        thread.join(timeout=10)
        skipped = not thread.is_alive()
    finally:
        treasurer.commit()
        treasurer.close()
        thread.join(timeout=30)
    assert skipped, "the run should skip the held line, not wait for it"
    assert outcome == [ReconcileResult(allocated=0, review=1)]
    with Session(committed_server_engine) as session:
        statuses = dict(
            session.execute(
                select(BankStatementLine.id, BankStatementLine.reconciliation_status)
            ).all()
        )
        assert statuses == {paying: "Unrelated", gift: "Review"}
        assert session.scalar(select(func.count()).select_from(Payment)) == 0
