"""Reconciliation: credit lines scored against open invoices; 0.85 and above paid and allocated
through billing, the rest in Review with their best candidate. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from bank_samples import ING
from billing_factories import LedgerFactory
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.bank.models import BankStatementLine, ReconciliationStatus
from verenigingen.bank.reconcile import ReconcileResult, reconcile_open_lines
from verenigingen.bank.review import review_lines
from verenigingen.bank.service import add_account, import_statement_file
from verenigingen.billing.models import Invoice, Payment
from verenigingen.errors import PermissionDenied
from verenigingen.perf.capture import capture
from verenigingen.settings.service import set_setting

pytestmark = pytest.mark.usefixtures("frozen_today")
RUN_STATEMENTS = 17
"""What a reconciliation run sends, whatever its lines (below a chunk of 500); one fewer on
PostgreSQL, where the payments' numbers are taken by one upsert instead of two statements."""

NTRY = (
    '<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd><Sts>BOOK</Sts>'
    "<BookgDt><Dt>2026-03-02</Dt></BookgDt><AcctSvcrRef>REF-{n}</AcctSvcrRef><NtryDtls><TxDtls>"
    "<RltdPties><Dbtr><Nm>{name}</Nm></Dbtr><DbtrAcct><Id><IBAN>{iban}</IBAN></Id></DbtrAcct>"
    "</RltdPties><RmtInf><Ustrd>{remittance}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
)


def camt(entries: list[dict[str, str]]) -> bytes:
    """A camt.053 of the association's ING account holding ``entries``, balanced."""
    total = sum(
        (
            Decimal(e["amount"]) * (1 if e.get("direction", "CRDT") == "CRDT" else -1)
            for e in entries
        ),
        Decimal("0.00"),
    )
    body = "".join(
        NTRY.format(n=n, **{"direction": "CRDT", "name": "", "iban": "", "remittance": "", **e})
        for n, e in enumerate(entries)
    )
    return (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<Stmt><Id>RECON-1</Id><Acct><Id><IBAN>{ING}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1000.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-01</Dt></Dt></Bal>"
        "<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="EUR">{Decimal("1000.00") + total}</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-02</Dt></Dt></Bal>{body}</Stmt>"
        "</BkToCstmrStmt></Document>"
    ).encode()


def line_with(session: Session, remittance_or_name: str) -> BankStatementLine:
    return session.scalars(
        select(BankStatementLine).where(
            (BankStatementLine.remittance == remittance_or_name)
            | (BankStatementLine.counterparty_name == remittance_or_name)
        )
    ).one()


def test_lines_are_scored_allocated_or_put_in_review(any_session: Session, treasurer: User) -> None:
    session = any_session
    add_account(session, treasurer, ING)
    ledger = LedgerFactory(session, treasurer)
    customer = ledger.customer()
    member = ledger.member(customer)
    member.iban = "NL44RABO0123456789"
    member.first_name, member.last_name = "Piet", "Klaassen"
    by_number = ledger.invoice(customer, "25.00", member=member)
    by_iban = ledger.invoice(customer, "37.50", member=member)
    by_name = ledger.invoice(customer, "12.00", member=member)
    session.flush()
    import_statement_file(
        session,
        treasurer,
        camt(
            [
                {"amount": "25.00", "remittance": f"Contributie {by_number.number.lower()}"},
                {"amount": "37.50", "iban": "NL44RABO0123456789", "remittance": "lid"},
                {"amount": "12.00", "name": "PIET  Klaassen", "remittance": "bijdrage"},
                {"amount": "20.00", "remittance": f"deel van {by_iban.number}"},
                {"amount": "99.00", "remittance": "gift"},
                {"amount": "5.00", "direction": "DBIT", "remittance": "bankkosten"},
            ]
        ),
    )

    result = reconcile_open_lines(session, treasurer)

    assert (result.allocated, result.review) == (2, 3)
    first = line_with(session, f"Contributie {by_number.number.lower()}")
    assert (first.reconciliation_status, first.match_score) == ("Allocated", Decimal("0.95"))
    payment = session.get(Payment, first.payment_id)
    assert payment is not None
    assert (payment.paid_amount, payment.docstatus, payment.customer_id) == (
        Decimal("25.00"),
        1,
        customer.id,
    )
    second = line_with(session, "lid")
    assert (second.reconciliation_status, second.match_score) == ("Allocated", Decimal("0.90"))
    for invoice in (by_number, by_iban):
        session.refresh(invoice)
        assert invoice.outstanding_amount == Decimal("0.00")
    named = line_with(session, "bijdrage")
    assert (named.reconciliation_status, named.match_score, named.match_invoice_id) == (
        "Review",
        Decimal("0.60"),
        by_name.id,
    )
    partial = line_with(session, f"deel van {by_iban.number}")
    assert partial.reconciliation_status == "Review"  # the invoice is paid now: no candidate
    gift = line_with(session, "gift")
    assert (gift.reconciliation_status, gift.match_score) == ("Review", None)
    costs = line_with(session, "bankkosten")
    assert costs.reconciliation_status == ReconciliationStatus.OPEN  # money out is not matched
    waiting = review_lines(session, treasurer).items
    assert [item.line.remittance for item in waiting] == [
        "bijdrage",
        f"deel van {by_iban.number}",
        "gift",
    ]
    # A second run finds nothing Open left to match.
    assert reconcile_open_lines(session, treasurer) == type(result)(0, 0)


