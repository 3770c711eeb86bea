"""/api/v1/invoices: status codes and bodies, roles, and bad input."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice
from verenigingen.members.models import Customer, Member

URL = "/api/v1/invoices"


# Due dates in these tests are in March 2026 (the root conftest's DEFAULT_TODAY); the app reads
# the same process-wide clock.
pytestmark = pytest.mark.usefixtures("frozen_today")


def add_customer(session: Session) -> Customer:
    customer = Customer(debtor_number=f"DEB-{uuid.uuid4().hex[:8]}", name="Familie Bakker")
    session.add(customer)
    session.flush()
    return customer


def add_member(session: Session, customer: Customer, user: User | None = None) -> Member:
    tag = uuid.uuid4().hex[:6]
    member = Member(
        member_id=f"Assoc-Member-2026-01-{tag}",
        first_name="Els",
        last_name="Bakker",
        email=f"{tag}@example.org",
        customer_id=customer.id,
        user_id=user.id if user else None,
    )
    session.add(member)
    session.flush()
    return member


def portal_client(session: Session, api: Any, customer: Customer) -> TestClient:
    """A Member login whose member is billed to ``customer``."""
    user = create_user(session, f"lid-{uuid.uuid4().hex[:6]}@example.org", Role.MEMBER)
    add_member(session, customer, user)
    client: TestClient = api(user)
    return client


def invoice_body(customer: Customer, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": customer.id,
        "posting_date": "2026-03-02",
        "due_date": "2026-03-16",
        "lines": [
            {"description": "Contributie 2026", "quantity": 2, "rate": "12.50"},
            {"description": "Inschrijfgeld", "rate": 5},
        ],
    }
    body.update(overrides)
    return body


def submitted_invoice(client: TestClient, customer: Customer, rate: str = "100.00") -> int:
    body = invoice_body(customer, lines=[{"description": "Contributie", "rate": rate}])
    invoice_id: int = client.post(URL, json=body).json()["id"]
    assert client.post(f"{URL}/{invoice_id}/submit").status_code == 200
    return invoice_id


@pytest.fixture
def treasurer(api: Any) -> TestClient:
    client: TestClient = api(Role.TREASURER)
    return client


def test_requests_without_a_token_are_401(api: Any) -> None:
    client = api(Role.TREASURER)
    client.headers.pop("Authorization")
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert client.post(URL, json={}).status_code == 401


def test_create_submit_get_and_list(session: Session, treasurer: TestClient) -> None:
    customer = add_customer(session)

    created = treasurer.post(URL, json=invoice_body(customer))
    assert created.status_code == 201
    body = created.json()
    assert body["number"].startswith("ACC-SINV-2026-")
    assert (body["status"], body["docstatus"]) == ("Draft", 0)
    assert (body["grand_total"], body["outstanding_amount"]) == ("30.00", "0.00")
    assert [(line["quantity"], line["rate"], line["amount"]) for line in body["lines"]] == [
        ("2.00", "12.50", "25.00"),
        ("1.00", "5.00", "5.00"),
    ]

    submitted = treasurer.post(f"{URL}/{body['id']}/submit")
    assert submitted.status_code == 200
    assert (submitted.json()["status"], submitted.json()["outstanding_amount"]) == (
        "Unpaid",
        "30.00",
    )
    fetched = treasurer.get(f"{URL}/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == submitted.json()

    listed = treasurer.get(
        URL, params={"customer_id": customer.id, "status": "Unpaid", "count": True}
    )
    assert listed.status_code == 200
    assert listed.json()["total"] == 1
    assert (listed.json()["limit"], listed.json()["offset"]) == (50, 0)
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]

    assert (
        treasurer.get(
            URL, params={"status": "Paid", "customer_id": customer.id, "count": True}
        ).json()["total"]
        == 0
    )
    session.expire_all()
    assert session.scalar(select(Invoice.status).where(Invoice.id == body["id"])) == "Unpaid"


def test_list_pages(session: Session, treasurer: TestClient) -> None:
    customer = add_customer(session)
    ids = [treasurer.post(URL, json=invoice_body(customer)).json()["id"] for _ in range(3)]
    page = treasurer.get(
        URL, params={"customer_id": customer.id, "limit": 2, "offset": 2, "count": 1}
    ).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 2)
    assert [item["id"] for item in page["items"]] == [min(ids)]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"status": "Betaald"}, {"customer_id": "x"}],
)
def test_list_refuses_bad_parameters(treasurer: TestClient, params: dict[str, Any]) -> None:
    response = treasurer.get(URL, params=params)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"


def test_unknown_ids_are_404(treasurer: TestClient) -> None:
    for response in (
        treasurer.get(f"{URL}/999999"),
        treasurer.post(f"{URL}/999999/submit"),
        treasurer.post(f"{URL}/999999/cancel"),
        treasurer.post(f"{URL}/999999/credit-notes", json={"reason": "x"}),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("overrides", "code", "detail"),
    [
        (
            {"lines": [{"description": "x", "rate": "-5"}]},
            "amount_not_positive",
            "rate must be greater than zero",
        ),
        (
            {"lines": [{"description": "x", "rate": 1.005}]},
            "amount_too_precise",
            "at most two decimals",
        ),
        (
            {"lines": [{"description": "x", "rate": "1.005"}]},
            "amount_too_precise",
            "at most two decimals",
        ),
        ({"lines": []}, "validation_failed", "lines"),
        ({"posting_date": "2026-02-30"}, "validation_failed", "posting_date"),
        ({"due_date": "morgen"}, "validation_failed", "due_date"),
        ({"due_date": "2026-03-01"}, "due_date_before_posting_date", "before posting_date"),
        ({"discount": "5"}, "validation_failed", "discount"),
    ],
)
def test_bad_invoice_input_is_422_and_writes_nothing(
    session: Session, treasurer: TestClient, overrides: dict[str, Any], code: str, detail: str
) -> None:
    customer = add_customer(session)
    before = session.scalar(select(func.count()).select_from(Invoice))
    response = treasurer.post(URL, json=invoice_body(customer, **overrides))
    assert response.status_code == 422
    assert response.json()["error"] == code
    assert detail in response.json()["detail"]
    assert session.scalar(select(func.count()).select_from(Invoice)) == before


def test_unknown_customer_is_404(treasurer: TestClient) -> None:
    response = treasurer.post(
        URL, json={"customer_id": 424242, "lines": [{"description": "x", "rate": "1"}]}
    )
    assert response.status_code == 404


def test_member_of_another_customer_is_422(session: Session, treasurer: TestClient) -> None:
    customer, other = add_customer(session), add_customer(session)
    member = add_member(session, other)
    response = treasurer.post(URL, json=invoice_body(customer, member_id=member.id))
    assert response.status_code == 422
    assert response.json()["error"] == "member_not_billed_to_customer"
    assert "not billed to customer" in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.MEMBER, Role.MEMBERSHIP_SECRETARY])
def test_readers_may_not_write(
    session: Session, api: Any, treasurer: TestClient, role: Role
) -> None:
    customer = add_customer(session)
    invoice_id = submitted_invoice(treasurer, customer)
    reader = portal_client(session, api, customer) if role == Role.MEMBER else api(role)
    for response in (
        reader.post(URL, json=invoice_body(customer)),
        reader.post(f"{URL}/{invoice_id}/cancel"),
        reader.post(f"{URL}/{invoice_id}/credit-notes", json={"reason": "x"}),
    ):
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"


def test_member_reads_only_its_own_invoices(
    session: Session, api: Any, treasurer: TestClient
) -> None:
    mine, theirs = add_customer(session), add_customer(session)
    own_id = submitted_invoice(treasurer, mine)
    foreign_id = submitted_invoice(treasurer, theirs)
    portal = portal_client(session, api, mine)

    assert portal.get(f"{URL}/{own_id}").status_code == 200
    foreign = portal.get(f"{URL}/{foreign_id}")
    assert (foreign.status_code, foreign.json()["error"]) == (403, "not_own_record")
    listed = portal.get(URL).json()
    assert [item["id"] for item in listed["items"]] == [own_id]
    theirs_listed = portal.get(URL, params={"customer_id": theirs.id})
    assert (theirs_listed.status_code, theirs_listed.json()["error"]) == (403, "not_own_record")


def test_cancel_and_conflicts(session: Session, treasurer: TestClient) -> None:
    customer = add_customer(session)
    invoice_id = submitted_invoice(treasurer, customer)
    again = treasurer.post(f"{URL}/{invoice_id}/submit")
    assert (again.status_code, again.json()["error"]) == (409, "invoice_not_draft")

    payment = treasurer.post(
        "/api/v1/payments",
        json={
            "customer_id": customer.id,
            "paid_amount": "10.00",
            "submit": True,
        },
    ).json()
    blocked = treasurer.post(f"{URL}/{invoice_id}/cancel")
    assert blocked.status_code == 409
    assert blocked.json()["error"] == "invoice_still_settled"
    assert payment["number"] in blocked.json()["detail"]
    assert "cancel those first" in blocked.json()["detail"]

    assert treasurer.post(f"/api/v1/payments/{payment['id']}/cancel").status_code == 200
    cancelled = treasurer.post(f"{URL}/{invoice_id}/cancel")
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["docstatus"]) == ("Cancelled", 2)
    twice = treasurer.post(f"{URL}/{invoice_id}/cancel")
    assert (twice.status_code, twice.json()["error"]) == (409, "invoice_already_cancelled")


def test_credit_notes(session: Session, treasurer: TestClient) -> None:
    customer = add_customer(session)
    invoice_id = submitted_invoice(treasurer, customer)

    created = treasurer.post(
        f"{URL}/{invoice_id}/credit-notes", json={"amount": "30.00", "reason": "Halfjaar"}
    )
    assert created.status_code == 201
    note = created.json()
    assert (note["grand_total"], note["status"], note["is_return"]) == ("-30.00", "Return", True)
    assert note["return_against_id"] == invoice_id
    assert treasurer.get(f"{URL}/{invoice_id}").json()["outstanding_amount"] == "70.00"

    too_much = treasurer.post(
        f"{URL}/{invoice_id}/credit-notes", json={"amount": "70.01", "reason": "x"}
    )
    assert too_much.status_code == 422
    for bad in ({"amount": "-1", "reason": "x"}, {"amount": "1", "reason": ""}, {"amount": "1"}):
        assert treasurer.post(f"{URL}/{invoice_id}/credit-notes", json=bad).status_code == 422

    rest = treasurer.post(f"{URL}/{invoice_id}/credit-notes", json={"reason": "Opgezegd"})
    assert rest.json()["grand_total"] == "-70.00"
    original = treasurer.get(f"{URL}/{invoice_id}").json()
    assert (original["outstanding_amount"], original["status"]) == ("0.00", "Credit Note Issued")
    assert (
        treasurer.post(f"{URL}/{note['id']}/credit-notes", json={"reason": "x"}).status_code == 409
    )

    assert treasurer.post(f"{URL}/{note['id']}/cancel").status_code == 200
    assert treasurer.get(f"{URL}/{invoice_id}").json()["outstanding_amount"] == "30.00"
