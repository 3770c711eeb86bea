"""/api/v1/bank/reconcile, /bank/review and the decisions on a line: treasurers and
administrators only; a refused decision is its rule's 4xx and writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from bank_samples import ING
from billing_factories import LedgerFactory
from sepa_factories import Collectables, make_creditor
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_bank_reconcile import camt
from test_bank_return_order import returned, statement

from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.bank.models import BankStatementLine
from verenigingen.bank.service import add_account
from verenigingen.billing.models import Invoice, Payment
from verenigingen.sepa.batches import batch_entries, create_batch, submit_batch
from verenigingen.sepa.pain008 import export_batch

pytestmark = pytest.mark.usefixtures("frozen_today")


class Desk:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.treasurer = create_user(session, "penningmeester@example.org", Role.TREASURER)
        add_account(session, self.treasurer, ING)
        ledger = LedgerFactory(session, self.treasurer)
        customer = ledger.customer()
        member = ledger.member(customer)
        member.first_name, member.last_name = "Piet", "Klaassen"
        self.first = ledger.invoice(customer, "30.00", member=member)
        self.second = ledger.invoice(customer, "20.00", member=member)
        self.paid_at_once = ledger.invoice(customer, "12.50", member=member)
        session.flush()

    def upload(self, client: Any) -> None:
        document = camt(
            [
                {"amount": "12.50", "remittance": self.paid_at_once.number},
                {"amount": "30.00", "name": "Piet Klaassen", "remittance": "contributie"},
                {"amount": "50.00", "remittance": "het hele jaar"},
                {"amount": "250.00", "remittance": "subsidie"},
            ]
        )
        response = client.post("/api/v1/bank/statements", files={"file": ("s.xml", document)})
        assert response.status_code == 201, response.text

    def line_id(self, remittance: str) -> int:
        self.session.expire_all()
        return self.session.scalars(
            select(BankStatementLine.id).where(BankStatementLine.remittance == remittance)
        ).one()

    def payments(self) -> int:
        self.session.expire_all()
        return self.session.scalar(select(func.count()).select_from(Payment)) or 0


@pytest.fixture
def desk(session: Session) -> Desk:
    return Desk(session)


def test_a_treasurer_reconciles_reviews_and_decides(api: Any, desk: Desk) -> None:
    client = api(desk.treasurer)
    desk.upload(client)
    run = client.post("/api/v1/bank/reconcile")
    assert run.status_code == 200, run.text
    assert run.json() == {"allocated": 1, "review": 3, "returned": 0}

    review = client.get("/api/v1/bank/review", params={"limit": 2, "count": True})
    assert review.status_code == 200
    body = review.json()
    assert (body["total"], len(body["items"])) == (3, 2)
    rest = client.get("/api/v1/bank/review", params={"after": body["next_cursor"]}).json()
    assert (len(rest["items"]), rest["next_cursor"]) == (1, None)
    forged = client.get("/api/v1/bank/review", params={"after": "not-a-cursor"})
    assert (forged.status_code, forged.json()["error"]) == (422, "validation_failed")
    named = body["items"][0]
    assert (named["remittance"], named["reconciliation_status"]) == ("contributie", "Review")
    (candidate,) = named["candidates"]
    assert (candidate["invoice_id"], Decimal(candidate["score"])) == (desk.first.id, Decimal("0.6"))
    assert candidate["invoice_number"] == desk.first.number

    accepted = client.post(f"/api/v1/bank/lines/{named['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["reconciliation_status"] == "Allocated"
    assert accepted.json()["payment_id"] is not None

    split = client.post(
        f"/api/v1/bank/lines/{desk.line_id('het hele jaar')}/allocate",
        json={"allocations": [{"invoice_id": desk.second.id, "allocated_amount": "20.00"}]},
    )
    assert split.status_code == 422
    assert split.json()["error"] == "allocations_not_line_amount"

    unrelated = client.post(
        f"/api/v1/bank/lines/{desk.line_id('subsidie')}/unrelated", json={"note": "gemeente"}
    )
    assert (unrelated.status_code, unrelated.json()["reconciliation_status"]) == (200, "Unrelated")
    again = client.post(f"/api/v1/bank/lines/{desk.line_id('subsidie')}/unrelated")
    assert (again.status_code, again.json()["error"]) == (409, "line_already_reconciled")
    desk.session.expire_all()
    invoice = desk.session.get(Invoice, desk.first.id)
    assert invoice is not None
    assert invoice.outstanding_amount == Decimal("0.00")


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("accept", {"invoice_id": 987654}, 422, "invoice_not_a_candidate"),
        ("accept", {"invoice": 1}, 422, "validation_failed"),
        ("allocate", {"allocations": []}, 422, "validation_failed"),
        (
            "allocate",
            {"allocations": [{"invoice_id": 987654, "allocated_amount": "50.00"}]},
            404,
            "not_found",
        ),
        ("allocate", {"allocations": [{"invoice_id": 1, "allocated_amount": "-50.00"}]}, 422, None),
        ("unrelated", {"note": "x" * 501}, 422, "validation_failed"),
    ],
)
def test_bad_decisions_are_refused_and_write_nothing(
    api: Any, desk: Desk, path: str, body: dict[str, Any], status: int, code: str | None
) -> None:
    client = api(desk.treasurer)
    desk.upload(client)
    before = desk.payments()
    response = client.post(f"/api/v1/bank/lines/{desk.line_id('het hele jaar')}/{path}", json=body)
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error"] == code
    assert desk.payments() == before
    desk.session.expire_all()
    assert (
        desk.session.scalars(select(BankStatementLine.reconciliation_status)).all() == ["Open"] * 4
    )


def test_an_unknown_line_is_404(api: Any, desk: Desk) -> None:
    client = api(desk.treasurer)
    for path in ("accept", "unrelated"):
        response = client.post(f"/api/v1/bank/lines/987654/{path}")
        assert (response.status_code, response.json()["error"]) == (404, "not_found")


@pytest.mark.parametrize("role", [Role.MEMBERSHIP_SECRETARY, Role.MEMBER])
def test_other_roles_may_not_reconcile_review_or_decide(api: Any, desk: Desk, role: Role) -> None:
    desk.upload(api(desk.treasurer))
    client = api(role)
    line_id = desk.line_id("subsidie")
    assert client.post("/api/v1/bank/reconcile").status_code == 403
    assert client.get("/api/v1/bank/review").status_code == 403
    assert client.post(f"/api/v1/bank/lines/{line_id}/unrelated").status_code == 403
    assert desk.payments() == 0


def test_an_administrator_may_reconcile(api: Any, desk: Desk) -> None:
    desk.upload(api(desk.treasurer))
    response = api(Role.ADMINISTRATOR).post("/api/v1/bank/reconcile")
    assert (response.status_code, response.json()["allocated"]) == (200, 1)


@pytest.mark.today(dt.date(2026, 11, 16))
def test_a_return_waiting_for_its_collection_says_why(api, session: Session) -> None:
    """The return's statement before the collection's: in review with its note and code."""
    treasurer = create_user(session, "penningmeester@example.org", Role.TREASURER)
    add_account(session, treasurer, ING)
    make_creditor(session, treasurer)
    members = Collectables(session, treasurer)
    members.invoice(members.member(), "25.00")
    batch = create_batch(
        session, treasurer, dt.date(2026, 11, 18), moment=dt.datetime(2026, 11, 16, 8, 0)
    )
    export_batch(session, treasurer, batch.id)
    submit_batch(session, treasurer, batch.id)
    (entry,) = batch_entries(session, batch.id)
    client = api(treasurer)
    document = statement(
        [(dt.date(2026, 11, 23), "-25.00", returned(entry.end_to_end_id, "AC04"))], "R-1"
    )
    assert client.post("/api/v1/bank/statements", files={"file": ("r.xml", document)}).is_success

    reconciled = client.post("/api/v1/bank/reconcile")
    assert reconciled.json() == {"allocated": 0, "review": 1, "returned": 0}
    (item,) = client.get("/api/v1/bank/review").json()["items"]

    assert (item["amount"], item["return_reason"], item["candidates"]) == ("-25.00", "AC04", [])
    assert item["note_code"] == "collection_not_booked"
    assert item["note"].startswith(
        f"a returned direct debit (AC04) of {entry.end_to_end_id}: its collection is not booked"
    )
