"""The desk in a real browser: a treasurer finds a member, registers a payment and sees the
member's history update; a Member opening a desk page gets the 403 page; axe-core on the desk's
pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from history_factories import bulk_ledger
from playwright.sync_api import Page, expect

from conftest import LiveServer, serious_violations, sign_in
from contexts import context_on
from member_factories import make_active_member, make_type
from verenigingen.auth.service import get_user_by_email
from verenigingen.db.session import unit_of_work
from verenigingen.members.models import BillingPeriod, Customer

TREASURER_EMAIL = "penningmeester@example.org"
ADMIN_EMAIL = "admin@example.org"
MEMBER_EMAIL = "wouter@example.org"


@pytest.fixture(scope="module")
def fenna(live_server: LiveServer) -> int:
    """Fenna Visser, with two invoices of 25.00 since October (the first paid, one open); the
    member this module's payments go to, so other tests' figures stay as they were."""
    context = context_on(live_server.engine)
    with unit_of_work(context.sessions) as session:
        admin = get_user_by_email(session, ADMIN_EMAIL)
        assert admin is not None
        yearly = make_type(session, period=BillingPeriod.ANNUAL, amount="30.00", name="Jaar Desk")
        member, _membership, _schedule = make_active_member(
            session, admin, yearly, start=dt.date(2026, 1, 1),
            first_name="Fenna", last_name="Visser", email="fenna@example.org",
        )  # fmt: skip
        customer = session.get(Customer, member.customer_id)
        assert customer is not None
        bulk_ledger(session, customer, member.id, 2, dt.date(2025, 10, 1))
        member_id = member.id
    context.close()
    return member_id


def test_a_treasurer_registers_a_payment_and_sees_the_history_update(
    page: Page, fenna: int
) -> None:
    sign_in(page, TREASURER_EMAIL)
    expect(page).to_have_url(re.compile(r"/desk$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    page.get_by_label("Search").fill("visser")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.members tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name="Visser, Fenna").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fenna Visser")
    history = page.locator("table.history tbody tr")
    expect(history).to_have_count(2)
    expect(page.locator("[data-outstanding]")).to_contain_text("€25.00")

    page.get_by_role("link", name="Register a payment").last.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register a payment")
    page.get_by_label("Amount received (€)").fill("25,001")
    page.get_by_role("button", name="Register the payment").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.get_by_label("Amount received (€)")).to_have_value("25,001")

    page.get_by_label("Amount received (€)").fill("25,00")
    page.get_by_label("Reference (optional)").fill("desk test")
    page.get_by_role("button", name="Register the payment").click()
    expect(page).to_have_url(re.compile(rf"/desk/members/{fenna}$"))
    expect(page.locator(".flash-success")).to_have_text("The payment is registered and allocated.")
    expect(page.locator("[data-outstanding]")).to_contain_text("€0.00")
    open_row = page.locator("table.history tbody tr").first
    expect(open_row.locator(".badge")).to_have_text("Paid")
    expect(open_row.locator("[data-payment]")).to_contain_text("€25.00")


def test_a_member_opening_a_desk_page_gets_the_403_page(page: Page) -> None:
    sign_in(page, MEMBER_EMAIL)
    expect(page).to_have_url(re.compile(r"/portal$"))
    response = page.goto("/desk/members")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("You may not see this page")


def test_no_serious_accessibility_violation_on_the_desk_pages(
    page_without_csp: Page, fenna: int
) -> None:
    page = page_without_csp
    sign_in(page, TREASURER_EMAIL)
    expect(page).to_have_url(re.compile(r"/desk$"))
    for path in (
        "/desk",
        "/desk/members?q=fenna",
        f"/desk/members/{fenna}",
        "/desk/invoices",
        "/desk/payments",
        f"/desk/payments/new?member_id={fenna}",
        "/desk/jobs",
    ):
        page.goto(path)
        assert serious_violations(page) == [], path
