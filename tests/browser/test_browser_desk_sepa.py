"""The desk's SEPA and bank pages in a real browser: a treasurer makes a batch for a collection
date (a refused date first), downloads its XML and the file passes the XSD; imports a bank
statement and accepts a line's candidate; axe-core on the new pages."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import pytest
from history_factories import bulk_ledger
from lxml import etree
from playwright.sync_api import Page, expect
from sqlalchemy import select

from conftest import LiveServer, serious_violations, sign_in
from contexts import context_on
from member_factories import make_active_member, make_type
from verenigingen import clock
from verenigingen.auth.service import get_user_by_email
from verenigingen.bank.service import add_account
from verenigingen.db.session import unit_of_work
from verenigingen.jobs.models import Job
from verenigingen.members.models import BillingPeriod, Customer
from verenigingen.sepa.checks import CHECK_BATCH
from verenigingen.sepa.creditor import required_creditor
from verenigingen.sepa.pain008 import schema
from verenigingen.sepa.schemas import MandateCreate
from verenigingen.sepa.service import create_mandate
from verenigingen.sepa.target2 import earliest_collection_date

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bank"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "billing"))
from bank_samples import ING
from test_bank_reconcile import camt

TREASURER_EMAIL = "penningmeester@example.org"
ADMIN_EMAIL = "admin@example.org"


@pytest.fixture(scope="module")
def members(live_server: LiveServer) -> dt.date:
    """Lotte Smit with a mandate and an open invoice of 25.00 (what a batch collects); Joost
    Dekker with an open invoice of 25.00 and no mandate (what a statement line pays); the
    association's ING account. The first collection date the creditor allows now."""
    context = context_on(live_server.engine)
    with unit_of_work(context.sessions) as session:
        admin = get_user_by_email(session, ADMIN_EMAIL)
        assert admin is not None
        yearly = make_type(session, period=BillingPeriod.ANNUAL, amount="30.00", name="Jaar SEPA")
        for first_name, last_name in (("Lotte", "Smit"), ("Joost", "Dekker")):
            member, _membership, _schedule = make_active_member(
                session, admin, yearly, start=dt.date(2026, 1, 1),
                first_name=first_name, last_name=last_name, email=f"{first_name}@example.org",
            )  # fmt: skip
            customer = session.get(Customer, member.customer_id)
            assert customer is not None
            bulk_ledger(session, customer, member.id, 2, dt.date(2025, 10, 1))
            if first_name == "Lotte":
                signed = MandateCreate(iban="NL91ABNA0417164300", sign_date=dt.date(2026, 1, 15))
                create_mandate(session, admin, member.id, signed)
        add_account(session, admin, ING)
        creditor = required_creditor(session)
        day = earliest_collection_date(clock.now(), creditor.cutoff_time, creditor.lead_days)
    context.close()
    return day


def test_a_treasurer_makes_a_batch_and_downloads_xml_that_passes_the_xsd(
    page: Page, members: dt.date, live_server: LiveServer, worker
) -> None:
    sign_in(page, TREASURER_EMAIL)
    expect(page).to_have_url(re.compile(r"/desk$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="SEPA batches").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("SEPA batches")
    too_early = (members - dt.timedelta(days=7)).isoformat()
    page.get_by_label("Collection date").fill(too_early)
    page.get_by_role("button", name="Make the batch").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.get_by_label("Collection date")).to_have_value(too_early)

    page.get_by_label("Collection date").fill(members.isoformat())
    page.get_by_role("button", name="Make the batch").click()
    expect(page.locator(".flash-success")).to_have_text("The batch is made (Draft).")
    # The checks run as a job; the page shows them running and, once a worker has run it,
    # the result in their place without a reload.
    expect(page.locator(".batch-checks.running")).to_be_visible()
    with live_server.engine.connect() as connection:
        job_id = connection.scalar(
            select(Job.id).where(Job.name == CHECK_BATCH).order_by(Job.id.desc()).limit(1)
        )
    assert job_id is not None
    assert worker(job_id) == "completed"
    expect(page.locator(".batch-checks.passed")).to_be_visible(timeout=15_000)
    expect(page.locator("table.sepa-entries")).to_contain_text("NL91ABNA0417164300")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download the XML").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xml")
    document = etree.parse(download.path()).getroot()
    version = etree.QName(document).namespace.rsplit(":", 1)[-1]
    assert schema(version).validate(document), schema(version).error_log

    page.reload()
    expect(page.locator(".batch-status")).to_have_text("Generated")
    page.get_by_role("button", name="Mark as submitted to the bank").click()
    expect(page.locator(".batch-status")).to_have_text("Submitted")


def test_a_treasurer_imports_a_statement_and_accepts_a_candidate(
    page: Page, members: dt.date, tmp_path: Path
) -> None:
    statement = tmp_path / "statement.xml"
    statement.write_bytes(
        camt([{"amount": "25.00", "name": "Joost Dekker", "remittance": "contributie joost"}])
    )
    sign_in(page, TREASURER_EMAIL)
    page.goto("/desk/bank")
    page.get_by_label("A camt.053 or MT940 file").set_input_files(str(statement))
    page.get_by_role("button", name="Import the statement").click()
    expect(page.locator(".import-outcome")).to_contain_text("1 line(s) added")
    page.locator(".import-outcome").get_by_role("button", name="Match the open lines").click()
    expect(page).to_have_url(re.compile(r"/desk/bank/review$"))
    line = page.locator("article.review-line", has_text="contributie joost")
    expect(line.locator("table.candidates tbody tr")).not_to_have_count(0)
    line.get_by_role("button", name="Accept").first.click()
    expect(page.locator(".flash-success")).to_have_text("The line is decided.")
    expect(page.locator("article.review-line", has_text="contributie joost")).to_have_count(0)


def test_no_serious_accessibility_violation_on_the_sepa_and_bank_pages(
    page_without_csp: Page, members: dt.date
) -> None:
    page = page_without_csp
    sign_in(page, TREASURER_EMAIL)
    expect(page).to_have_url(re.compile(r"/desk$"))
    for path in (
        "/desk/sepa/batches",
        "/desk/sepa/returns",
        "/desk/sepa/retries",
        "/desk/bank",
        "/desk/bank/review",
    ):
        page.goto(path)
        assert serious_violations(page) == [], path
