"""/api/v1/members: applications, decisions, updates, termination and mandates over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from member_factories import VALID_IBAN, make_active_member, make_applicant, make_type
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.config import Settings
from verenigingen.dues.models import DuesSchedule
from verenigingen.jobs.models import Job
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.members.models import Member
from verenigingen.sepa.models import SepaMandate

TODAY = dt.date(2026, 11, 15)
URL = "/api/v1/members"


pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def portal_login(session: Session, member: Member) -> User:
    user = create_user(session, f"portal{member.id}@example.org", Role.MEMBER)
    member.user_id = user.id
    session.flush()
    return user


APPLICATION = {
    "first_name": "Jan",
    "last_name": "Jansen",
    "email": "jan@example.org",
    "birth_date": "1980-02-01",
    "payment_method": "SEPA Direct Debit",
    "iban": "NL91 ABNA 0417 1643 00",
}


def test_requests_without_token_are_401(api):
    client = api(Role.ADMINISTRATOR)
    client.headers.pop("Authorization")
    for method, path in (
        ("get", URL),
        ("post", URL),
        ("get", f"{URL}/1"),
        ("post", f"{URL}/1/approve"),
    ):
        response = client.request(method.upper(), path)
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated"


def test_apply_then_read(api, session):
    make_type(session, default=True)
    client = api(Role.MEMBERSHIP_SECRETARY)
    response = client.post(URL, json=APPLICATION)
    assert response.status_code == 201
    body = response.json()
    assert body["member_id"] == "Assoc-Member-2026-11-0001"
    assert (body["status"], body["application_status"]) == ("Pending", "Pending")
    assert (body["iban"], body["bic"]) == ("NL91**********4300", "ABNANL2A")  # masked: a secretary
    fetched = client.get(f"{URL}/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert count(session, Member) == 1


@pytest.mark.parametrize(
    ("change", "code", "fragment"),
    [
        ({"iban": "NL91ABNA0417164301"}, "invalid_iban", "IBAN"),
        ({"email": "jan"}, "validation_failed", "email"),
        ({"birth_date": "2026-13-01"}, "validation_failed", "birth_date"),
        ({"birth_date": "2027-01-01"}, "birth_date_in_future", "future"),
        ({"payment_method": "Cheque"}, "validation_failed", "payment_method"),
        ({"membership_type_id": "x"}, "validation_failed", "membership_type_id"),
        ({"shoe_size": 44}, "validation_failed", "shoe_size"),
        ({"bic": "ABNANL2A", "iban": None}, "bic_without_iban", "without an IBAN"),
    ],
)
def test_bad_application_is_422_and_writes_nothing(api, session, change, code, fragment):
    make_type(session, default=True)
    response = api(Role.ADMINISTRATOR).post(URL, json={**APPLICATION, **change})
    assert response.status_code == 422
    assert response.json()["error"] == code
    assert fragment in response.json()["detail"]
    assert count(session, Member) == 0


def test_list_pages_and_filters_by_status(api, session, admin):
    monthly = make_type(session, default=True)
    for _ in range(3):
        make_applicant(session, admin)
    for _ in range(2):
        make_active_member(session, admin, monthly)
    client = api(Role.TREASURER)

    page = client.get(URL, params={"limit": 2, "offset": 0, "count": True}).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (5, 2, 0, 2)
    rest = client.get(URL, params={"limit": 2, "offset": 4}).json()
    assert len(rest["items"]) == 1
    seen = {m["id"] for m in page["items"]} | {m["id"] for m in rest["items"]}
    assert len(seen) == 3
    active = client.get(URL, params={"status": "Active", "count": True}).json()
    assert active["total"] == 2
    assert {m["status"] for m in active["items"]} == {"Active"}
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"status": "Asleep"}):
        assert client.get(URL, params=params).status_code == 422


def test_member_sees_only_itself(api, session, admin):
    monthly = make_type(session, default=True)
    me, _, _ = make_active_member(session, admin, monthly)
    other, _, _ = make_active_member(session, admin, monthly)
    client = api(portal_login(session, me))

    listing = client.get(URL, params={"count": True}).json()
    assert (listing["total"], [m["id"] for m in listing["items"]]) == (1, [me.id])
    assert client.get(f"{URL}/{me.id}").status_code == 200
    response = client.get(f"{URL}/{other.id}")
    assert response.status_code == 403
    assert response.json()["error"] == "not_own_record"


def test_member_role_cannot_write(api, session, admin):
    monthly = make_type(session, default=True)
    me, _, _ = make_active_member(session, admin, monthly)
    pending = make_applicant(session, admin)
    client = api(portal_login(session, me))
    assert client.post(URL, json=APPLICATION).status_code == 403
    assert client.post(f"{URL}/{pending.id}/approve").status_code == 403
    assert client.post(f"{URL}/{pending.id}/reject", json={"reason": "x"}).status_code == 403
    assert client.post(f"{URL}/{me.id}/terminate").status_code == 403


def test_patch(api, session, admin):
    monthly = make_type(session, default=True)
    me, _, _ = make_active_member(session, admin, monthly)
    other, _, _ = make_active_member(session, admin, monthly)
    secretary = api(Role.MEMBERSHIP_SECRETARY)

    response = secretary.patch(f"{URL}/{me.id}", json={"last_name": "Bakker", "iban": VALID_IBAN})
    assert response.status_code == 200
    assert (response.json()["last_name"], response.json()["bic"]) == ("Bakker", "ABNANL2A")
    assert secretary.patch(f"{URL}/{me.id}", json={"iban": "NL00"}).status_code == 422
    assert secretary.patch(f"{URL}/{me.id}", json={"birth_date": "1990-02-30"}).status_code == 422
    assert secretary.patch(f"{URL}/9999", json={"city": "Ede"}).status_code == 404

    portal = api(portal_login(session, me))
    own = portal.patch(f"{URL}/{me.id}", json={"city": "Ede", "email": "me@example.org"})
    assert own.status_code == 200
    assert own.json()["city"] == "Ede"
    assert portal.patch(f"{URL}/{me.id}", json={"last_name": "X"}).status_code == 403
    assert portal.patch(f"{URL}/{other.id}", json={"city": "Ede"}).status_code == 403
    session.expire_all()
    assert session.get(Member, other.id).city == "Utrecht"
    assert session.get(Member, me.id).last_name == "Bakker"


def test_approve(api, session, admin):
    make_type(session, amount="20.00", minimum="15.00", default=True)
    member = make_applicant(session, admin)
    client = api(Role.MEMBERSHIP_SECRETARY)
    url = f"{URL}/{member.id}/approve"

    for body, code, fragment in (
        ({"dues_rate": "12.345"}, "amount_too_precise", "two decimals"),
        ({"dues_rate": "14.99"}, "dues_rate_below_minimum", "minimum"),
        ({"dues_rate": 15.001}, "amount_too_precise", "two decimals"),
        ({"start_date": "2026-02-30"}, "validation_failed", "start_date"),
    ):
        response = client.post(url, json=body)
        assert (response.status_code, response.json()["error"]) == (422, code), body
        assert fragment in response.json()["detail"]
    assert count(session, DuesSchedule) == 0
    assert client.post(url, json={"membership_type_id": 999}).status_code == 404
    assert client.post(f"{URL}/999/approve").status_code == 404

    response = client.post(url, json={"dues_rate": "15.00", "start_date": "2026-12-01"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["member_since"]) == ("Active", "2026-12-01")
    again = client.post(url)
    assert again.status_code == 409
    assert again.json()["error"] == "application_already_decided"
    assert "already approved" in again.json()["detail"]


def test_reject(api, session, admin):
    monthly = make_type(session, default=True)
    pending = make_applicant(session, admin)
    approved, _, _ = make_active_member(session, admin, monthly)
    client = api(Role.MEMBERSHIP_SECRETARY)
    assert client.post(f"{URL}/{pending.id}/reject", json={}).status_code == 422
    response = client.post(f"{URL}/{pending.id}/reject", json={"reason": "Geen referenties"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["rejection_reason"]) == (
        "Rejected",
        "Geen referenties",
    )
    for response in (
        client.post(f"{URL}/{pending.id}/approve"),
        client.post(f"{URL}/{approved.id}/reject", json={"reason": "x"}),
    ):
        assert (response.status_code, response.json()["error"]) == (
            409,
            "application_already_decided",
        )


def test_terminate(api, session, admin):
    monthly = make_type(session, default=True)
    member, _, _ = make_active_member(session, admin, monthly)
    client = api(Role.MEMBERSHIP_SECRETARY)
    url = f"{URL}/{member.id}/terminate"
    assert client.post(url, json={"termination_date": "2026-11-31"}).status_code == 422
    response = client.post(url, json={"reason": "Verhuisd"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["termination_date"]) == (
        "Terminated",
        "2026-11-15",
    )
    twice = client.post(url)
    assert (twice.status_code, twice.json()["error"]) == (409, "member_already_terminated")
    assert client.post(f"{URL}/999/terminate").status_code == 404


MANDATE = {
    "mandate_reference": "MNDT-0001",
    "iban": "nl91abna0417164300",
    "sign_date": "2026-11-01",
}


def test_mandates(api, session, admin):
    monthly = make_type(session, default=True)
    member, _, _ = make_active_member(session, admin, monthly)
    other, _, _ = make_active_member(session, admin, monthly)
    treasurer = api(Role.TREASURER)
    url = f"{URL}/{member.id}/mandates"

    created = treasurer.post(url, json=MANDATE)
    assert created.status_code == 201
    assert {k: created.json()[k] for k in ("iban", "bic", "status", "account_holder")} == {
        "iban": VALID_IBAN,
        "bic": "ABNANL2A",
        "status": "Active",
        "account_holder": member.full_name,
    }
    assert [m["mandate_reference"] for m in treasurer.get(url).json()] == ["MNDT-0001"]

    for change, status in (
        ({}, 409),
        ({"mandate_reference": "MNDT_2"}, 422),
        ({"mandate_reference": "M" * 36}, 422),
        ({"mandate_reference": "M-3", "iban": "NL91ABNA0417164301"}, 422),
        ({"mandate_reference": "M-4", "sign_date": "2026-11-16"}, 422),
        ({"mandate_reference": "M-5", "sign_date": "2026-02-30"}, 422),
    ):
        assert treasurer.post(url, json={**MANDATE, **change}).status_code == status, change
    assert (
        treasurer.post(
            f"{URL}/999/mandates", json={**MANDATE, "mandate_reference": "M-6"}
        ).status_code
        == 404
    )
    assert treasurer.get(f"{URL}/999/mandates").status_code == 404
    assert count(session, SepaMandate) == 1

    portal = api(portal_login(session, member))
    assert portal.get(url).status_code == 200
    assert portal.get(f"{URL}/{other.id}/mandates").status_code == 403
    assert portal.post(url, json={**MANDATE, "mandate_reference": "M-7"}).status_code == 403


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        (Role.ADMINISTRATOR, VALID_IBAN),
        (Role.TREASURER, VALID_IBAN),
        (Role.MEMBERSHIP_SECRETARY, "NL91**********4300"),
        ("portal", "NL91**********4300"),
    ],
)
def test_ibans_are_whole_only_for_the_roles_that_collect(api, session, admin, role, shown):
    monthly = make_type(session, default=True)
    member, _, _ = make_active_member(session, admin, monthly)
    member.iban = VALID_IBAN
    session.flush()
    api(Role.TREASURER).post(f"{URL}/{member.id}/mandates", json=MANDATE)
    client = api(portal_login(session, member) if role == "portal" else role)

    listed = client.get(URL).json()["items"]
    assert [m["iban"] for m in listed if m["id"] == member.id] == [shown]
    assert client.get(f"{URL}/{member.id}").json()["iban"] == shown
    assert [m["iban"] for m in client.get(f"{URL}/{member.id}/mandates").json()] == [shown]
    assert session.get(Member, member.id).iban == VALID_IBAN  # stored whole


def test_a_secretarys_approval_keeps_the_summary_up_to_date(api, session, admin, tmp_path):
    """Regression: approving a Lifetime membership bills its dues, and the summary jobs that
    follow ran in the secretary's name and failed for want of billing.write."""
    lifetime = make_type(session, period="Lifetime", amount="600.00", default=True)
    member = make_applicant(session, admin)
    client = api(Role.MEMBERSHIP_SECRETARY)
    approved = client.post(f"{URL}/{member.id}/approve", json={"start_date": "2026-12-01"})
    assert approved.status_code == 200, approved.json()
    session.expire_all()
    follow_ups = session.scalars(
        select(Job).where(Job.name.like("history.%")).order_by(Job.id)
    ).all()
    assert follow_ups, "the approval bills dues: its summary work follows as jobs"
    runtime = Runtime(savepoint_sessions(session), Settings(data_dir=tmp_path), worker_id="t:1")
    outcomes = [run_job(runtime, job.id) for job in follow_ups]
    session.expire_all()
    assert outcomes == [RunOutcome.COMPLETED] * len(follow_ups), [
        (job.name, job.error) for job in follow_ups
    ]
    assert lifetime.id is not None
