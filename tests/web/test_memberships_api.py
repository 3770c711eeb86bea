"""/api/v1/memberships: reading, renewing and cancelling over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from member_factories import make_active_member, make_type
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice
from verenigingen.dues.models import DuesSchedule
from verenigingen.members.models import BillingPeriod

TODAY = dt.date(2026, 11, 15)
URL = "/api/v1/memberships"


pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def test_requires_token(api):
    client = api(Role.ADMINISTRATOR)
    client.headers.pop("Authorization")
    assert client.get(URL).status_code == 401
    assert client.post(f"{URL}/1/renew").status_code == 401


def test_list_and_get(api, session, admin):
    monthly = make_type(session, name="Maandlid")
    annual = make_type(session, period=BillingPeriod.ANNUAL, name="Jaarlid")
    member, first, _ = make_active_member(session, admin, monthly, start=dt.date(2026, 1, 1))
    _, second, _ = make_active_member(session, admin, annual, start=dt.date(2026, 6, 1))
    client = api(Role.TREASURER)

    page = client.get(URL, params={"count": True}).json()
    assert page["total"] == 2
    assert [m["id"] for m in page["items"]] == [second.id, first.id]  # newest first
    assert page["items"][0]["membership_type"] == "Jaarlid"
    mine = client.get(URL, params={"member_id": member.id}).json()
    assert [m["id"] for m in mine["items"]] == [first.id]
    assert client.get(URL, params={"status": "Cancelled", "count": True}).json()["total"] == 0
    assert client.get(URL, params={"status": "Gone"}).status_code == 422
    assert client.get(URL, params={"limit": 501}).status_code == 422
    assert len(client.get(URL, params={"limit": 1, "offset": 1}).json()["items"]) == 1

    one = client.get(f"{URL}/{first.id}").json()
    assert one == {
        "id": first.id,
        "member_id": member.id,
        "membership_type_id": monthly.id,
        "membership_type": "Maandlid",
        "billing_period": "Monthly",
        "start_date": "2026-01-01",
        "renewal_date": "2027-01-01",
        "status": "Active",
        "cancellation_date": None,
        "cancellation_type": None,
    }
    assert client.get(f"{URL}/999").status_code == 404


def test_member_reads_only_its_own(api, session, admin):
    monthly = make_type(session)
    me, mine, _ = make_active_member(session, admin, monthly)
    _, theirs, _ = make_active_member(session, admin, monthly)
    login = create_user(session, "me@example.org", Role.MEMBER)
    me.user_id = login.id
    session.flush()
    client = api(login)

    assert [m["id"] for m in client.get(URL).json()["items"]] == [mine.id]
    assert client.get(f"{URL}/{mine.id}").status_code == 200
    assert client.get(f"{URL}/{theirs.id}").status_code == 403
    assert client.get(URL, params={"member_id": theirs.member_id}).status_code == 403
    assert client.post(f"{URL}/{mine.id}/renew").status_code == 403
    assert (
        client.post(f"{URL}/{mine.id}/cancel", json={"cancellation_type": "Immediate"}).status_code
        == 403
    )


def test_renew_bills_the_new_term(api, session, admin):
    quarterly = make_type(session, period=BillingPeriod.QUARTERLY, enforce=False)
    _, membership, _ = make_active_member(session, admin, quarterly, start=dt.date(2026, 10, 1))
    client = api(Role.MEMBERSHIP_SECRETARY)

    response = client.post(f"{URL}/{membership.id}/renew")
    assert response.status_code == 200
    assert response.json()["renewal_date"] == "2027-04-01"
    session.expire_all()
    starts = session.scalars(select(Invoice.coverage_start).order_by(Invoice.coverage_start)).all()
    assert starts == [dt.date(2026, 10, 1), dt.date(2027, 1, 1)]
    assert client.post(f"{URL}/999/renew").status_code == 404


def test_renew_lifetime_is_409(api, session, admin):
    lifetime = make_type(session, period=BillingPeriod.LIFETIME, amount="250.00")
    _, membership, _ = make_active_member(session, admin, lifetime)
    response = api(Role.ADMINISTRATOR).post(f"{URL}/{membership.id}/renew")
    assert response.status_code == 409
    assert "lifetime" in response.json()["detail"]


def test_cancel(api, session, admin):
    monthly = make_type(session)
    _, membership, schedule = make_active_member(session, admin, monthly)
    client = api(Role.MEMBERSHIP_SECRETARY)
    url = f"{URL}/{membership.id}/cancel"

    assert client.post(url, json={"cancellation_type": "Someday"}).status_code == 422
    assert client.post(url, json={}).status_code == 422
    response = client.post(url, json={"cancellation_type": "End of Period"})
    assert response.status_code == 200
    assert (response.json()["cancellation_date"], response.json()["status"]) == (
        "2027-11-15",
        "Active",
    )
    session.expire_all()
    assert session.get(DuesSchedule, schedule.id).end_date == dt.date(2027, 11, 15)
    again = client.post(url, json={"cancellation_type": "Immediate"})
    assert again.status_code == 409
    assert client.post(f"{URL}/{membership.id}/renew").status_code == 409
    assert (
        client.post(f"{URL}/999/cancel", json={"cancellation_type": "Immediate"}).status_code == 404
    )
