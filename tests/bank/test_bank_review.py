"""The treasurer's review: accept a candidate, allocate by hand, split, mark unrelated; each
decision audited, each bad one refused with its rule and nothing written. SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from bank_samples import ING
from billing_factories import LedgerFactory
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_bank_reconcile import camt, line_with

from verenigingen.auth.models import User
from verenigingen.bank.errors import (
    AllocationsNotLineAmount,
    InvoiceNotACandidate,
    InvoiceNotOpen,
    LineAlreadyReconciled,
    LineCurrencyNotInvoiced,
    LineHasNoCandidate,
    LineNotMoneyIn,
)
from verenigingen.bank.models import BankStatementLine
from verenigingen.bank.reconcile import reconcile_open_lines
from verenigingen.bank.review import (
    accept_candidate,
    allocate_line,
    mark_unrelated,
    review_lines,
)
from verenigingen.bank.service import add_account, import_statement_file
from verenigingen.billing.errors import AllocationToAnotherCustomer
from verenigingen.billing.models import AuditEvent, Invoice, Payment, PaymentAllocation
from verenigingen.billing.schemas import AllocationIn
from verenigingen.db.paging import PageRequest
from verenigingen.errors import NotFound, PermissionDenied
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today")


def D(value: str) -> Decimal:
    return Decimal(value)


def allocations(*pairs: tuple[int, str]) -> list[AllocationIn]:
    return [AllocationIn(invoice_id=i, allocated_amount=D(a)) for i, a in pairs]


def written(session: Session) -> tuple[int, int, int]:
    """Payments, allocations and audit rows of bank lines: what a refused decision must not add."""
    return (
        session.scalar(select(func.count()).select_from(Payment)) or 0,
        session.scalar(select(func.count()).select_from(PaymentAllocation)) or 0,
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.entity == "bank_statement_line")
        )
        or 0,
    )


def audit_of(session: Session, line: BankStatementLine) -> list[tuple[str, Decimal, Any]]:
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity == "bank_statement_line", AuditEvent.entity_id == line.id)
        .order_by(AuditEvent.id)
    ).all()
    return [(row.event, row.amount, row.data) for row in rows]


class Desk:
    """An ING statement imported and reconciled: lines in review, open invoices to pay."""

    def __init__(self, session: Session, treasurer: User) -> None:
        self.session = session
        add_account(session, treasurer, ING)
        ledger = LedgerFactory(session, treasurer)
        self.family = ledger.customer()
        self.member = ledger.member(self.family)
        self.member.first_name, self.member.last_name = "Piet", "Klaassen"
        self.spring = ledger.invoice(self.family, "30.00", member=self.member)
        self.autumn = ledger.invoice(self.family, "20.00", member=self.member)
        self.other = ledger.invoice(ledger.customer(), "50.00")
        self.draft = ledger.invoice(self.family, "50.00", submit=False)
        session.flush()
        import_statement_file(
            session,
            treasurer,
            camt(
                [
                    {"amount": "30.00", "name": "Piet Klaassen", "remittance": "contributie"},
                    {"amount": "50.00", "remittance": "voor het hele jaar"},
                    {"amount": "15.00", "remittance": f"deel {self.spring.number}"},
                    {"amount": "250.00", "remittance": "subsidie gemeente"},
                    {"amount": "4.50", "direction": "DBIT", "remittance": "bankkosten"},
                ]
            ),
        )
        assert reconcile_open_lines(session, treasurer).review == 4

    def line(self, text: str) -> BankStatementLine:
        return line_with(self.session, text)


@pytest.fixture
def desk(any_session: Session, treasurer: User) -> Desk:
    return Desk(any_session, treasurer)


def test_review_lists_lines_with_their_candidates_in_constant_statements(
    desk: Desk, treasurer: User
) -> None:
    with capture() as three:
        first = review_lines(desk.session, treasurer, page=PageRequest(limit=3))
    with capture() as all_:
        everything = review_lines(desk.session, treasurer, page=PageRequest(limit=50))
    # The page, the invoices named, the members by name and their open invoices.
    assert len(three.queries) == len(all_.queries) == 4
    assert (len(everything.items), everything.next_cursor, everything.total) == (4, None, None)
    rest = review_lines(desk.session, treasurer, page=PageRequest(after=first.next_cursor))
    assert [item.line.id for item in [*first.items, *rest.items]] == [
        item.line.id for item in everything.items
    ]
    counted = review_lines(desk.session, treasurer, page=PageRequest(limit=1, count=True))
    assert counted.total == 4
    by_text = {item.line.remittance: item.candidates for item in everything.items}
    (named,) = by_text["contributie"]
    assert (named.invoice_id, named.score) == (desk.spring.id, D("0.60"))
    (partial,) = by_text[f"deel {desk.spring.number}"]
    assert (partial.invoice_id, partial.score) == (desk.spring.id, D("0.50"))
    assert by_text["subsidie gemeente"] == []


def test_accepting_the_best_candidate_pays_it_and_is_audited(desk: Desk, treasurer: User) -> None:
    line = desk.line("contributie")
    accept_candidate(desk.session, treasurer, line.id)
    assert (line.reconciliation_status, line.match_invoice_id) == ("Allocated", desk.spring.id)
    payment = desk.session.get(Payment, line.payment_id)
    assert payment is not None
    assert (payment.paid_amount, payment.docstatus, payment.customer_id) == (
        D("30.00"),
        1,
        desk.family.id,
    )
    desk.session.refresh(desk.spring)
    assert (desk.spring.outstanding_amount, desk.spring.status) == (D("0.00"), "Paid")
    ((event, amount, data),) = audit_of(desk.session, line)
    assert (event, amount) == ("bank_line.accepted", D("30.00"))
    assert data["invoice_id"] == desk.spring.id
    assert (data["score"], data["automatic"], data["payment_id"]) == ("0.60", False, payment.id)


def test_a_partial_payment_is_accepted_for_what_it_pays(desk: Desk, treasurer: User) -> None:
    line = desk.line(f"deel {desk.spring.number}")
    accept_candidate(desk.session, treasurer, line.id, invoice_id=desk.spring.id)
    desk.session.refresh(desk.spring)
    assert (desk.spring.outstanding_amount, desk.spring.status) == (D("15.00"), "Partly Paid")


def test_a_split_pays_several_invoices_with_one_payment(desk: Desk, treasurer: User) -> None:
    line = desk.line("voor het hele jaar")
    allocate_line(
        desk.session,
        treasurer,
        line.id,
        allocations((desk.spring.id, "30.00"), (desk.autumn.id, "20.00")),
    )
    assert line.reconciliation_status == "Allocated"
    rows = desk.session.execute(
        select(PaymentAllocation.invoice_id, PaymentAllocation.allocated_amount)
        .where(PaymentAllocation.payment_id == line.payment_id)
        .order_by(PaymentAllocation.invoice_id)
    ).all()
    assert [tuple(row) for row in rows] == [
        (desk.spring.id, D("30.00")),
        (desk.autumn.id, D("20.00")),
    ]
    for invoice in (desk.spring, desk.autumn):
        desk.session.refresh(invoice)
        assert invoice.outstanding_amount == D("0.00")
    ((event, _amount, data),) = audit_of(desk.session, line)
    assert event == "bank_line.allocated_by_hand"
    assert data["allocations"] == [
        {"invoice_id": desk.spring.id, "amount": "30.00"},
        {"invoice_id": desk.autumn.id, "amount": "20.00"},
    ]


def test_a_line_marked_unrelated_is_left_alone(desk: Desk, treasurer: User) -> None:
    grant = desk.line("subsidie gemeente")
    mark_unrelated(desk.session, treasurer, grant.id, note="  subsidie 2026 ")
    costs = desk.line("bankkosten")
    mark_unrelated(desk.session, treasurer, costs.id)
    assert (grant.reconciliation_status, costs.reconciliation_status) == ("Unrelated", "Unrelated")
    assert grant.payment_id is None
    assert audit_of(desk.session, grant) == [
        ("bank_line.unrelated", D("250.00"), {"payment_id": None, "note": "subsidie 2026"})
    ]
    assert reconcile_open_lines(desk.session, treasurer).review == 0
    assert [item.line.id for item in review_lines(desk.session, treasurer).items] == [
        desk.line(text).id
        for text in ("contributie", "voor het hele jaar", f"deel {desk.spring.number}")
    ]


@pytest.mark.parametrize(
    ("decide", "error"),
    [
        (
            lambda d, u, line: allocate_line(
                d.session, u, line("voor het hele jaar").id, allocations((d.spring.id, "30.00"))
            ),
            AllocationsNotLineAmount,
        ),
        (
            lambda d, u, line: allocate_line(
                d.session,
                u,
                line("voor het hele jaar").id,
                allocations((d.spring.id, "30.00"), (d.autumn.id, "25.00")),
            ),
            AllocationsNotLineAmount,
        ),
        (
            lambda d, u, line: allocate_line(
                d.session,
                u,
                line("voor het hele jaar").id,
                allocations((d.spring.id, "30.00"), (d.draft.id, "20.00")),
            ),
            InvoiceNotOpen,
        ),
        (
            lambda d, u, line: allocate_line(
                d.session,
                u,
                line("voor het hele jaar").id,
                allocations((d.spring.id, "30.00"), (d.other.id, "20.00")),
            ),
            AllocationToAnotherCustomer,
        ),
        (
            lambda d, u, line: allocate_line(
                d.session, u, line("voor het hele jaar").id, allocations((987654, "50.00"))
            ),
            NotFound,
        ),
        (
            lambda d, u, line: allocate_line(
                d.session, u, line("bankkosten").id, allocations((d.spring.id, "4.50"))
            ),
            LineNotMoneyIn,
        ),
        (
            lambda d, u, line: accept_candidate(d.session, u, line("subsidie gemeente").id),
            LineHasNoCandidate,
        ),
        (
            lambda d, u, line: accept_candidate(
                d.session, u, line("contributie").id, invoice_id=d.autumn.id
            ),
            InvoiceNotACandidate,
        ),
        (lambda d, u, line: accept_candidate(d.session, u, 987654), NotFound),
        (lambda d, u, line: mark_unrelated(d.session, u, 987654), NotFound),
    ],
    ids=[
        "short-of-the-line",
        "more-than-the-line",
        "a-draft-invoice",
        "another-customer",
        "unknown-invoice",
        "money-out",
        "no-candidate",
        "not-a-candidate",
        "unknown-line-accept",
        "unknown-line-unrelated",
    ],
)
def test_bad_decisions_are_refused_and_write_nothing(
    desk: Desk, treasurer: User, decide: Any, error: type[Exception]
) -> None:
    before = written(desk.session)
    with pytest.raises(error):
        decide(desk, treasurer, desk.line)
    assert written(desk.session) == before
    assert {
        line.reconciliation_status for line in desk.session.scalars(select(BankStatementLine))
    } == {"Review", "Open"}


def test_a_paid_invoice_is_not_open(desk: Desk, treasurer: User) -> None:
    accept_candidate(desk.session, treasurer, desk.line("contributie").id)
    line = desk.line("voor het hele jaar")
    with pytest.raises(InvoiceNotOpen, match=desk.spring.number):
        allocate_line(desk.session, treasurer, line.id, allocations((desk.spring.id, "50.00")))


def test_a_line_is_decided_once(desk: Desk, treasurer: User) -> None:
    line = desk.line("contributie")
    accept_candidate(desk.session, treasurer, line.id)
    before = written(desk.session)
    for decide in (
        lambda: accept_candidate(desk.session, treasurer, line.id),
        lambda: allocate_line(
            desk.session, treasurer, line.id, allocations((desk.autumn.id, "30.00"))
        ),
        lambda: mark_unrelated(desk.session, treasurer, line.id),
    ):
        with pytest.raises(LineAlreadyReconciled, match="Allocated by payment"):
            decide()
    assert written(desk.session) == before


def test_a_membership_secretary_reads_no_review_and_decides_nothing(
    desk: Desk, membership_secretary: User
) -> None:
    line = desk.line("subsidie gemeente")
    for decide in (
        lambda: review_lines(desk.session, membership_secretary),
        lambda: mark_unrelated(desk.session, membership_secretary, line.id),
        lambda: accept_candidate(desk.session, membership_secretary, line.id),
    ):
        with pytest.raises(PermissionDenied):
            decide()
    assert desk.session.get(Invoice, desk.spring.id) is not None


def test_a_line_in_another_currency_pays_no_invoice(desk: Desk, treasurer: User) -> None:
    usd = "NL36INGB0007654321"
    add_account(desk.session, treasurer, usd, currency="USD")
    document = (
        camt([{"amount": "30.00", "remittance": desk.spring.number}])
        .replace(ING.encode(), usd.encode())
        .replace(b'Ccy="EUR"', b'Ccy="USD"')
        .replace(b"<Ccy>EUR</Ccy>", b"<Ccy>USD</Ccy>")
        .replace(b"RECON-1", b"RECON-USD")
    )
    import_statement_file(desk.session, treasurer, document)
    assert reconcile_open_lines(desk.session, treasurer).review == 1  # no candidate in dollars
    line = desk.line(desk.spring.number)
    assert (line.currency, line.match_score) == ("USD", None)
    before = written(desk.session)
    with pytest.raises(LineCurrencyNotInvoiced, match="USD"):
        allocate_line(desk.session, treasurer, line.id, allocations((desk.spring.id, "30.00")))
    with pytest.raises(LineCurrencyNotInvoiced):
        accept_candidate(desk.session, treasurer, line.id)
    assert written(desk.session) == before
