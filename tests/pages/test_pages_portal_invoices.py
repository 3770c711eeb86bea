"""The portal's invoices page (paged, the member's own) and the printable page per invoice."""

from __future__ import annotations

import datetime as dt
import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from conftest_pages import make_login, signed_in, text_of
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from member_factories import make_active_member, make_type
from verenigingen.auth.models import Role, User
from verenigingen.billing.models import Invoice, InvoiceLine
from verenigingen.billing.service.invoices import refresh_overdue
from verenigingen.history.models import MemberFinancialSummary
from verenigingen.history.summary import ledger_figures
from verenigingen.members.models import BillingPeriod, Customer, Member
from verenigingen.perf.capture import capture

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "history"))
from history_factories import bulk_ledger

pytestmark = pytest.mark.usefixtures("frozen_today")


def member_with_ledger(
    session: Session, admin: User, email: str, name: str, invoices: int
) -> Member:
    """A member with a login and ``invoices`` invoices of 25.00 since October 2025, every
    other one paid; those unpaid past their due date are Overdue on 2 March 2026."""
    monthly = make_type(session, period=BillingPeriod.MONTHLY, amount="12.50", name=f"Maand {name}")
    member, _membership, _schedule = make_active_member(
        session, admin, monthly, start=dt.date(2026, 1, 1), first_name=name
    )
    login = make_login(session, email, Role.MEMBER)
    member.user_id = login.id
    customer = session.get(Customer, member.customer_id)
    assert customer is not None
    bulk_ledger(session, customer, member.id, invoices, dt.date(2025, 10, 1))
    refresh_overdue(session, dt.date(2026, 3, 2))
    session.flush()
    return member


def invoices_of(session: Session, member: Member) -> list[Invoice]:
    """Newest first, as the page lists them."""
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.member_id == member.id)
            .order_by(Invoice.posting_date.desc(), Invoice.id.desc())
        )
    )


def with_line(session: Session, invoice: Invoice, description: str) -> Invoice:
    session.execute(
        insert(InvoiceLine).values(
            invoice_id=invoice.id,
            idx=1,
            description=description,
            quantity=Decimal("1"),
            rate=invoice.grand_total,
            amount=invoice.grand_total,
        )
    )
    session.flush()
    return invoice


@pytest.fixture
def wouter(session: Session, admin: User) -> Member:
    """Four invoices of 25.00 since October, two paid and two overdue."""
    return member_with_ledger(session, admin, "wouter@example.org", "Wouter", 4)


def test_a_member_sees_its_own_invoices_with_status_and_outstanding(
    web, session, admin, wouter
) -> None:
    anna = member_with_ledger(session, admin, "anna@example.org", "Anna", 2)
    signed_in(web, "wouter@example.org")
    page = web.get("/portal/invoices")
    assert page.status_code == 200
    own = invoices_of(session, wouter)
    assert re.findall(r'data-invoice="(\d+)"', page.text) == [str(i.id) for i in own]
    for theirs in invoices_of(session, anna):
        assert f'data-invoice="{theirs.id}"' not in page.text
    text = text_of(page.text)
    assert "Invoices 4 Outstanding €50.00 2 invoices overdue" in text
    rows = re.findall(r'<tr data-invoice="(\d+)">(.*?)</tr>', page.text, re.S)
    statuses = {int(i): re.search(r"badge-([a-z-]+)", row).group(1) for i, row in rows}  # type: ignore[union-attr]
    assert statuses == {
        invoice.id: ("paid" if invoice.outstanding_amount == 0 else "overdue") for invoice in own
    }
    assert f'href="/portal/invoices/{own[0].id}"' in page.text
    assert '<a href="/portal/invoices" aria-current="page">' in page.text
    assert page.headers["cache-control"] == "no-store"


def test_the_invoices_page_is_paged(web, session, admin) -> None:
    member = member_with_ledger(session, admin, "veel@example.org", "Veel", 25)
    signed_in(web, "veel@example.org")
    own = invoices_of(session, member)
    first = web.get("/portal/invoices")
    assert re.findall(r'data-invoice="(\d+)"', first.text) == [str(i.id) for i in own[:20]]
    assert "Page 1 of 2" in text_of(first.text)
    assert 'href="/portal/invoices?page=2" rel="next"' in first.text
    second = web.get("/portal/invoices?page=2")
    assert re.findall(r'data-invoice="(\d+)"', second.text) == [str(i.id) for i in own[20:]]
    assert 'href="/portal/invoices?page=1" rel="prev"' in second.text
    assert 'rel="next"' not in second.text
    assert re.findall(r'data-invoice="', web.get("/portal/invoices?page=3").text) == []


