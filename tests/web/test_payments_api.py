"""/api/v1/payments: create (idempotent), submit, cancel, read — roles and bad input."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice, Payment, PaymentAllocation
from verenigingen.db.idempotency import IdempotencyRecord
from verenigingen.members.models import Customer, Member

URL = "/api/v1/payments"


pytestmark = pytest.mark.usefixtures("frozen_today")


def add_customer(session: Session) -> Customer:
    customer = Customer(debtor_number=f"DEB-{uuid.uuid4().hex[:8]}", name="Familie Visser")
    session.add(customer)
    session.flush()
    return customer


def portal_client(session: Session, api: Any, customer: Customer) -> TestClient:
    user = create_user(session, f"lid-{uuid.uuid4().hex[:6]}@example.org", Role.MEMBER)
    tag = uuid.uuid4().hex[:6]
    session.add(
        Member(
            member_id=f"Assoc-Member-2026-01-{tag}",
            first_name="Piet",
            last_name="Visser",
            email=f"{tag}@example.org",
            customer_id=customer.id,
            user_id=user.id,
        )
    )
    session.flush()
    client: TestClient = api(user)
    return client


def submitted_invoice(
    client: TestClient, customer: Customer, rate: str = "100.00", due_date: str = "2026-03-16"
) -> int:
    response = client.post(
        "/api/v1/invoices",
        json={
            "customer_id": customer.id,
            "due_date": due_date,
            "lines": [{"description": "Contributie", "rate": rate}],
        },
    )
    invoice_id: int = response.json()["id"]
    assert client.post(f"/api/v1/invoices/{invoice_id}/submit").status_code == 200
    return invoice_id


def count(session: Session, model: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def treasurer(api: Any) -> TestClient:
    client: TestClient = api(Role.TREASURER)
    return client


def test_requests_without_a_token_are_401(api: Any) -> None:
    client = api(Role.TREASURER)
    client.headers.pop("Authorization")
    assert client.get(URL).status_code == 401
    assert client.post(URL, json={"customer_id": 1, "paid_amount": "1"}).status_code == 401


def test_create_draft_submit_and_read(session: Session, treasurer: TestClient) -> None:
    customer = add_customer(session)
    invoice_id = submitted_invoice(treasurer, customer)

    created = treasurer.post(
        URL,
        json={
            "customer_id": customer.id,
            "paid_amount": "60.00",
            "mode_of_payment": "iDEAL",
            "reference_no": "TRX-1",
            "posting_date": "2026-03-01",
            "allocations": [{"invoice_id": invoice_id, "allocated_amount": 45}],
        },
    )
    assert created.status_code == 201
    body = created.json()
    assert body["number"].startswith("ACC-PAY-2026-")
    assert (body["status"], body["docstatus"], body["payment_type"]) == ("Draft", 0, "Receive")
    assert (body["paid_amount"], body["unallocated_amount"]) == ("60.00", "15.00")
    assert body["allocations"] == [{"invoice_id": invoice_id, "allocated_amount": "45.00"}]
    assert treasurer.get(f"/api/v1/invoices/{invoice_id}").json()["outstanding_amount"] == "100.00"

    submitted = treasurer.post(f"{URL}/{body['id']}/submit")
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "Submitted"
    invoice = treasurer.get(f"/api/v1/invoices/{invoice_id}").json()
    assert (invoice["outstanding_amount"], invoice["status"]) == ("55.00", "Partly Paid")

    assert treasurer.get(f"{URL}/{body['id']}").json() == submitted.json()
    listed = treasurer.get(
        URL, params={"customer_id": customer.id, "status": "Submitted", "count": True}
    ).json()
    assert (listed["total"], [p["id"] for p in listed["items"]]) == (1, [body["id"]])
    assert (
        treasurer.get(
            URL, params={"customer_id": customer.id, "status": "Draft", "count": True}
        ).json()["total"]
        == 0
    )


def test_create_and_submit_in_one_call_allocates_oldest_first(
    session: Session, treasurer: TestClient
) -> None:
    customer = add_customer(session)
    later = submitted_invoice(treasurer, customer, "50.00", due_date="2026-04-01")
    sooner = submitted_invoice(treasurer, customer, "50.00", due_date="2026-03-10")

    response = treasurer.post(
        URL,
        json={
            "customer_id": customer.id,
            "paid_amount": "70",
            "submit": True,
        },
    )

    assert response.status_code == 201
    assert response.json()["status"] == "Submitted"
    assert response.json()["allocations"] == [
        {"invoice_id": sooner, "allocated_amount": "50.00"},
        {"invoice_id": later, "allocated_amount": "20.00"},
    ]
    session.expire_all()
    statuses = dict(
        session.execute(
            select(Invoice.id, Invoice.status).where(Invoice.id.in_([sooner, later]))
        ).all()
    )
    assert statuses == {sooner: "Paid", later: "Partly Paid"}


def test_idempotent_retry_returns_the_first_payment_and_writes_nothing(
    session: Session, treasurer: TestClient
) -> None:
    customer = add_customer(session)
    invoice_id = submitted_invoice(treasurer, customer)
    body = {"customer_id": customer.id, "paid_amount": "40.00", "submit": True}
    headers = {"Idempotency-Key": "bank-import-2026-03-02-0001"}

    first = treasurer.post(URL, json=body, headers=headers)
    retry = treasurer.post(URL, json=body, headers=headers)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers.get("Idempotent-Replayed") == "true"
    session.expire_all()
    assert count(session, Payment) == 1
    assert count(session, PaymentAllocation) == 1
    assert session.scalar(select(Invoice.outstanding_amount).where(Invoice.id == invoice_id)) == 60

    changed = treasurer.post(URL, json={**body, "paid_amount": "41.00"}, headers=headers)
    assert changed.status_code == 409
    assert changed.json()["error"] == "idempotency_key_reused"
    session.expire_all()
    assert count(session, Payment) == 1
    assert count(session, IdempotencyRecord) == 1

    without_key = treasurer.post(URL, json=body)
    assert without_key.status_code == 201
    assert without_key.json()["id"] != first.json()["id"]


def test_failed_create_stores_no_idempotency_record(
    session: Session, treasurer: TestClient
) -> None:
    headers = {"Idempotency-Key": "retry-me"}
    body = {"customer_id": 777_777, "paid_amount": "5.00"}
    assert treasurer.post(URL, json=body, headers=headers).status_code == 404
    session.expire_all()
    assert count(session, IdempotencyRecord) == 0


@pytest.mark.parametrize(
    ("overrides", "code", "detail"),
    [
        ({"paid_amount": "-5"}, "amount_not_positive", "paid_amount must be greater than zero"),
        ({"paid_amount": -5}, "amount_not_positive", "paid_amount must be greater than zero"),
        ({"paid_amount": 10.005}, "amount_too_precise", "paid_amount must have at most two"),
        ({"paid_amount": "10.005"}, "amount_too_precise", "paid_amount must have at most two"),
        ({"paid_amount": "tien"}, "amount_not_a_number", "paid_amount must be a number"),
        ({"paid_amount": 10_000_000_000}, "amount_too_large", "paid_amount is too large"),
        # More digits than Decimal's 28 used to fail inside rounding (a 500).
        ({"paid_amount": 1e26}, "amount_too_large", "paid_amount is too large"),
        ({"paid_amount": -1e30}, "amount_too_large", "paid_amount is too large"),
        # Only plain decimal text: no exponents, separators, other digits or spaces.
        ({"paid_amount": "1e400"}, "amount_not_a_number", "such as 12.50"),
        ({"paid_amount": "1e10"}, "amount_not_a_number", "such as 12.50"),
        ({"paid_amount": "1E+1"}, "amount_not_a_number", "such as 12.50"),
        ({"paid_amount": "1_0.00"}, "amount_not_a_number", "such as 12.50"),
        ({"paid_amount": "\uff11\uff12"}, "amount_not_a_number", "such as 12.50"),
        ({"paid_amount": " 1.00 "}, "amount_not_a_number", "such as 12.50"),
        ({"paid_amount": "Infinity"}, "amount_not_a_number", "such as 12.50"),
        ({"posting_date": "2026-13-01"}, "validation_failed", "posting_date"),
        ({"mode_of_payment": "Bitcoin"}, "validation_failed", "mode_of_payment"),
        (
            {"allocations": [{"invoice_id": "INV", "allocated_amount": "1"}]},
            "validation_failed",
            "invoice_id",
        ),
        ({"allocations": "all"}, "validation_failed", "allocations"),
    ],
)
def test_bad_payment_input_is_422_and_writes_nothing(
    session: Session, treasurer: TestClient, overrides: dict[str, Any], code: str, detail: str
) -> None:
    customer = add_customer(session)
    response = treasurer.post(
        URL, json={"customer_id": customer.id, "paid_amount": "10.00", **overrides}
    )
    assert response.status_code == 422
    assert response.json()["error"] == code
    assert detail in response.json()["detail"]
    session.expire_all()
    assert count(session, Payment) == 0


def test_allocation_refusals(session: Session, treasurer: TestClient) -> None:
    customer, other = add_customer(session), add_customer(session)
    invoice_id = submitted_invoice(treasurer, customer)
    foreign_id = submitted_invoice(treasurer, other)

    def attempt(target: int, amount: str, paid: str = "500.00") -> Any:
        return treasurer.post(
            URL,
            json={
                "customer_id": customer.id,
                "paid_amount": paid,
                "allocations": [{"invoice_id": target, "allocated_amount": amount}],
            },
        )

    def refusal(response: Any) -> tuple[int, str]:
        return response.status_code, response.json()["error"]

    assert refusal(attempt(invoice_id, "100.01")) == (422, "allocation_exceeds_outstanding")
    assert refusal(attempt(invoice_id, "50.00", paid="40.00")) == (
        422,
        "allocations_exceed_paid_amount",
    )
    assert refusal(attempt(foreign_id, "10.00")) == (422, "allocation_to_another_customer")
    assert refusal(attempt(999_999, "10.00")) == (404, "not_found")
    assert treasurer.post(f"/api/v1/invoices/{invoice_id}/cancel").status_code == 200
    assert refusal(attempt(invoice_id, "10.00")) == (409, "invoice_not_submitted")
    session.expire_all()
    assert count(session, Payment) == 0


def test_state_conflicts_and_unknown_ids(session: Session, treasurer: TestClient) -> None:
    customer = add_customer(session)
    submitted_invoice(treasurer, customer)
    payment = treasurer.post(
        URL,
        json={
            "customer_id": customer.id,
            "paid_amount": "30.00",
            "submit": True,
        },
    ).json()

    again = treasurer.post(f"{URL}/{payment['id']}/submit")
    assert (again.status_code, again.json()["error"]) == (409, "payment_not_draft")
    assert "already submitted" in again.json()["detail"]
    cancelled = treasurer.post(f"{URL}/{payment['id']}/cancel")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "Cancelled")
    twice = treasurer.post(f"{URL}/{payment['id']}/cancel")
    assert (twice.status_code, twice.json()["error"]) == (409, "payment_already_cancelled")

    for response in (
        treasurer.get(f"{URL}/999999"),
        treasurer.post(f"{URL}/999999/submit"),
        treasurer.post(f"{URL}/999999/cancel"),
    ):
        assert (response.status_code, response.json()["error"]) == (404, "not_found")
    assert treasurer.get(URL, params={"status": "Paid"}).status_code == 422


@pytest.mark.parametrize("role", [Role.MEMBER, Role.MEMBERSHIP_SECRETARY])
def test_readers_may_not_write(session: Session, api: Any, role: Role) -> None:
    customer = add_customer(session)
    reader = portal_client(session, api, customer) if role == Role.MEMBER else api(role)
    response = reader.post(URL, json={"customer_id": customer.id, "paid_amount": "5.00"})
    assert (response.status_code, response.json()["error"]) == (403, "forbidden")
    session.expire_all()
    assert count(session, Payment) == 0


def test_member_reads_only_its_own_payments(
    session: Session, api: Any, treasurer: TestClient
) -> None:
    mine, theirs = add_customer(session), add_customer(session)
    own = treasurer.post(URL, json={"customer_id": mine.id, "paid_amount": "5.00"}).json()
    foreign = treasurer.post(URL, json={"customer_id": theirs.id, "paid_amount": "5.00"}).json()
    portal = portal_client(session, api, mine)

    assert portal.get(f"{URL}/{own['id']}").status_code == 200
    assert portal.get(f"{URL}/{foreign['id']}").status_code == 403
    assert [p["id"] for p in portal.get(URL).json()["items"]] == [own["id"]]
    assert portal.get(URL, params={"customer_id": theirs.id}).status_code == 403
    assert portal.post(f"{URL}/{own['id']}/submit").status_code == 403
