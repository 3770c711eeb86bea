"""The desk's applications: the waiting ones oldest first with their type and fee, keyset pages
at the same cost, the count when asked; approving and rejecting after a confirmation, with every
bad input refused and nothing written; who may do what."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import ADMINISTRATOR, MEMBER, SECRETARY, TREASURER, staff
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from member_factories import make_active_member, make_applicant, make_type
from verenigingen.auth.models import User
from verenigingen.dues.models import DuesSchedule
from verenigingen.members.models import BillingPeriod, Member, Membership, MembershipType
from verenigingen.members.service import reject_member
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today")

ROW = re.compile(r'<tr data-application="(\d+)"')
NEXT = re.compile(r'href="(/desk/applications\?after=[^"]+)" rel="next"')


@pytest.fixture
def logins(session: Session) -> dict[str, User]:
    return staff(session)


@pytest.fixture
def yearly(session: Session) -> MembershipType:
    return make_type(
        session, period=BillingPeriod.ANNUAL, amount="30.00", minimum="20.00", name="Jaarlid"
    )


@pytest.fixture
def applicants(session: Session, admin: User, yearly: MembershipType) -> list[Member]:
    """Three applications for Jaarlid, in the order they came in."""
    return [
        make_applicant(
            session,
            admin,
            membership_type_id=yearly.id,
            first_name=name,
            email=f"{name.lower()}@example.org",
        )
        for name in ("Cees", "Anna", "Bram")
    ]


def add_applications(session: Session, membership_type: MembershipType, count: int) -> None:
    """``count`` more applications for ``membership_type``, in one insert."""
    session.execute(
        insert(Member),
        [
            {
                "member_id": f"APPL-{n}",
                "first_name": f"Voornaam{n}",
                "last_name": "Aanvrager",
                "email": f"aanvrager{n}@example.org",
                "requested_membership_type_id": membership_type.id,
            }
            for n in range(count)
        ],
    )


def state_of(session: Session, member: Member) -> tuple[str, str, int]:
    """The member's status, application status and number of memberships, read anew."""
    session.expire_all()
    fresh = session.get_one(Member, member.id)
    memberships = session.scalar(
        select(func.count()).select_from(Membership).where(Membership.member_id == member.id)
    )
    return fresh.status, fresh.application_status, int(memberships or 0)


def decide(
    web: TestClient, member: Member, decision: str, *, confirmed: bool = True, **fields: str
) -> object:
    token = form_token(web, f"/desk/applications/{member.id}")
    data = {"csrf_token": token, **fields}
    if confirmed:
        data["confirmed"] = "yes"
    return web.post(f"/desk/applications/{member.id}/{decision}", data=data)


# The list


def test_the_applications_oldest_first_with_type_and_fee(
    web, logins, applicants, session, admin, yearly
) -> None:
    make_active_member(session, admin, yearly, first_name="Actief")  # decided: not listed
    signed_in(web, SECRETARY)
    with capture() as queries:
        page = web.get("/desk/applications")
    assert page.status_code == 200
    assert ROW.findall(page.text) == [str(member.id) for member in applicants]
    text = text_of(page.text)
    assert "Jaarlid" in text
    assert "€30.00 Annual" in text
    assert "cees@example.org" in text
    assert f'href="/desk/applications/{applicants[0].id}">Approve or reject' in page.text
    assert queries.count == 3  # the sign-in, the page, its membership types


def test_the_count_when_asked(web, logins, applicants) -> None:
    signed_in(web, TREASURER)
    listed = web.get("/desk/applications")
    assert "data-total" not in listed.text
    assert 'hx-get="/desk/applications/count"' in listed.text
    with capture() as queries:
        counted = web.get("/desk/applications?count=1")
    assert 'data-total="3"' in counted.text
    assert "3 applications are waiting." in text_of(counted.text)
    assert queries.count == 4
    with capture() as queries:
        fragment = web.get("/desk/applications/count")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'data-total="3"' in fragment.text
    assert queries.count == 2  # the sign-in and the count