@pytest.mark.parametrize("page", ["0", "-1", "abc", "10001", "1e3"])
def test_a_bad_page_number_is_the_422_page(web, session, wouter, page) -> None:
    signed_in(web, "wouter@example.org")
    response = web.get(f"/portal/invoices?page={page}")
    assert response.status_code == 422
    assert "The request could not be read" in text_of(response.text)


def test_the_invoices_page_is_dutch(browser, session, wouter) -> None:
    web = signed_in(browser(language="nl"), "wouter@example.org")
    text = text_of(web.get("/portal/invoices").text)
    assert "Facturen" in text
    assert "Openstaand € 50,00 2 facturen te laat" in text
    assert "Te laat" in text
    assert "Betaald" in text


def test_the_printable_invoice(web, session, wouter) -> None:
    invoice = with_line(session, invoices_of(session, wouter)[0], "Contributie januari")
    signed_in(web, "wouter@example.org")
    page = web.get(f"/portal/invoices/{invoice.id}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert f"Invoice {invoice.number}" in text
    assert "Addressed to Wouter" in text
    assert "Contributie januari 1 €25.00 €25.00" in text
    assert "Total €25.00 Outstanding €25.00" in text
    assert f"Please pay €25.00 by {invoice.due_date.day} {invoice.due_date:%B %Y}, " in text
    assert "/static/print.js" in page.text
    assert "data-print" in page.text


def test_the_print_stylesheet_hides_the_frame() -> None:
    css = (Path(__file__).resolve().parents[2] / "src/verenigingen/web/static/app.css").read_text()
    print_rules = css[css.index("@media print") :]
    assert ".site-header, .site-footer" in print_rules
    assert ".no-print" in print_rules


def test_another_members_invoice_is_the_403_page_and_unknown_the_404(
    web, session, admin, wouter
) -> None:
    anna = member_with_ledger(session, admin, "anna@example.org", "Anna", 1)
    theirs = invoices_of(session, anna)[0]
    signed_in(web, "wouter@example.org")
    refused = web.get(f"/portal/invoices/{theirs.id}")
    assert refused.status_code == 403
    assert "You may not see this page" in text_of(refused.text)
    assert theirs.number not in refused.text
    missing = web.get("/portal/invoices/987654321")
    assert missing.status_code == 404
    assert "Page not found" in text_of(missing.text)
    assert web.get("/portal/invoices/abc").status_code == 422


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.TREASURER])
def test_other_roles_get_the_403_page(web, session, role) -> None:
    make_login(session, "staff@example.org", role)
    signed_in(web, "staff@example.org")
    assert web.get("/portal/invoices").status_code == 403
    assert web.get("/portal/invoices/1").status_code == 403


def test_anonymous_invoices_go_to_sign_in(web) -> None:
    response = web.get("/portal/invoices/7")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fportal%2Finvoices%2F7"


def statements(web: TestClient, path: str) -> int:
    with capture() as log:
        response = web.get(path)
    assert response.status_code == 200, response.text
    return log.count


@pytest.mark.parametrize("invoices", [2, 30])
def test_the_invoice_pages_cost_the_same_statements_whatever_the_invoices(
    web, session, admin, invoices
) -> None:
    """The list: the sign-in, the overview's member (with its summary) and memberships, the
    scope, the count, the page and its lines (7); one more, the ledger's totals, while the member
    has no summary row yet. One invoice: the sign-in, the invoice, its lines, the scope, the
    customer (5)."""
    member = member_with_ledger(session, admin, "veel@example.org", "Veel", invoices)
    first = with_line(session, invoices_of(session, member)[0], "Contributie")
    signed_in(web, "veel@example.org")
    assert statements(web, "/portal/invoices") == 8
    assert member.customer_id is not None
    figures = ledger_figures(session, member.customer_id)
    session.add(
        MemberFinancialSummary(
            member_id=member.id, customer_id=member.customer_id, version=1, **figures.values()
        )
    )
    session.flush()
    assert statements(web, "/portal/invoices") == 7
    assert statements(web, f"/portal/invoices/{first.id}") == 5
