"""Terminations at the desk: the form on a member's page, a confirmation, the termination
through the members service (memberships cancelled, dues stopped), every bad input refused with
nothing written, who may do it; and the list of terminated members, the latest date first, at
the same cost at two sizes."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import ADMINISTRATOR, MEMBER, SECRETARY, TREASURER, staff
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from member_factories import make_active_member, make_applicant, make_type
from verenigingen.auth.models import User
from verenigingen.dues.models import DuesSchedule
from verenigingen.members.models import BillingPeriod, Member, Membership
from verenigingen.members.service import terminate_member
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today")

ROW = re.compile(r'<tr data-terminated="(\d+)"')
NEXT = re.compile(r'href="(/desk/terminations\?after=[^"]+)" rel="next"')


@pytest.fixture
def logins(session: Session) -> dict[str, User]:
    return staff(session)


@pytest.fixture
def jan(session: Session, admin: User) -> Member:
    """A member since 1 January 2026 on a monthly membership."""
    monthly = make_type(session, period=BillingPeriod.MONTHLY, amount="12.50")
    member, _membership, _schedule = make_active_member(
        session, admin, monthly, start=dt.date(2026, 1, 1), first_name="Jan", last_name="Smit"
    )
    return member


def state_of(session: Session, member: Member) -> tuple[str, dt.date | None, list[str], list[str]]:
    """The member's status and termination date, its memberships' and schedules' statuses."""
    session.expire_all()
    fresh = session.get_one(Member, member.id)
    memberships = session.scalars(
        select(Membership.status).where(Membership.member_id == member.id)
    )
    schedules = session.scalars(
        select(DuesSchedule.status).where(DuesSchedule.member_id == member.id)
    )
    return fresh.status, fresh.termination_date, list(memberships), list(schedules)


ACTIVE = ("Active", None, ["Active"], ["Active"])


def terminate(web: TestClient, member: Member, *, confirmed: bool = True, **fields: str) -> object:
    token = form_token(web, f"/desk/members/{member.id}")
    data = {"csrf_token": token, "termination_date": "", "reason": "", **fields}
    if confirmed:
        data["confirmed"] = "yes"
    return web.post(f"/desk/members/{member.id}/terminate", data=data)


# Terminating


def test_the_members_page_has_the_form_for_those_who_may(web, browser, logins, jan) -> None:
    signed_in(web, SECRETARY)
    page = web.get(f"/desk/members/{jan.id}")
    assert f'action="/desk/members/{jan.id}/terminate"' in page.text
    assert 'value="2026-03-02"' in page.text  # today, to change
    treasurer = signed_in(browser(), TREASURER)
    assert "/terminate" not in treasurer.get(f"/desk/members/{jan.id}").text


def test_a_pending_members_page_links_its_application(web, logins, session, admin) -> None:
    applicant = make_applicant(session, admin, membership_type_id=make_type(session).id)
    signed_in(web, SECRETARY)
    page = web.get(f"/desk/members/{applicant.id}")
    assert f'href="/desk/applications/{applicant.id}">The application</a>' in page.text
    assert "/terminate" not in page.text


def test_the_termination_form_is_dutch(browser, logins, jan) -> None:
    web: TestClient = signed_in(browser(language="nl"), SECRETARY)
    text = text_of(web.get(f"/desk/members/{jan.id}").text)
    assert "Het lidmaatschap beëindigen" in text
    assert "Opzegdatum" in text


def test_terminate_asks_for_a_confirmation_and_writes_nothing_before(
    web, logins, jan, session
) -> None:
    signed_in(web, SECRETARY)
    asked = terminate(web, jan, confirmed=False, termination_date="2026-03-31", reason="Verhuisd")
    assert asked.status_code == 200
    text = text_of(asked.text)
    assert f"Terminate Jan Smit ({jan.member_id}) on 31 March 2026?" in text
    assert "Reason: Verhuisd" in text
    assert 'name="confirmed" value="yes"' in asked.text
    assert state_of(session, jan) == ACTIVE


