"""A camt.053 built from the demo association's open invoices: imported and reconciled, every
invoice its members paid in full is settled, the one paid in part waits in review."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Engine, select

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.bank.models import BankStatementLine
from verenigingen.bank.reconcile import reconcile_open_lines
from verenigingen.bank.service import add_account, import_statement_file
from verenigingen.billing.models import DocStatus, Invoice
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.demo.generator import DemoOptions, load_demo
from verenigingen.members.models import Member

END = dt.date(2026, 6, 30)
ACCOUNT = "NL20INGB0001234567"


def statement_paying(invoices: list[tuple[Invoice, str | None]], partly: Invoice) -> bytes:
    """One credit per open invoice: its number in the remittance for the first half, only the
    payer's IBAN for the rest (when the member has one), and half of ``partly``."""
    entries = []
    for index, (invoice, iban) in enumerate(invoices):
        by_iban = index % 2 == 1 and iban is not None
        amount = invoice.outstanding_amount
        if invoice.id == partly.id:
            amount = (amount / 2).quantize(Decimal("0.01"))
        remittance = "contributie" if by_iban else f"Betaling {invoice.number}"
        entries.append((amount, iban if by_iban else "", remittance))
    total = sum((amount for amount, _, _ in entries), Decimal("0.00"))
    body = "".join(
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>{END}</Dt></BookgDt><AcctSvcrRef>DEMO-{n}</AcctSvcrRef><NtryDtls>"
        f"<TxDtls><RltdPties><DbtrAcct><Id><IBAN>{iban}</IBAN></Id></DbtrAcct></RltdPties>"
        f"<RmtInf><Ustrd>{remittance}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        for n, (amount, iban, remittance) in enumerate(entries)
    )
    return (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
        f"<Stmt><Id>DEMO-{END}</Id><Acct><Id><IBAN>{ACCOUNT}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">100.00</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{END}</Dt></Dt></Bal>"
        f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{100 + total}</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{END}</Dt></Dt></Bal>{body}</Stmt>"
        "</BkToCstmrStmt></Document>"
    ).encode()


def test_the_demo_association_paid_by_statement(fresh_sqlite: Engine) -> None:
    factory = make_session_factory(fresh_sqlite)
    load_demo(factory, DemoOptions(members=60, months=3, seed=11, end=END))
    with clock.frozen(END), unit_of_work(factory) as session:
        treasurer = session.scalars(
            select(User).where(User.email == "penningmeester@example.org")
        ).one()
        add_account(session, treasurer, ACCOUNT)
        open_invoices = session.execute(
            select(Invoice, Member.iban)
            .join(Member, Member.id == Invoice.member_id)
            .where(
                Invoice.docstatus == DocStatus.SUBMITTED,
                Invoice.is_return.is_(False),
                Invoice.outstanding_amount > 0,
            )
            .order_by(Invoice.id)
        ).all()
        # One invoice per member: the IBAN names the member, and the statement pays each once.
        seen: set[str | None] = set()
        invoices = []
        for invoice, iban in open_invoices:
            if iban not in seen or iban is None:
                seen.add(iban)
                invoices.append((invoice, iban))
        assert len(invoices) >= 5
        partly = invoices[0][0]
        result = import_statement_file(session, treasurer, statement_paying(invoices, partly))
        assert result.lines_added == len(invoices)

        outcome = reconcile_open_lines(session, treasurer)

        assert (outcome.allocated, outcome.review) == (len(invoices) - 1, 1)
        for invoice, _iban in invoices:
            session.refresh(invoice)
        assert [i.status for i, _ in invoices if i.id != partly.id] == ["Paid"] * (
            len(invoices) - 1
        )
        assert partly.status != "Paid"
        waiting = session.scalars(
            select(BankStatementLine).where(BankStatementLine.reconciliation_status == "Review")
        ).one()
        assert (waiting.match_invoice_id, waiting.match_score) == (partly.id, Decimal("0.50"))