def test_the_list_is_paged_by_keyset_at_the_same_cost_at_two_sizes(
    web, logins, session, applicants, yearly
) -> None:
    signed_in(web, SECRETARY)
    with capture() as small_queries:
        small = web.get("/desk/applications")
    assert len(ROW.findall(small.text)) == 3
    add_applications(session, yearly, 30)
    with capture() as first_queries:
        first = web.get("/desk/applications")
    first_rows = ROW.findall(first.text)
    assert len(first_rows) == 25
    assert first_rows[:3] == [str(member.id) for member in applicants]
    link = NEXT.search(first.text)
    assert link is not None
    with capture() as second_queries:
        second = web.get(link.group(1))
    second_rows = ROW.findall(second.text)
    assert len(second_rows) == 8
    assert set(first_rows).isdisjoint(second_rows)
    assert NEXT.search(second.text) is None
    assert small_queries.count == first_queries.count == second_queries.count == 3


@pytest.mark.parametrize("query", ["after=not-a-cursor", "after=" + "x" * 401, "count=maybe"])
def test_bad_list_input_is_the_422_page(web, logins, query) -> None:
    signed_in(web, SECRETARY)
    assert web.get(f"/desk/applications?{query}").status_code == 422


def test_a_treasurer_reads_the_applications_without_forms(web, logins, applicants) -> None:
    signed_in(web, TREASURER)
    listed = web.get("/desk/applications")
    assert listed.status_code == 200
    assert "Approve or reject" not in listed.text
    one = web.get(f"/desk/applications/{applicants[0].id}")
    assert one.status_code == 200
    assert "/approve" not in one.text
    assert "/reject" not in one.text


def test_the_menu_fetches_the_number_waiting_apart(web, logins, applicants) -> None:
    signed_in(web, SECRETARY)
    with capture() as page_queries:
        page = web.get("/desk/members")
    assert 'hx-get="/desk/applications/waiting"' in page.text
    assert page_queries.count == 2  # the members list pays nothing for the count
    with capture() as queries:
        badge = web.get("/desk/applications/waiting")
    assert badge.status_code == 200
    assert 'data-waiting="3"' in badge.text
    assert "3 waiting" in badge.text
    assert queries.count == 2  # the sign-in and the count


@pytest.mark.parametrize("email", [SECRETARY, TREASURER, ADMINISTRATOR])
def test_the_menu_links_the_applications(web, logins, email) -> None:
    signed_in(web, email)
    assert '<li><a href="/desk/applications">Applications</a>' in web.get("/desk").text


# Approving


def test_approve_asks_for_a_confirmation_and_writes_nothing_before(
    web, logins, applicants, session
) -> None:
    anna = applicants[1]
    signed_in(web, SECRETARY)
    page = decide(web, anna, "approve", confirmed=False, dues_rate="25,00",
                  start_date="2026-04-01", membership_type_id="")  # fmt: skip
    assert page.status_code == 200
    text = text_of(page.text)
    assert f"Approve Anna {anna.last_name} ({anna.member_id}) as Jaarlid at €25.00" in text
    assert "1 April 2026" in text
    assert 'name="confirmed" value="yes"' in page.text
    assert state_of(session, anna) == ("Pending", "Pending", 0)


def test_a_secretary_approves_with_a_reduced_rate(web, logins, applicants, session) -> None:
    anna = applicants[1]
    signed_in(web, SECRETARY)
    done = decide(web, anna, "approve", dues_rate="25,00", start_date="2026-04-01",
                  membership_type_id="")  # fmt: skip
    assert done.status_code == 303
    assert done.headers["location"] == "/desk/applications"
    assert state_of(session, anna) == ("Active", "Approved", 1)
    schedule = session.scalars(select(DuesSchedule).where(DuesSchedule.member_id == anna.id)).one()
    assert schedule.dues_rate == Decimal("25.00")
    listed = web.get("/desk/applications")
    assert "The application is approved." in text_of(listed.text)
    assert str(anna.id) not in ROW.findall(listed.text)


