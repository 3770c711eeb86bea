"""The portal's payment history page: the member's own, paged, through the history's cache."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import pytest
from conftest_pages import make_login, signed_in, text_of
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from member_factories import make_active_member, make_type
from verenigingen.auth.models import Role, User
from verenigingen.billing.service.invoices import refresh_overdue
from verenigingen.members.models import BillingPeriod, Customer, Member
from verenigingen.perf.capture import capture

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "history"))
from history_factories import bulk_ledger

pytestmark = pytest.mark.usefixtures("frozen_today")


def member_with_ledger(
    session: Session, admin: User, email: str, name: str, invoices: int
) -> Member:
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


@pytest.fixture
def wouter(session: Session, admin: User) -> Member:
    """Four invoices of 25.00 since October, two paid and two overdue."""
    return member_with_ledger(session, admin, "wouter@example.org", "Wouter", 4)


def history_statements(web: TestClient, path: str = "/portal/history") -> int:
    with capture() as log:
        response = web.get(path)
    assert response.status_code == 200, response.text
    return log.count


def test_a_member_sees_its_own_history(web, session, wouter) -> None:
    signed_in(web, "wouter@example.org")
    page = web.get("/portal/history")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Payment history" in text
    assert "Invoices 4" in text
    assert "Invoiced in total €100.00" in text
    assert "Outstanding €50.00" in text
    assert text.count("Overdue") == 2
    assert len(re.findall(r'data-invoice="', page.text)) == 4
    assert '<a href="/portal/history" aria-current="page">' in page.text
    assert page.headers["cache-control"] == "no-store"
    by_id = web.get(f"/portal/members/{wouter.id}/history")
    assert by_id.status_code == 200
    assert len(re.findall(r'data-invoice="', by_id.text)) == 4


def test_the_history_is_dutch_with_dutch_amounts(browser, session, wouter) -> None:
    web = signed_in(browser(language="nl-NL,nl;q=0.9"), "wouter@example.org")
    text = text_of(web.get("/portal/history").text)
    assert "Betalingsgeschiedenis" in text
    assert "Openstaand € 50,00" in text
    assert "€ 25,00" in text
    assert "Te laat" in text


def test_another_members_history_is_the_403_page(web, session, admin, wouter) -> None:
    other = member_with_ledger(session, admin, "anna@example.org", "Anna", 2)
    signed_in(web, "wouter@example.org")
    page = web.get(f"/portal/members/{other.id}/history")
    assert page.status_code == 403
    assert "You may not see this page" in text_of(page.text)
    assert "Anna" not in page.text
    missing = web.get("/portal/members/999999999/history")
    assert missing.status_code == 403  # a Member learns nothing of ids that are not its own


def test_bad_addresses_of_the_history(web, session, wouter) -> None:
    signed_in(web, "wouter@example.org")
    assert web.get("/portal/history?before=not-a-cursor").status_code == 422
    assert web.get("/portal/members/0/history").status_code == 422
    assert web.get("/portal/members/abc/history").status_code == 422


def test_a_login_without_a_member_gets_the_403_page(web, session) -> None:
    make_login(session, "lid@example.org", Role.MEMBER)
    signed_in(web, "lid@example.org")
    assert web.get("/portal/history").status_code == 403


def test_anonymous_history_goes_to_sign_in(web) -> None:
    response = web.get("/portal/history")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fportal%2Fhistory"


def test_the_history_pages_through_older_invoices(web, session, admin) -> None:
    member_with_ledger(session, admin, "wouter@example.org", "Wouter", 45)
    signed_in(web, "wouter@example.org")
    first = web.get("/portal/history")
    assert len(re.findall(r'data-invoice="', first.text)) == 20
    older = re.search(r'href="(/portal/history\?before=[^"]+)" rel="next"', first.text)
    assert older is not None
    second = web.get(older.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert len(re.findall(r'data-invoice="', second.text)) == 20
    assert not set(re.findall(r'data-invoice="([^"]+)"', first.text)) & set(
        re.findall(r'data-invoice="([^"]+)"', second.text)
    )
    assert '<a href="/portal/history">' in second.text


@pytest.mark.parametrize("invoices", [4, 60])
def test_the_history_costs_the_same_statements_whatever_its_size(
    web, session, admin, invoices
) -> None:
    """Cold: the sign-in, the login's member id, the history's three; warm: the cache's one in
    place of the three."""
    member_with_ledger(session, admin, "wouter@example.org", "Wouter", invoices)
    signed_in(web, "wouter@example.org")
    assert history_statements(web) == 5
    assert history_statements(web) == 3
