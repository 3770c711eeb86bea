"""Days from outside lie between 1900 and 2200, and a dues run is joined only by the same run
(regression tests: posting dates of year 1 and 9999 were stored, and a dues run as of 9999-12-31
was handed, through deduplication, to every plain request for a dues run)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role
from verenigingen.billing.models import Payment
from verenigingen.jobs.models import Job
from verenigingen.members.models import Customer

OUT_OF_RANGE = ["0001-01-01", "1899-12-31", "2201-01-01", "9999-12-31"]


@pytest.mark.parametrize("day", OUT_OF_RANGE)
@pytest.mark.parametrize("field", ["posting_date", "reference_date"])
def test_a_payment_dated_out_of_range_writes_nothing(
    api, session: Session, day: str, field: str
) -> None:  # type: ignore[no-untyped-def]
    customer = Customer(debtor_number=f"DEB-{day}", name="Familie Datum")
    session.add(customer)
    session.flush()
    body = {"customer_id": customer.id, "paid_amount": "10.00", field: day}
    response = api(Role.TREASURER).post("/api/v1/payments", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_failed"
    assert field in response.json()["detail"]
    session.expire_all()
    assert session.scalar(select(func.count(Payment.id))) == 0


@pytest.mark.parametrize("day", OUT_OF_RANGE)
def test_a_dues_run_out_of_range_is_refused(api, session: Session, day: str, job_engine) -> None:  # type: ignore[no-untyped-def]
    response = api(Role.TREASURER).post("/api/v1/dues/generate", json={"date": day})
    assert response.status_code == 422
    assert session.scalar(select(func.count(Job.id))) == 0


def test_the_range_ends_are_days_like_any_other(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    customer = Customer(debtor_number="DEB-ENDS", name="Familie Rand")
    session.add(customer)
    session.flush()
    client = api(Role.TREASURER)
    for day in ("1900-01-01", "2200-12-31"):
        body = {"customer_id": customer.id, "paid_amount": "1.00", "reference_date": day}
        assert client.post("/api/v1/payments", json=body).status_code == 201


def test_a_dues_run_is_joined_only_by_a_request_for_the_same_run(api, session, job_engine) -> None:  # type: ignore[no-untyped-def]
    client = api(Role.TREASURER)
    dated = client.post("/api/v1/dues/generate", json={"date": "2026-12-31"}).json()
    today = client.post("/api/v1/dues/generate").json()
    again = client.post("/api/v1/dues/generate", json={"date": "2026-12-31"}).json()
    smaller = client.post("/api/v1/dues/generate", json={"batch_size": 10}).json()
    assert today["id"] != dated["id"]
    assert again["id"] == dated["id"]
    assert smaller["id"] not in (dated["id"], today["id"])
    assert today["params"] == {"day": None, "batch_size": 50}
    assert session.scalar(select(func.count(Job.id))) == 3


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (
            "/members",
            {
                "first_name": "A",
                "last_name": "B",
                "email": "a@example.org",
                "birth_date": "1899-12-31",
            },
            "birth_date",
        ),
        (
            "/invoices",
            {
                "customer_id": 1,
                "posting_date": "9999-12-31",
                "lines": [{"description": "x", "rate": "1.00"}],
            },
            "posting_date",
        ),
    ],
)
def test_other_days_out_of_range_are_refused(api, url: str, body: dict, field: str) -> None:  # type: ignore[no-untyped-def]
    response = api(Role.ADMINISTRATOR).post(f"/api/v1{url}", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
