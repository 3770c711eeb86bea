"""The portal's pages in a real browser: invoices and the printed invoice, signing a mandate
with the IBAN checked as it is typed, revoking one, the profile, a treasurer's payment showing
up in the member's history, and axe-core on every portal page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from conftest import (
    MEMBER_EMAIL,
    OTHER_EMAIL,
    PAYING_EMAIL,
    PROFILE_EMAIL,
    REVOKING_EMAIL,
    SIGNING_EMAIL,
    LiveServer,
    serious_violations,
    sign_in,
)
from contexts import context_on
from verenigingen.auth.models import User
from verenigingen.auth.service import get_user_by_email, issue_token
from verenigingen.db.session import unit_of_work
from verenigingen.jobs import enqueue
from verenigingen.jobs.models import Job
from verenigingen.members.models import Member
from verenigingen.sepa.models import SepaMandate

TYPO_IBAN = "NL91 ABNA 0417 1643 01"
VALID_IBAN = "NL91 ABNA 0417 1643 00"


def signed_in_at(page: Page, email: str, path: str) -> None:
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/portal$"))
    page.goto(path)


def test_the_invoices_and_the_printed_invoice(page: Page) -> None:
    signed_in_at(page, MEMBER_EMAIL, "/portal")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Invoices")
    rows = page.locator("table.listing tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("main")).to_contain_text("2 invoices overdue")
    expect(rows.first.locator(".badge")).to_have_text("Overdue")
    number = rows.first.locator("a").inner_text()
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Invoice {number}")
    expect(page.locator("main")).to_contain_text("Please pay €25.00 by")
    print_button = page.get_by_role("button", name="Print")
    expect(print_button).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".site-footer")).to_be_hidden()
    expect(print_button).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.emulate_media(media="screen")
    expect(print_button).to_be_visible()


def test_another_members_invoice_is_the_403_page(page: Page) -> None:
    signed_in_at(page, MEMBER_EMAIL, "/portal/invoices")
    href = page.locator("table.listing tbody tr a").first.get_attribute("href")
    assert href is not None
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, OTHER_EMAIL)
    expect(page).to_have_url(re.compile(r"/portal$"))
    response = page.goto(href)
    assert response is not None
    assert response.status == 403
    expect(page.locator("h1")).to_have_text(
        re.compile("You may not see this page|U mag deze pagina niet bekijken")
    )


def test_sign_a_mandate_with_an_invalid_iban_then_a_valid_one(page: Page) -> None:
    signed_in_at(page, SIGNING_EMAIL, "/portal/mandates")
    expect(page.locator("main")).to_contain_text("You have no direct debit mandate yet.")
    iban = page.get_by_label("IBAN")
    iban.fill(TYPO_IBAN)  # the field asks the server as it is typed
    expect(page.locator("#iban-check")).to_contain_text("This is not a valid IBAN")
    page.get_by_label("I give this authorisation").check()
    page.get_by_role("button", name="Sign the mandate").click()
    expect(page.get_by_role("alert")).to_contain_text("This is not a valid IBAN")
    expect(page.get_by_label("IBAN")).to_have_value(TYPO_IBAN)
    expect(page.get_by_label("IBAN")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("I give this authorisation")).to_be_checked()
    page.get_by_label("IBAN").fill(VALID_IBAN)
    expect(page.locator("#iban-check")).to_contain_text("A valid IBAN (bank ABNANL2A).")
    page.get_by_role("button", name="Sign the mandate").click()
    expect(page.get_by_role("status")).to_contain_text("Your mandate is signed.")
    row = page.locator("table.listing tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("NL91**********4300")
    expect(row.locator(".badge")).to_have_text("Active")


def test_revoke_a_mandate_after_confirming(page: Page) -> None:
    signed_in_at(page, REVOKING_EMAIL, "/portal/mandates")
    row = page.locator("table.listing tbody tr")
    expect(row.locator(".badge")).to_have_text("Active")
    row.get_by_role("link", name=re.compile("^Revoke")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Revoke mandate")
    page.get_by_label("Reason (optional)").fill("andere bank")
    page.get_by_role("button", name="Revoke the mandate").click()
    expect(page).to_have_url(re.compile(r"/portal/mandates$"))
    expect(page.get_by_role("status")).to_contain_text("The mandate is revoked.")
    expect(row.locator(".badge")).to_have_text("Cancelled")
    expect(row.get_by_role("link", name=re.compile("^Revoke"))).to_have_count(0)


def test_another_members_mandate_is_the_404_page(page: Page, live_server: LiveServer) -> None:
    with live_server.engine.connect() as connection:
        eva = connection.scalar(
            select(SepaMandate.id)
            .join(Member, Member.id == SepaMandate.member_id)
            .join(User, User.id == Member.user_id)
            .where(User.email == PROFILE_EMAIL)
        )
    signed_in_at(page, MEMBER_EMAIL, "/portal")
    response = page.goto(f"/portal/mandates/{eva}/revoke")
    assert response is not None
    assert response.status == 404  # as the API: another member's mandate is not revealed


def test_change_the_profile_and_the_language(page: Page) -> None:
    signed_in_at(page, PROFILE_EMAIL, "/portal/profile")
    expect(page.locator("main")).to_contain_text("NL91**********4300")
    page.get_by_label("City").fill("Zwolle")
    page.get_by_label("Email address").fill("geen-adres")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter an email address like")
    expect(page.get_by_label("City")).to_have_value("Zwolle")
    page.get_by_label("Email address").fill("eva.nieuw@example.org")
    page.get_by_label("Preferred language").select_option("nl")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Uw gegevens zijn opgeslagen.")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_label("Plaats")).to_have_value("Zwolle")


def test_a_treasurers_payment_through_the_api_shows_up_in_the_history(
    page: Page, live_server: LiveServer
) -> None:
    context = context_on(live_server.engine)
    with unit_of_work(context.sessions) as session:
        treasurer = get_user_by_email(session, "penningmeester@example.org")
        token = issue_token(session, treasurer, label="browser test")
        customer_id = session.scalar(
            select(Member.customer_id)
            .join(User, User.id == Member.user_id)
            .where(User.email == PAYING_EMAIL)
        )
    context.close()
    signed_in_at(page, PAYING_EMAIL, "/portal/history")
    expect(page.locator("[data-outstanding]").first).to_contain_text("€25.00")
    answer = page.request.post(
        "/api/v1/payments",
        headers={"authorization": f"Bearer {token}"},
        data={"customer_id": customer_id, "paid_amount": "25.00", "submit": True,
              "reference_no": "browser-test"},
    )  # fmt: skip
    assert answer.status == 201, answer.text()
    page.reload()
    expect(page.locator("[data-outstanding]").first).to_contain_text("€0.00")
    rows = page.locator("table.history tbody tr")
    expect(rows.locator(".badge-paid")).to_have_count(2)


def test_retry_a_failed_job_from_the_portal(page: Page, live_server: LiveServer) -> None:
    context = context_on(live_server.engine)
    with unit_of_work(context.sessions) as session:
        owner = get_user_by_email(session, REVOKING_EMAIL)
        job = enqueue(session, "dues.generate", user=owner, batch_size=10)
        session.flush()
        session.execute(
            update(Job).where(Job.id == job.id).values(status="Failed", attempts=1, dedup_key=None)
        )
        job_id = job.id
    context.close()
    signed_in_at(page, REVOKING_EMAIL, "/portal/jobs")
    row = page.locator(f'tr[data-job="{job_id}"]')
    expect(row.locator(".badge")).to_have_text("Failed")
    row.get_by_role("button", name="Retry").click()
    expect(page).to_have_url(re.compile(r"/portal/jobs$"))
    expect(page.get_by_role("status")).to_have_text("The job is queued to run again.")
    expect(row.locator(".badge")).to_have_text("Queued")
    expect(row.get_by_role("button", name="Retry")).to_have_count(0)


PORTAL_PAGES = (
    "/portal",
    "/portal/history",
    "/portal/invoices",
    "/portal/mandates",
    "/portal/jobs",
    "/portal/notifications",
    "/portal/profile",
)


def test_no_serious_accessibility_violation_on_the_portal_pages(page_without_csp: Page) -> None:
    page = page_without_csp
    signed_in_at(page, MEMBER_EMAIL, "/portal")
    found = {}
    for path in PORTAL_PAGES:
        page.goto(path)
        found[path] = serious_violations(page)
    page.goto("/portal/invoices")
    page.locator("table.listing tbody tr a").first.click()
    found["invoice"] = serious_violations(page)
    page.goto("/portal/mandates")
    page.get_by_label("IBAN").fill(TYPO_IBAN)
    expect(page.locator("#iban-check")).to_contain_text("not a valid IBAN")
    page.get_by_role("button", name="Sign the mandate").click()  # the form with its errors
    expect(page.get_by_role("alert")).to_be_visible()
    found["mandates with errors"] = serious_violations(page)
    assert found == {name: [] for name in found}


def test_no_serious_accessibility_violation_on_the_revoke_page(page_without_csp: Page) -> None:
    page = page_without_csp
    signed_in_at(page, PROFILE_EMAIL, "/portal/mandates")
    page.locator("table.listing tbody tr").first.get_by_role(
        "link", name=re.compile("^(Revoke|Intrekken)")
    ).click()
    assert serious_violations(page) == []