def test_a_secretary_terminates_a_member(web, logins, jan, session) -> None:
    signed_in(web, SECRETARY)
    done = terminate(web, jan, termination_date="2026-03-31", reason=" Verhuisd ")
    assert done.status_code == 303
    assert done.headers["location"] == f"/desk/members/{jan.id}"
    assert state_of(session, jan) == ("Terminated", dt.date(2026, 3, 31), ["Cancelled"],
                                      ["Cancelled"])  # fmt: skip
    assert session.get_one(Member, jan.id).termination_reason == "Verhuisd"
    page = web.get(f"/desk/members/{jan.id}")
    text = text_of(page.text)
    assert "The member is terminated." in text
    assert "31 March 2026: Verhuisd" in text
    assert f"/desk/members/{jan.id}/terminate" not in page.text


def test_an_empty_date_is_today(web, logins, jan, session) -> None:
    signed_in(web, ADMINISTRATOR)
    assert terminate(web, jan).status_code == 303
    assert state_of(session, jan)[:2] == ("Terminated", dt.date(2026, 3, 2))


@pytest.mark.parametrize(
    ("fields", "field", "message", "status"),
    [
        ({"termination_date": "31-03-2026"}, "termination_date", "Enter a date between", 422),
        ({"termination_date": "1899-12-31"}, "termination_date", "Enter a date between", 422),
        ({"termination_date": "2025-12-31"}, "termination_date",
         "The member joined on 2026-01-01: the termination date cannot lie before it.", 422),
        ({"reason": "x" * 256}, "reason", "At most 255 characters.", 422),
    ],
)  # fmt: skip
def test_bad_input_shows_the_form_again_and_writes_nothing(
    web, logins, jan, session, fields, field, message, status
) -> None:
    signed_in(web, SECRETARY)
    page = terminate(web, jan, **fields)
    assert page.status_code == status
    assert f'id="error-{field}"' in page.text
    assert message in text_of(page.text)
    assert f'value="{next(iter(fields.values()))}"' in page.text  # kept as typed
    assert state_of(session, jan) == ACTIVE


def test_terminating_twice_names_the_rule_and_changes_nothing(
    web, logins, jan, session, admin
) -> None:
    terminate_member(session, admin, jan.id, termination_date=dt.date(2026, 2, 28), reason="Eerst")
    signed_in(web, SECRETARY)
    page = terminate(web, jan, termination_date="2026-03-31", reason="Tweede keer")
    assert page.status_code == 409
    assert "This member cannot be terminated" in text_of(page.text)
    assert "was already terminated on 2026-02-28" in text_of(page.text)
    fresh = state_of(session, jan)
    assert fresh[:2] == ("Terminated", dt.date(2026, 2, 28))
    assert session.get_one(Member, jan.id).termination_reason == "Eerst"


def test_an_application_is_not_terminated(web, logins, session, admin) -> None:
    applicant = make_applicant(session, admin, membership_type_id=make_type(session).id)
    signed_in(web, SECRETARY)
    form = web.get(f"/desk/members/{applicant.id}/terminate")
    assert '/terminate" novalidate' not in form.text
    page = terminate(web, applicant)
    assert page.status_code == 409
    assert "only Active, Suspended or Expired members can be terminated" in text_of(page.text)
    assert state_of(session, applicant)[:2] == ("Pending", None)


@pytest.mark.parametrize("email", [TREASURER, MEMBER])
def test_who_may_not_terminate_gets_the_403_page(web, logins, jan, session, email) -> None:
    signed_in(web, email)
    assert web.get(f"/desk/members/{jan.id}/terminate").status_code == 403
    token = form_token(web, "/desk" if email == TREASURER else "/portal")
    page = web.post(
        f"/desk/members/{jan.id}/terminate",
        data={"csrf_token": token, "termination_date": "", "confirmed": "yes"},
    )
    assert page.status_code == 403
    assert state_of(session, jan) == ACTIVE


