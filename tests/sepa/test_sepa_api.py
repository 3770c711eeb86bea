"""/api/v1/sepa over HTTP: roles, the lifecycle of a batch, and bad input as named 4xx."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree
from sepa_factories import VALID_CREDITOR_ID, Collectables, make_creditor
from sqlalchemy import func, select

from verenigingen.auth.models import Role, User
from verenigingen.sepa.models import DirectDebitBatch, SepaCreditor, SepaMandate
from verenigingen.sepa.pain008 import schema

TODAY = dt.date(2026, 11, 16)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]
CREDITOR = {
    "name": "Vereniging De Eendracht",
    "iban": "NL44 RABO 0123 4567 89",
    "creditor_identifier": VALID_CREDITOR_ID,
}


def count(session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_creditor_round_trip_and_its_refusals(api, session) -> None:
    client = api(Role.TREASURER)
    assert client.get("/api/v1/sepa/creditor").json()["error"] == "creditor_not_configured"
    saved = client.put("/api/v1/sepa/creditor", json=CREDITOR)
    assert saved.status_code == 200, saved.text
    assert saved.json()["pain_version"] == "pain.008.001.08"
    assert saved.json()["bic"] == "RABONL2U"
    for change, code in (
        ({"creditor_identifier": "NL52ZZZ405365330000"}, "invalid_creditor_identifier"),
        ({"iban": "NL44RABO0123456788"}, "invalid_iban"),
        ({"name": "Ünïon"}, "invalid_sepa_text"),
        ({"reference_pattern": "M-{x}-{nnn}"}, "invalid_reference_pattern"),
        ({"lead_days": 0}, "validation_failed"),
        ({"pain_version": "pain.008.003.02"}, "validation_failed"),
    ):
        answer = client.put("/api/v1/sepa/creditor", json={**CREDITOR, "name": "Anders", **change})
        assert (answer.status_code, answer.json()["error"]) == (422, code), answer.text
    assert client.get("/api/v1/sepa/creditor").json()["name"] == "Vereniging De Eendracht"
    assert count(session, SepaCreditor) == 1


@pytest.mark.parametrize("role", [Role.MEMBER, Role.MEMBERSHIP_SECRETARY])
def test_other_roles_may_not_touch_sepa(api, session, role: Role) -> None:
    client = api(role)
    assert client.get("/api/v1/sepa/creditor").status_code == 403
    assert client.put("/api/v1/sepa/creditor", json=CREDITOR).status_code == 403
    assert client.get("/api/v1/sepa/batches").status_code == 403
    answer = client.post("/api/v1/sepa/batches", json={"collection_date": "2026-11-18"})
    assert answer.status_code == 403
    assert count(session, SepaCreditor) == 0


def test_a_batch_from_creation_to_processing(api, session, treasurer: User) -> None:
    make_creditor(session, treasurer)
    collectables = Collectables(session, treasurer)
    member = collectables.member()
    collectables.invoice(member, "17.50")
    client = api(treasurer)

    for day, code in (
        ("2026-12-25", "collection_date_not_business_day"),
        ("2026-11-16", "collection_date_too_early"),
        ("2026-13-01", "validation_failed"),
    ):
        answer = client.post("/api/v1/sepa/batches", json={"collection_date": day})
        assert (answer.status_code, answer.json()["error"]) == (422, code), answer.text
    assert count(session, DirectDebitBatch) == 0

    created = client.post("/api/v1/sepa/batches", json={"collection_date": "2026-11-18"})
    assert created.status_code == 201, created.text
    batch_id = created.json()["id"]
    again = client.post("/api/v1/sepa/batches", json={"collection_date": "2026-11-19"})
    assert (again.status_code, again.json()["error"]) == (409, "nothing_to_collect")
    detail = client.get(f"/api/v1/sepa/batches/{batch_id}").json()
    assert [(e["amount"], e["sequence_type"]) for e in detail["entries"]] == [("17.50", "RCUR")]

    early = client.post(f"/api/v1/sepa/batches/{batch_id}/submit")
    assert (early.status_code, early.json()["error"]) == (409, "batch_transition_not_allowed")
    exported = client.post(f"/api/v1/sepa/batches/{batch_id}/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/xml")
    assert schema("pain.008.001.08").validate(etree.fromstring(exported.content))
    assert client.post(f"/api/v1/sepa/batches/{batch_id}/submit").json()["status"] == "Submitted"
    assert client.post(f"/api/v1/sepa/batches/{batch_id}/process").json()["status"] == "Processed"
    entries = client.get(f"/api/v1/sepa/batches/{batch_id}").json()["entries"]
    assert entries[0]["status"] == "Collected"
    assert entries[0]["payment_id"] is not None
    assert client.get("/api/v1/sepa/batches/999999").status_code == 404


def test_mandate_lifecycle_over_http(api, session, treasurer: User) -> None:
    make_creditor(session, treasurer)
    member = Collectables(session, treasurer).member()
    mandate_id = session.scalars(
        select(SepaMandate.id).where(SepaMandate.member_id == member.id)
    ).one()
    client = api(treasurer)
    url = f"/api/v1/sepa/mandates/{mandate_id}"
    no_reason = client.post(f"{url}/suspend", json={"reason": " "})
    assert (no_reason.status_code, no_reason.json()["error"]) == (422, "reason_required")
    assert client.post(f"{url}/suspend", json={"reason": "pauze"}).json()["status"] == "Suspended"
    assert client.post(f"{url}/reinstate").json()["status"] == "Active"
    wrong = client.post(f"{url}/activate")
    assert (wrong.status_code, wrong.json()["error"]) == (409, "mandate_transition_not_allowed")
    moved = client.put(f"{url}/account", json={"iban": "NL20INGB0001234567"}).json()
    assert (moved["iban"], moved["amended_from_iban"]) == (
        "NL20INGB0001234567",
        "NL91ABNA0417164300",
    )
    bad = client.put(f"{url}/account", json={"iban": "NL20INGB0001234568"})
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_iban")
    cancelled = client.post(f"{url}/cancel", json={"reason": "opgezegd"}).json()
    assert (cancelled["status"], cancelled["status_reason"]) == ("Cancelled", "opgezegd")
    reference = client.post(
        f"/api/v1/members/{member.id}/mandates",
        json={"mandate_reference": "A//B", "iban": "NL91ABNA0417164300", "sign_date": "2026-11-01"},
    )
    assert (reference.status_code, reference.json()["error"]) == (422, "invalid_mandate_reference")