def test_an_administrator_approves_as_another_type_at_its_fee(
    web, logins, applicants, session
) -> None:
    monthly = make_type(session, period=BillingPeriod.MONTHLY, amount="4.00", name="Maandlid")
    cees = applicants[0]
    signed_in(web, ADMINISTRATOR)
    done = decide(web, cees, "approve", membership_type_id=str(monthly.id))
    assert done.status_code == 303
    membership = session.scalars(select(Membership).where(Membership.member_id == cees.id)).one()
    assert membership.membership_type_id == monthly.id
    assert membership.start_date.isoformat() == "2026-03-02"  # today when left empty
    schedule = session.scalars(select(DuesSchedule).where(DuesSchedule.member_id == cees.id)).one()
    assert schedule.dues_rate == Decimal("4.00")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"dues_rate": "veel"}, "dues_rate", "Enter an amount greater than zero"),
        ({"dues_rate": "0"}, "dues_rate", "Enter an amount greater than zero"),
        ({"dues_rate": "12.345"}, "dues_rate", "Enter an amount greater than zero"),
        ({"start_date": "2026-13-01"}, "start_date", "Enter a date between 1900 and 2200"),
        ({"start_date": "2301-01-01"}, "start_date", "Enter a date between 1900 and 2200"),
        ({"membership_type_id": "999999"}, "membership_type_id", "Choose one of the options."),
        ({"membership_type_id": "Jaarlid"}, "membership_type_id", "Choose one of the options."),
    ],
)
@pytest.mark.parametrize("confirmed", [False, True])
def test_bad_approval_input_is_refused_and_nothing_written(
    web, logins, applicants, session, fields, field, message, confirmed
) -> None:
    bram = applicants[2]
    signed_in(web, SECRETARY)
    page = decide(web, bram, "approve", confirmed=confirmed, **fields)
    assert page.status_code == 422
    assert f'id="error-{field}"' in page.text
    assert message in text_of(page.text)
    for name, value in fields.items():
        assert f'value="{value}"' in page.text or name == "membership_type_id"
    assert state_of(session, bram) == ("Pending", "Pending", 0)


def test_a_rate_below_the_types_minimum_is_refused_at_the_confirmation(
    web, logins, applicants, session
) -> None:
    bram = applicants[2]
    signed_in(web, SECRETARY)
    page = decide(web, bram, "approve", dues_rate="19.99")
    assert page.status_code == 422
    assert 'id="error-dues_rate"' in page.text
    text = text_of(page.text)
    assert "Below the minimum of this membership type" in text
    assert "below the minimum 20.00" in text
    assert 'value="19.99"' in page.text
    assert state_of(session, bram) == ("Pending", "Pending", 0)


def test_approving_a_decided_application_names_the_rule_and_writes_nothing(
    web, logins, applicants, session, admin
) -> None:
    bram = applicants[2]
    reject_member(session, admin, bram.id, "Geen lid van de regio")
    signed_in(web, SECRETARY)
    for confirmed in (False, True):
        page = decide(web, bram, "approve", confirmed=confirmed)
        assert page.status_code == 409
        text = text_of(page.text)
        assert "This application is decided already" in text
        assert "status Rejected" in text
        assert state_of(session, bram) == ("Rejected", "Rejected", 0)


def test_the_page_of_a_decided_application_has_no_forms(web, logins, applicants, session, admin):
    reject_member(session, admin, applicants[0].id, "Dubbel aangemeld")
    signed_in(web, SECRETARY)
    page = web.get(f"/desk/applications/{applicants[0].id}")
    assert page.status_code == 200
    assert "/approve" not in page.text
    assert "Dubbel aangemeld" in text_of(page.text)


# Rejecting