def test_an_invoice_takes_one_line_per_run(any_session: Session, treasurer: User) -> None:
    session = any_session
    add_account(session, treasurer, ING)
    ledger = LedgerFactory(session, treasurer)
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "45.00", due_date=dt.date(2026, 3, 31))
    import_statement_file(
        session,
        treasurer,
        camt([{"amount": "45.00", "remittance": f"{invoice.number} nr {n}"} for n in (1, 2)]),
    )
    assert reconcile_open_lines(session, treasurer).allocated == 1
    session.refresh(invoice)
    assert invoice.outstanding_amount == Decimal("0.00")
    assert session.scalar(select(Invoice).where(Invoice.id == invoice.id)) is not None


def test_the_threshold_is_a_runtime_setting(
    any_session: Session, treasurer: User, admin: User
) -> None:
    """Raised to 0.95, a match by IBAN (0.90) waits for review; by invoice number it is paid."""
    session = any_session
    set_setting(session, admin, "bank_auto_allocate_score", "0.95")
    add_account(session, treasurer, ING)
    ledger = LedgerFactory(session, treasurer)
    customer = ledger.customer()
    member = ledger.member(customer)
    member.iban = "NL44RABO0123456789"
    by_iban = ledger.invoice(customer, "37.50", member=member)
    by_number = ledger.invoice(customer, "25.00", member=member)
    session.flush()
    import_statement_file(
        session,
        treasurer,
        camt(
            [
                {"amount": "37.50", "iban": "NL44RABO0123456789", "remittance": "lid"},
                {"amount": "25.00", "remittance": by_number.number},
            ]
        ),
    )
    assert reconcile_open_lines(session, treasurer) == ReconcileResult(allocated=1, review=1)
    waiting = line_with(session, "lid")
    assert (waiting.reconciliation_status, waiting.match_invoice_id) == ("Review", by_iban.id)


def test_a_membership_secretary_may_not_reconcile(
    any_session: Session, membership_secretary: User
) -> None:
    with pytest.raises(PermissionDenied):
        reconcile_open_lines(any_session, membership_secretary)


@pytest.mark.parametrize("lines", [5, 25])
def test_a_run_costs_the_same_statements_for_5_lines_as_for_25(
    any_session: Session, treasurer: User, lines: int
) -> None:
    """Candidates loaded up front, payments recorded in bulk, decisions written in one
    statement: the run's statements do not grow with its lines (below a chunk of 500)."""
    session = any_session
    add_account(session, treasurer, ING)
    ledger = LedgerFactory(session, treasurer)
    entries = []
    for n in range(lines):
        customer = ledger.customer()
        member = ledger.member(customer)
        member.iban = "NL44RABO0123456789" if n == 0 else None
        invoice = ledger.invoice(customer, "12.50", member=member)
        entries.append({"amount": "12.50", "remittance": invoice.number})
        entries.append({"amount": "3.00", "name": f"{member.first_name} {member.last_name}"})
    session.flush()
    import_statement_file(session, treasurer, camt(entries))
    with capture() as run:
        result = reconcile_open_lines(session, treasurer)
    assert (result.allocated, result.review) == (lines, lines)
    # The lines, the settings, the candidates (invoices named, members by name, their open
    # invoices), the payments in bulk (locks, numbers, inserts, outstanding, audit, events),
    # the decisions and the audit of the lines.
    expected = RUN_STATEMENTS - (1 if session.get_bind().dialect.name == "postgresql" else 0)
    assert len(run.queries) == expected
