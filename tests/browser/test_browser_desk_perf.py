"""The desk's performance and dues pages in a real browser: an administrator turns
``payment_history_cache`` off and on again on the settings page and sees the performance page
show each state; a treasurer starts a dues run and sees it finish; axe-core on both pages."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from conftest import LiveServer, serious_violations, sign_in
from verenigingen.jobs.models import Job

ADMIN_EMAIL = "admin@example.org"
TREASURER_EMAIL = "penningmeester@example.org"


def flip_history_cache(page: Page, to: str) -> None:
    """On the settings page: the flag's button, then the confirmation."""
    page.goto("/desk/settings")
    label = "Turn off" if to == "false" else "Turn on"
    page.get_by_role("button", name=f"{label} payment_history_cache").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change a setting")
    page.get_by_role("button", name="Yes, change it").click()
    expect(page).to_have_url(re.compile(r"/desk/settings$"))
    expect(page.locator('[data-value="payment_history_cache"]')).to_contain_text(to)


def test_an_administrator_turns_the_history_cache_off_and_on(page: Page) -> None:
    sign_in(page, ADMIN_EMAIL)
    cache_flag = page.locator('[data-flag="payment_history_cache"]')
    page.goto("/desk/performance")
    expect(cache_flag).to_have_attribute("data-state", "on")

    flip_history_cache(page, "false")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Performance").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Performance")
    expect(cache_flag).to_have_attribute("data-state", "off")
    expect(cache_flag).to_contain_text(ADMIN_EMAIL)

    flip_history_cache(page, "true")
    page.goto("/desk/performance")
    expect(cache_flag).to_have_attribute("data-state", "on")


def test_a_treasurer_runs_the_dues_and_sees_it_finish(
    page: Page, live_server: LiveServer, worker
) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, TREASURER_EMAIL)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dues run").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dues run")
    page.get_by_label("Schedules per batch").fill("zero")
    page.get_by_role("button", name="Start the dues run").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.get_by_label("Schedules per batch")).to_have_value("zero")

    # Billed as of a day long before the seeded schedules: nothing is due, so the other
    # browser tests' members keep their invoices.
    page.get_by_label("Bill as of").fill("2000-01-01")
    page.get_by_label("Schedules per batch").fill("50")
    page.get_by_role("button", name="Start the dues run").click()
    expect(page.locator(".flash-success")).to_contain_text("The dues run is queued")
    with live_server.engine.connect() as connection:
        job_id = connection.scalar(
            select(Job.id).where(Job.name == "dues.generate").order_by(Job.id.desc()).limit(1)
        )
    assert job_id is not None
    progress = page.locator(f"#job-{job_id}-progress")
    expect(progress).to_have_attribute("data-status", "Queued")

    assert worker(job_id) == "completed"
    expect(progress).to_have_attribute("data-status", "Completed", timeout=10_000)
    page.reload()
    expect(page.locator(f'tr[data-job="{job_id}"] .dues-result')).to_have_text("0 invoices, €0.00")


def test_axe_finds_no_serious_violation(page_without_csp: Page) -> None:
    page = page_without_csp
    sign_in(page, ADMIN_EMAIL)
    for path in ("/desk/performance", "/desk/dues"):
        page.goto(path)
        assert serious_violations(page) == [], path