def test_a_secretary_rejects_with_a_reason_after_a_confirmation(
    web, logins, applicants, session
) -> None:
    cees = applicants[0]
    signed_in(web, SECRETARY)
    asked = decide(web, cees, "reject", confirmed=False, reason="Woont buiten de regio")
    assert asked.status_code == 200
    assert "for this reason: Woont buiten de regio?" in text_of(asked.text)
    assert state_of(session, cees) == ("Pending", "Pending", 0)
    done = decide(web, cees, "reject", reason="  Woont buiten de regio ")
    assert done.status_code == 303
    assert state_of(session, cees) == ("Rejected", "Rejected", 0)
    assert session.get_one(Member, cees.id).rejection_reason == "Woont buiten de regio"
    assert "The application is rejected." in text_of(web.get("/desk/applications").text)


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "Give the reason for the rejection"), ("   ", "Give the reason for the rejection"),
     ("x" * 256, "At most 255 characters.")],
)  # fmt: skip
@pytest.mark.parametrize("confirmed", [False, True])
def test_a_rejection_without_a_good_reason_is_refused(
    web, logins, applicants, session, reason, message, confirmed
) -> None:
    cees = applicants[0]
    signed_in(web, SECRETARY)
    page = decide(web, cees, "reject", confirmed=confirmed, reason=reason)
    assert page.status_code == 422
    assert 'id="error-reason"' in page.text
    assert message in text_of(page.text)
    assert state_of(session, cees) == ("Pending", "Pending", 0)


def test_rejecting_twice_is_a_409_and_changes_nothing(web, logins, applicants, session, admin):
    cees = applicants[0]
    reject_member(session, admin, cees.id, "Eerste reden")
    signed_in(web, ADMINISTRATOR)
    page = decide(web, cees, "reject", reason="Tweede reden")
    assert page.status_code == 409
    assert "This application is decided already" in text_of(page.text)
    assert session.get_one(Member, cees.id).rejection_reason == "Eerste reden"


# Who may, and forged forms


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_treasurer_may_not_decide(web, logins, applicants, session, decision) -> None:
    anna = applicants[1]
    signed_in(web, TREASURER)
    page = decide(web, anna, decision, reason="Geen reden")
    assert page.status_code == 403
    assert state_of(session, anna) == ("Pending", "Pending", 0)


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/desk/applications"), ("get", "/desk/applications/count"),
     ("get", "/desk/applications/waiting"),
     ("get", "/desk/applications/{id}"), ("post", "/desk/applications/{id}/approve"),
     ("post", "/desk/applications/{id}/reject")],
)  # fmt: skip
def test_a_member_gets_the_403_page(web, logins, applicants, session, method, path) -> None:
    anna = applicants[1]
    signed_in(web, MEMBER)
    url = path.format(id=anna.id)
    if method == "get":
        page = web.get(url)
    else:
        page = web.post(url, data={"csrf_token": form_token(web, "/portal"), "reason": "x",
                                   "confirmed": "yes"})  # fmt: skip
    assert page.status_code == 403
    assert state_of(session, anna) == ("Pending", "Pending", 0)


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_forged_form_is_refused_and_nothing_written(
    web, logins, applicants, session, decision
) -> None:
    anna = applicants[1]
    signed_in(web, SECRETARY)
    page = web.post(
        f"/desk/applications/{anna.id}/{decision}",
        data={"csrf_token": "0" * 64, "reason": "Vervalst", "confirmed": "yes"},
    )
    assert page.status_code == 403
    assert state_of(session, anna) == ("Pending", "Pending", 0)


def test_an_unknown_application_is_the_404_page(web, logins) -> None:
    signed_in(web, SECRETARY)
    assert web.get("/desk/applications/987654").status_code == 404
    assert web.get("/desk/applications/0").status_code == 422


def test_the_applications_are_dutch(browser, logins, applicants) -> None:
    web: TestClient = signed_in(browser(language="nl"), SECRETARY)
    text = text_of(web.get("/desk/applications?count=1").text)
    assert "Aanmeldingen" in text
    assert "3 aanmeldingen wachten." in text
    page = text_of(web.get(f"/desk/applications/{applicants[0].id}").text)
    assert "Goedkeuren" in page
    assert "Afwijzen" in page
