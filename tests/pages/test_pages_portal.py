"""The portal's dashboard, the desk's landing page, the error pages and the offline API docs."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import pytest
from conftest_pages import make_login, signed_in, text_of
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from member_factories import make_active_member, make_type
from verenigingen.app_context import context_of
from verenigingen.auth.models import Role, User
from verenigingen.billing.service.invoices import refresh_overdue
from verenigingen.members.models import BillingPeriod, Customer, Member
from verenigingen.perf.capture import capture
from verenigingen.web.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "history"))
from history_factories import bulk_ledger

pytestmark = pytest.mark.usefixtures("frozen_today")


@pytest.fixture
def member_login(session: Session, admin: User) -> User:
    """A Member login linked to an active member on a monthly fee of 12.50 since 1 January,
    with four invoices of 25.00 since October, two of them paid and two overdue."""
    monthly = make_type(session, period=BillingPeriod.MONTHLY, amount="12.50", name="Maand")
    member, _membership, _schedule = make_active_member(
        session, admin, monthly, start=dt.date(2026, 1, 1), first_name="Wouter"
    )
    login = make_login(session, "wouter@example.org", Role.MEMBER)
    member.user_id = login.id
    customer = session.get(Customer, member.customer_id)
    assert customer is not None
    bulk_ledger(session, customer, member.id, 4, dt.date(2025, 10, 1))
    refresh_overdue(session, dt.date(2026, 3, 2))
    session.flush()
    return login


def test_a_member_sees_its_own_dashboard(web, session, member_login) -> None:
    signed_in(web, "wouter@example.org")
    page = web.get("/portal")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Welcome, Wouter" in text
    assert "Status Active" in text
    assert "Membership Maand" in text
    assert "Fee €12.50 per month" in text
    assert "Outstanding €50.00 2 invoices overdue" in text
    assert "Next invoice" in text
    assert page.headers["cache-control"] == "no-store"
    assert "statements" not in text  # the footer figures are for administrators only


def test_the_dashboard_is_dutch_with_dutch_amounts(browser, session, member_login) -> None:
    web = signed_in(browser(language="nl-NL,nl;q=0.9,en;q=0.5"), "wouter@example.org")
    text = text_of(web.get("/portal").text)
    assert "Contributie € 12,50 per maand" in text
    assert "Lid sinds 1 januari 2026" in text
    assert "Openstaand € 50,00 2 facturen te laat" in text


def test_the_language_choice_is_kept_for_the_user(web, session, member_login) -> None:
    signed_in(web, "wouter@example.org")
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', web.get("/portal").text)
    assert token is not None
    response = web.post(
        "/language", data={"language": "nl", "next": "/portal", "csrf_token": token.group(1)}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/portal"
    session.expire_all()
    assert session.get(User, member_login.id).locale == "nl"  # type: ignore[union-attr]
    web.cookies.delete("vrg_lang")  # the user's setting wins over the browser's English
    page = web.get("/portal")
    assert "De taal is gewijzigd." in text_of(page.text)
    assert "€ 12,50 per maand" in text_of(page.text)
    assert page.headers["content-language"] == "nl"


def test_an_unknown_language_changes_nothing(web, session, member_login) -> None:
    signed_in(web, "wouter@example.org")
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', web.get("/portal").text)
    assert token is not None
    response = web.post("/language", data={"language": "xx", "csrf_token": token.group(1)})
    assert response.status_code == 303
    session.expire_all()
    assert session.get(User, member_login.id).locale is None  # type: ignore[union-attr]


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.TREASURER])
def test_other_roles_get_the_403_page_in_the_portal(web, session, role) -> None:
    make_login(session, "staff@example.org", role)
    signed_in(web, "staff@example.org")
    page = web.get("/portal")
    assert page.status_code == 403
    assert "You may not see this page" in text_of(page.text)
    assert '<a href="/desk">' in page.text


def test_a_member_login_without_a_member_gets_the_403_page(web, session) -> None:
    make_login(session, "lid@example.org", Role.MEMBER)
    signed_in(web, "lid@example.org")
    assert web.get("/portal").status_code == 403


def test_anonymous_portal_and_desk_go_to_sign_in(web) -> None:
    for path in ("/portal", "/desk"):
        response = web.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/sign-in?next=%2F{path[1:]}"


def test_the_desk_lists_what_the_role_may_do(web, session) -> None:
    make_login(session, "treasurer@example.org", Role.TREASURER)
    signed_in(web, "treasurer@example.org")
    text = text_of(web.get("/desk").text)
    assert "record payments, submit invoices and start the dues run" in text
    assert "manage users" not in text


def test_a_member_at_the_desk_goes_to_the_portal(web, session, member_login) -> None:
    signed_in(web, "wouter@example.org")
    assert web.get("/desk").headers["location"] == "/portal"


def test_an_administrators_footer_shows_the_server_timing_figures(web, session) -> None:
    make_login(session, "admin2@example.org", Role.ADMINISTRATOR)
    signed_in(web, "admin2@example.org")
    page = web.get("/desk")
    shown = re.search(r'data-statements="(\d+)"', page.text)
    header = re.search(r'desc="(\d+) queries"', page.headers["server-timing"])
    assert shown is not None
    assert header is not None
    assert shown.group(1) == header.group(1) == "1"  # the sign-in's one statement


def dashboard_statements(session: Session, web: TestClient) -> int:
    with capture() as log:
        response = web.get("/portal")
    assert response.status_code == 200, response.text
    return log.count


def test_the_dashboard_costs_the_same_statements_whatever_the_history(
    web, session, member_login
) -> None:
    """The sign-in's statement, the member with its summary, its memberships; plus the ledger's
    totals while no summary row exists (before the first summary job has run)."""
    signed_in(web, "wouter@example.org")
    assert dashboard_statements(session, web) == 4
    member = session.query(Member).filter(Member.user_id == member_login.id).one()
    customer = session.get(Customer, member.customer_id)
    assert customer is not None
    bulk_ledger(session, customer, member.id, 60, dt.date(2020, 1, 1))
    refresh_overdue(session, dt.date(2026, 3, 2))
    session.flush()
    assert dashboard_statements(session, web) == 4
    text = text_of(web.get("/portal").text)
    assert "Outstanding €800.00 32 invoices overdue" in text


def test_with_a_summary_row_the_dashboard_is_three_statements(web, session, member_login) -> None:
    from verenigingen.history.models import MemberFinancialSummary
    from verenigingen.history.summary import ledger_figures

    signed_in(web, "wouter@example.org")
    member = session.query(Member).filter(Member.user_id == member_login.id).one()
    assert member.customer_id is not None
    figures = ledger_figures(session, member.customer_id)
    session.add(
        MemberFinancialSummary(
            member_id=member.id, customer_id=member.customer_id, version=1, **figures.values()
        )
    )
    session.flush()
    assert dashboard_statements(session, web) == 3


def test_errors_outside_the_api_are_pages_for_browsers_only(web, session) -> None:
    missing = web.get("/no-such-page")
    assert missing.status_code == 404
    assert "Page not found" in text_of(missing.text)
    plain = TestClient(web.app).get("/no-such-page")
    assert plain.status_code == 404
    assert plain.json()["error"] == "not_found"
    api = web.get("/api/v1/nothing-here")
    assert api.json() == {"error": "not_found", "detail": "Not Found"}


def test_the_api_docs_are_served_from_the_apps_own_files(web) -> None:
    for path in ("/docs", "/redoc"):
        page = web.get(path)
        assert page.status_code == 200
        assert "cdn" not in page.text.lower()
        assert "https://" not in page.text
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
            served = web.get(asset)
            assert served.status_code == 200, asset
            assert served.content, asset
    assert (
        "'unsafe-inline'"
        not in web.get("/docs").headers["content-security-policy"].split("style-src")[0]
    )


def test_the_api_docs_hidden_by_the_setting(session) -> None:
    context = context_of(session)
    import dataclasses

    hidden = dataclasses.replace(
        context, settings=context.settings.model_copy(update={"api_docs_public": False})
    )
    app = create_app(hidden, session_factory=savepoint_sessions(session))
    with TestClient(app) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == 404, path
        assert client.get("/static/app.css").status_code == 200