def test_a_forged_form_is_refused_and_nothing_written(web, logins, jan, session) -> None:
    signed_in(web, SECRETARY)
    page = web.post(
        f"/desk/members/{jan.id}/terminate",
        data={"csrf_token": "f" * 64, "termination_date": "", "confirmed": "yes"},
    )
    assert page.status_code == 403
    assert state_of(session, jan) == ACTIVE


# The list


def add_terminated(session: Session, count: int, *, first: dt.date) -> None:
    """``count`` terminated members, one a day from ``first`` on, in one insert."""
    tag = first.isoformat()
    session.execute(
        insert(Member),
        [
            {
                "member_id": f"TERM-{tag}-{n}",
                "first_name": f"Oud{n}",
                "last_name": "Lid",
                "email": f"oud{n}.{tag}@example.org",
                "status": "Terminated",
                "application_status": "Approved",
                "termination_date": first + dt.timedelta(days=n),
                "termination_reason": "Opgezegd",
            }
            for n in range(count)
        ],
    )


def test_the_terminations_latest_first_with_those_ahead_marked(
    web, logins, jan, session, admin
) -> None:
    add_terminated(session, 3, first=dt.date(2026, 2, 1))
    terminate_member(session, admin, jan.id, termination_date=dt.date(2026, 4, 1))
    signed_in(web, TREASURER)
    with capture() as queries:
        page = web.get("/desk/terminations")
    assert page.status_code == 200
    rows = ROW.findall(page.text)
    assert rows[0] == str(jan.id)
    assert len(rows) == 4
    dates = re.findall(r"(\d\d/\d\d/\d{4})", text_of(page.text))
    assert dates == ["01/04/2026", "03/02/2026", "02/02/2026", "01/02/2026"]
    assert page.text.count('<span class="badge badge-pending">ahead</span>') == 1
    assert queries.count == 2  # the sign-in and the page
    counted = web.get("/desk/terminations?count=1")
    assert 'data-total="4"' in counted.text


def test_the_list_is_paged_by_keyset_at_the_same_cost_at_two_sizes(web, logins, session):
    add_terminated(session, 4, first=dt.date(2026, 1, 1))
    signed_in(web, SECRETARY)
    with capture() as small_queries:
        small = web.get("/desk/terminations")
    assert len(ROW.findall(small.text)) == 4
    add_terminated(session, 30, first=dt.date(2025, 1, 1))
    with capture() as first_queries:
        first = web.get("/desk/terminations")
    link = NEXT.search(first.text)
    assert link is not None
    with capture() as second_queries:
        second = web.get(link.group(1))
    first_rows, second_rows = ROW.findall(first.text), ROW.findall(second.text)
    assert (len(first_rows), len(second_rows)) == (25, 9)
    assert set(first_rows).isdisjoint(second_rows)
    assert small_queries.count == first_queries.count == second_queries.count == 2


def test_a_member_gets_the_403_page_for_the_list(web, logins) -> None:
    signed_in(web, MEMBER)
    assert web.get("/desk/terminations").status_code == 403


@pytest.mark.parametrize("query", ["after=bm90LWEtY3Vyc29y", "after=" + "z" * 401])
def test_a_forged_cursor_is_the_422_page(web, logins, query) -> None:
    signed_in(web, SECRETARY)
    assert web.get(f"/desk/terminations?{query}").status_code == 422


def test_the_terminations_are_dutch(browser, logins, jan, session, admin) -> None:
    terminate_member(session, admin, jan.id, termination_date=dt.date(2026, 4, 1))
    web: TestClient = signed_in(browser(language="nl"), SECRETARY)
    text = text_of(web.get("/desk/terminations").text)
    assert "Opzeggingen" in text
    assert "vooruit" in text
