"""The desk's layout per role and its members: search, status filter, keyset pages, a member's
page (memberships, history, financial summary, mandates)."""

from __future__ import annotations

import re

import pytest
from conftest_pages import signed_in, text_of
from desk_factories import ADMINISTRATOR, MEMBER, SECRETARY, TREASURER, member_with_ledger, staff
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from list_factories import add_members
from member_factories import OTHER_IBAN, VALID_IBAN
from verenigingen.auth.models import User
from verenigingen.members.models import Member
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today")

MEMBER_ROW = re.compile(r'data-member="(\d+)"')
NEXT = re.compile(r'href="(/desk/members\?[^"]*after=[^"]+)" rel="next"')


@pytest.fixture
def logins(session: Session) -> dict[str, User]:
    return staff(session)


@pytest.fixture
def anna(session: Session, admin: User) -> Member:
    return member_with_ledger(session, admin, "Anna", "Jansen", 4)


@pytest.fixture
def bram(session: Session, admin: User) -> Member:
    return member_with_ledger(session, admin, "Bram", "Bakker", 2, iban=OTHER_IBAN)


def nav_of(html: str) -> list[str]:
    return re.findall(r'<li><a href="(/desk[^"]*)"', html)


DESK_PAGES = ["/desk", "/desk/members", "/desk/invoices", "/desk/payments", "/desk/jobs"]


@pytest.mark.parametrize(
    ("email", "shown", "hidden"),
    [
        (TREASURER, [*DESK_PAGES, "/desk/payments/new"], ["/desk/settings", "/desk/safety"]),
        (SECRETARY, DESK_PAGES, ["/desk/payments/new", "/desk/settings", "/desk/safety"]),
        (ADMINISTRATOR, [*DESK_PAGES, "/desk/payments/new", "/desk/settings", "/desk/safety"], []),
    ],
)
def test_the_menu_shows_what_the_role_may_do(web, logins, email, shown, hidden) -> None:
    signed_in(web, email)
    for path in ("/desk", "/desk/members"):
        menu = nav_of(web.get(path).text)
        assert set(shown) <= set(menu)
        assert set(hidden).isdisjoint(menu)


@pytest.mark.parametrize(
    "path",
    ["/desk/members", "/desk/members/1", "/desk/invoices", "/desk/payments",
     "/desk/payments/new", "/desk/jobs", "/desk/jobs/1/progress"],
)  # fmt: skip
def test_a_member_opening_a_desk_page_gets_the_403_page(web, logins, path) -> None:
    signed_in(web, MEMBER)
    page = web.get(path)
    assert page.status_code == 403
    assert "You may not see this page" in page.text


def test_anonymous_desk_pages_go_to_sign_in(web) -> None:
    page = web.get("/desk/members?q=anna")
    assert page.status_code == 303
    assert page.headers["location"] == "/sign-in?next=%2Fdesk%2Fmembers%3Fq%3Danna"


@pytest.mark.parametrize(
    "search",
    ["anna", "ANNA JAN", "jansen", "anna@example.org", "4300", "nl91 abna 0417 1643 00"],
)
def test_the_search_finds_a_member_by_name_email_or_iban_end(web, logins, anna, bram, search):
    signed_in(web, TREASURER)
    with capture() as queries:
        page = web.get("/desk/members", params={"q": search})
    assert page.status_code == 200
    assert MEMBER_ROW.findall(page.text) == [str(anna.id)]
    assert queries.count == 2  # the sign-in and the page


def test_the_search_finds_a_member_by_member_id(web, logins, anna, bram) -> None:
    signed_in(web, SECRETARY)
    page = web.get("/desk/members", params={"q": bram.member_id.lower()})
    assert MEMBER_ROW.findall(page.text) == [str(bram.id)]


def test_a_search_that_matches_nothing_says_so(web, logins, anna) -> None:
    signed_in(web, TREASURER)
    page = web.get("/desk/members", params={"q": "100%_"})
    assert MEMBER_ROW.findall(page.text) == []
    assert "No member matches." in text_of(page.text)


def test_the_status_filter(web, logins, anna, bram, session) -> None:
    bram.status = "Suspended"
    session.flush()
    signed_in(web, TREASURER)
    assert MEMBER_ROW.findall(web.get("/desk/members?status=Suspended").text) == [str(bram.id)]
    assert MEMBER_ROW.findall(web.get("/desk/members?status=Active").text) == [str(anna.id)]


def test_the_list_is_paged_by_keyset_at_the_same_cost(web, logins, session) -> None:
    add_members(session, 30)
    signed_in(web, TREASURER)
    with capture() as first_queries:
        first = web.get("/desk/members")
    first_rows = MEMBER_ROW.findall(first.text)
    assert len(first_rows) == 25
    link = NEXT.search(first.text)
    assert link is not None
    with capture() as second_queries:
        second = web.get(link.group(1).replace("&amp;", "&"))
    second_rows = MEMBER_ROW.findall(second.text)
    assert len(second_rows) == 5
    assert set(first_rows).isdisjoint(second_rows)
    assert NEXT.search(second.text) is None
    assert 'href="/desk/members">First page</a>' in second.text
    assert first_queries.count == second_queries.count == 2


def test_the_next_link_keeps_the_filters(web, logins, session) -> None:
    add_members(session, 30)
    signed_in(web, TREASURER)
    link = NEXT.search(web.get("/desk/members?q=voornaam&status=Pending").text)
    assert link is not None
    assert link.group(1).startswith("/desk/members?q=voornaam&amp;status=Pending&amp;after=")


@pytest.mark.parametrize(
    "query",
    ["status=Retired", "after=not-a-cursor", "q=%01", "after=" + "x" * 401, "q=" + "a" * 101],
)
def test_bad_list_input_is_the_422_page(web, logins, query) -> None:
    signed_in(web, TREASURER)
    page = web.get(f"/desk/members?{query}")
    assert page.status_code == 422
    assert "The request could not be read" in page.text


def test_a_members_page(web, logins, anna, session) -> None:
    signed_in(web, TREASURER)
    with capture() as queries:
        page = web.get(f"/desk/members/{anna.id}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Anna Jansen" in text
    assert anna.member_id in text
    assert len(re.findall(r'data-membership="\d+"', page.text)) == 1
    assert len(re.findall(r'data-invoice="[^"]+"', page.text)) == 4
    assert 'data-outstanding="50.00"' in page.text
    assert "2 overdue" in text
    assert VALID_IBAN in page.text  # a treasurer sees whole IBANs
    assert f'href="/desk/payments/new?member_id={anna.id}"' in page.text
    # The sign-in, the member, its memberships, the history's three (cold cache), the summary's
    # three (its row not written yet: read from the ledger) and the mandates.
    assert queries.count == 10


def test_a_secretary_sees_the_iban_masked_and_no_payment_link(web, logins, anna) -> None:
    signed_in(web, SECRETARY)
    page = web.get(f"/desk/members/{anna.id}")
    assert page.status_code == 200
    assert VALID_IBAN not in page.text
    assert "4300" in page.text
    assert "/desk/payments/new" not in page.text


def test_an_unknown_member_is_the_404_page(web, logins) -> None:
    signed_in(web, TREASURER)
    assert web.get("/desk/members/999999").status_code == 404
    assert web.get("/desk/members/0").status_code == 422


def test_the_members_page_is_dutch(browser, logins, anna) -> None:
    web: TestClient = signed_in(browser(language="nl"), TREASURER)
    text = text_of(web.get(f"/desk/members/{anna.id}").text)
    assert "Financieel overzicht" in text
    assert "€ 50,00" in text
