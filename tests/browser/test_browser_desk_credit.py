"""The desk in a real browser: a treasurer credits part of an invoice and cancels a payment,
each after its confirmation, and sees the member's history change with each; axe-core on the
invoice, payment and notifications pages and a confirmation."""

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


@pytest.fixture(scope="module")
def joost(live_server: LiveServer) -> int:
    """Joost de Vries, with two invoices of 25.00 since October (the first paid, one open);
    this module's own member, so that other tests' figures stay as they were."""
    context = context_on(live_server.engine)
    with unit_of_work(context.sessions) as session:
        admin = get_user_by_email(session, ADMIN_EMAIL)
        assert admin is not None
        yearly = make_type(session, period=BillingPeriod.ANNUAL, amount="30.00", name="Jaar Credit")
        member, _membership, _schedule = make_active_member(
            session, admin, yearly, start=dt.date(2026, 1, 1),
            first_name="Joost", last_name="de Vries", email="joost@example.org",
        )  # fmt: skip
        customer = session.get(Customer, member.customer_id)
        assert customer is not None
        bulk_ledger(session, customer, member.id, 2, dt.date(2025, 10, 1))
        member_id = member.id
    context.close()
    return member_id


def test_a_treasurer_credits_an_invoice_and_cancels_a_payment(page: Page, joost: int) -> None:
    sign_in(page, TREASURER_EMAIL)
    expect(page).to_have_url(re.compile(r"/desk$"))
    page.goto(f"/desk/members/{joost}")
    expect(page.locator("[data-outstanding]")).to_contain_text("€25.00")
    history = page.locator("table.history tbody tr")
    expect(history).to_have_count(2)
    paid_row = history.last  # newest first: the older invoice is the paid one
    expect(paid_row.locator(".badge")).to_have_text("Paid")

    # A credit note of 10.00 on the open invoice, refused first for want of a reason.
    page.goto(f"/desk/invoices?member_id={joost}")
    open_invoice = page.locator("table.invoices tbody tr").first
    open_invoice.get_by_role("link", name=re.compile(r"^INV-")).click()
    expect(page.locator("dd[data-outstanding]")).to_have_text("€25.00")
    page.get_by_label("The amount below").check()
    page.get_by_label("Amount to credit (€)").fill("10,00")
    page.get_by_role("button", name="Make the credit note").click()
    expect(page.locator(".error-summary")).to_contain_text("Say why the invoice is credited.")
    expect(page.get_by_label("Amount to credit (€)")).to_have_value("10,00")
    page.get_by_label("Reason", exact=True).fill("Korting vrijwilliger")
    page.get_by_role("button", name="Make the credit note").click()
    expect(page.locator(".confirm-question")).to_contain_text("Credit €10.00 of invoice")
    page.get_by_role("button", name="Yes, make the credit note").click()
    expect(page.locator(".flash-success")).to_contain_text("The credit note is made")
    expect(page.locator("dd[data-outstanding]")).to_have_text("€15.00")
    expect(page.locator("table.credit-notes tbody tr")).to_have_count(1)
    expect(page.locator("table.credit-notes")).to_contain_text("Korting vrijwilliger")

    page.get_by_role("link", name="Joost de Vries").click()
    expect(page.locator("[data-outstanding]")).to_contain_text("€15.00")

    # Cancel the payment that settled the older invoice.
    page.goto(f"/desk/payments?member_id={joost}")
    settling = page.locator("table.payments tbody tr[data-payment$='-0000']")
    settling.get_by_role("link", name=re.compile(r"^PAY-")).click()
    expect(page.locator("[data-status]")).to_have_text("Submitted")
    page.get_by_role("button", name="Cancel the payment").click()
    expect(page.locator(".confirm-question")).to_contain_text("€25.00?")
    page.get_by_role("button", name="Yes, cancel the payment").click()
    expect(page.locator(".flash-success")).to_contain_text("The payment is cancelled")
    expect(page.locator("[data-status]")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel the payment")).to_have_count(0)

    page.get_by_role("link", name="Joost de Vries").click()
    expect(page.locator("[data-outstanding]")).to_contain_text("€40.00")
    reopened = page.locator("table.history tbody tr").last
    expect(reopened.locator(".badge")).not_to_have_text("Paid")
    expect(reopened.locator("[data-payment]")).to_have_count(0)


def test_axe_finds_no_serious_violation(page_without_csp: Page, joost: int) -> None:
    page = page_without_csp
    sign_in(page, TREASURER_EMAIL)
    expect(page).to_have_url(re.compile(r"/desk$"))
    page.goto(f"/desk/invoices?member_id={joost}")
    invoice_path = (
        page.locator("table.invoices tbody tr")
        .last.get_by_role("link", name=re.compile(r"^INV-"))
        .get_attribute("href")
    )
    page.goto(f"/desk/payments?member_id={joost}")
    unallocated = page.locator("table.payments tbody tr[data-payment$='-extra']")
    payment_path = unallocated.get_by_role("link", name=re.compile(r"^PAY-")).get_attribute("href")
    assert invoice_path is not None
    assert payment_path is not None
    for path in (invoice_path, payment_path, "/desk/notifications"):
        page.goto(path)
        assert serious_violations(page) == [], path
    page.goto(payment_path)
    page.get_by_role("button", name="Cancel the payment").click()  # never confirmed here
    expect(page.locator(".confirm-question")).to_be_visible()
    assert serious_violations(page) == [], "the confirmation"
