"""The membership work at the desk in a real browser: an administrator approves an application
after its confirmation (a rate it cannot read refused first, what was typed kept), then
terminates a member from its page and finds it among the terminations; axe-core finds no
serious violation on these pages."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from conftest import LiveServer, serious_violations, sign_in
from contexts import context_on
from member_factories import make_active_member, make_applicant, make_type
from verenigingen.auth.service import get_user_by_email
from verenigingen.db.session import unit_of_work
from verenigingen.members.models import BillingPeriod, Member

ADMIN_EMAIL = "admin@example.org"


@dataclass(frozen=True)
class People:
    applicant: int
    leaver: int


@pytest.fixture(scope="module")
def people(live_server: LiveServer) -> People:
    """Lotte Mulder, who applied for a yearly membership, and Karel de Boer, a member since
    January: the two this module decides on, so other tests' members stay as they were."""
    context = context_on(live_server.engine)
    with unit_of_work(context.sessions) as session:
        admin = get_user_by_email(session, ADMIN_EMAIL)
        assert admin is not None
        yearly = make_type(
            session, period=BillingPeriod.ANNUAL, amount="30.00", minimum="20.00",
            name="Jaar Aanmelding",
        )  # fmt: skip
        applicant = make_applicant(
            session, admin, membership_type_id=yearly.id, first_name="Lotte",
            last_name="Mulder", email="lotte@example.org",
        )  # fmt: skip
        leaver, _membership, _schedule = make_active_member(
            session, admin, yearly, start=dt.date(2026, 1, 1), first_name="Karel",
            last_name="de Boer", email="karel@example.org",
        )  # fmt: skip
        found = People(applicant.id, leaver.id)
    context.close()
    return found


def status_of(live_server: LiveServer, member_id: int) -> str:
    context = context_on(live_server.engine)
    with unit_of_work(context.sessions) as session:
        status = session.scalars(select(Member.status).where(Member.id == member_id)).one()
    context.close()
    return status


def test_an_administrator_approves_an_application_and_terminates_a_member(
    page: Page, people: People, live_server: LiveServer
) -> None:
    sign_in(page, ADMIN_EMAIL)
    expect(page).to_have_url(re.compile(r"/desk$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Applications").click()
    row = page.locator(f'tr[data-application="{people.applicant}"]')
    expect(row).to_contain_text("Jaar Aanmelding")
    expect(row).to_contain_text("€30.00")
    row.get_by_role("link", name="Approve or reject").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Application of Lotte Mulder")

    page.get_by_label("Dues rate (€, optional)").fill("veel")
    page.get_by_role("button", name="Approve…").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.get_by_label("Dues rate (€, optional)")).to_have_value("veel")
    page.get_by_label("Dues rate (€, optional)").fill("25,00")
    page.get_by_role("button", name="Approve…").click()
    expect(page.locator(".confirm-question")).to_contain_text("as Jaar Aanmelding at €25.00")
    assert status_of(live_server, people.applicant) == "Pending"
    page.get_by_role("button", name="Yes, approve").click()
    expect(page).to_have_url(re.compile(r"/desk/applications$"))
    expect(page.locator(".flash-success")).to_have_text("The application is approved.")
    expect(page.locator(f'tr[data-application="{people.applicant}"]')).to_have_count(0)
    assert status_of(live_server, people.applicant) == "Active"

    page.goto(f"/desk/members/{people.leaver}")
    page.get_by_text("Terminate the membership").click()
    page.get_by_label("Termination date").fill("2026-03-31")
    page.get_by_label("Reason (optional)").fill("Verhuisd naar het buitenland")
    page.get_by_role("button", name="Terminate…").click()
    expect(page.locator(".confirm-question")).to_contain_text("Terminate Karel de Boer")
    page.get_by_role("button", name="Yes, terminate").click()
    expect(page).to_have_url(re.compile(rf"/desk/members/{people.leaver}$"))
    expect(page.locator(".flash-success")).to_have_text("The member is terminated.")
    expect(page.locator("[data-termination]")).to_contain_text("Verhuisd naar het buitenland")
    assert status_of(live_server, people.leaver) == "Terminated"
    page.goto("/desk/terminations")
    expect(page.locator(f'tr[data-terminated="{people.leaver}"]')).to_contain_text("Verhuisd")


def test_no_serious_accessibility_violation_on_the_membership_pages(
    page_without_csp: Page, people: People
) -> None:
    page = page_without_csp
    sign_in(page, ADMIN_EMAIL)
    expect(page).to_have_url(re.compile(r"/desk$"))
    for path in (
        "/desk/applications",
        f"/desk/applications/{people.applicant}",
        "/desk/terminations",
        f"/desk/members/{people.leaver}/terminate",
    ):
        page.goto(path)
        assert serious_violations(page) == [], path
