"""Returns, retries, batch processing as a job and a member's own mandates over HTTP; the same
from the command line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sepa_factories import DEBTOR_IBAN, Collectables, make_creditor
from sepa_reports import pain_002
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice, InvoiceStatus
from verenigingen.jobs.models import Job
from verenigingen.members.models import Member
from verenigingen.sepa.batches import batch_entries, create_batch, submit_batch
from verenigingen.sepa.models import MandateStatus, SepaMandate, SepaReturn, StatusReport
from verenigingen.sepa.pain008 import export_batch

TODAY = dt.date(2026, 11, 16)
COLLECTION = dt.date(2026, 11, 18)
MORNING = dt.datetime(2026, 11, 16, 8, 0)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def submitted(session: Session, treasurer: User, members: int = 2):
    make_creditor(session, treasurer)
    collectables = Collectables(session, treasurer)
    invoices = [collectables.invoice(collectables.member()) for _ in range(members)]
    batch = create_batch(session, treasurer, COLLECTION, moment=MORNING)
    export_batch(session, treasurer, batch.id)
    submit_batch(session, treasurer, batch.id)
    return batch, invoices


def test_a_status_report_upload_imports_once_and_the_retry_queue_shows_it(
    api, session: Session, treasurer: User
) -> None:
    batch, invoices = submitted(session, treasurer)
    client = api(treasurer)
    processed = client.post(f"/api/v1/sepa/batches/{batch.id}/process")
    assert processed.json()["status"] == "Processed", processed.text
    entry = {e.invoice_id: e for e in batch_entries(session, batch.id)}[invoices[0].id]
    report = pain_002(batch.message_id, [(f"{batch.message_id}-RCUR", entry.end_to_end_id, "AM04")])
    files = {"file": ("status.xml", report, "application/xml")}
    first = client.post("/api/v1/sepa/status-reports", files=files)
    assert first.status_code == 200, first.text
    assert first.json()["tally"]["rejected"] == 1
    assert first.json()["tally"]["reason_codes"] == {"AM04": 1}
    again = client.post("/api/v1/sepa/status-reports", files=files)
    assert again.json()["already_imported"] is True
    assert again.json()["tally"]["rejected"] == 0
    queue = client.get("/api/v1/sepa/retries").json()
    assert [(r["invoice_id"], r["reason_code"], r["retry_due_on"]) for r in queue] == [
        (invoices[0].id, "AM04", str(TODAY))
    ]
    assert client.get("/api/v1/sepa/retries", params={"status": "Exhausted"}).json() == []
    assert len(client.get("/api/v1/sepa/retries", params={"all": "true"}).json()) == 1
    assert client.get("/api/v1/sepa/retries", params={"status": "Later"}).status_code == 422
    session.expire_all()
    assert session.get_one(Invoice, invoices[0].id).status == InvoiceStatus.UNPAID


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"<Document><CstmrPmtStsRpt>", "status_report_invalid"),
        (b"\x00\xff garbage", "status_report_invalid"),
        (pain_002("SDD-NOT-OURS", [("SDD-NOT-OURS-RCUR", "X-1", "AM04")]), "unknown_collection"),
    ],
)
def test_a_bad_status_report_is_a_named_422_and_writes_nothing(
    api, session: Session, content: bytes, code: str
) -> None:
    client = api(Role.TREASURER)
    answer = client.post(
        "/api/v1/sepa/status-reports", files={"file": ("status.xml", content, "text/xml")}
    )
    assert (answer.status_code, answer.json()["error"]) == (422, code), answer.text
    assert count(session, StatusReport) == 0


@pytest.mark.parametrize("role", [Role.MEMBER, Role.MEMBERSHIP_SECRETARY])
def test_other_roles_may_not_import_returns_or_read_the_queue(api, session, role: Role) -> None:
    client = api(role)
    files = {"file": ("s.xml", pain_002("X", [("X-RCUR", "E", "AM04")]), "text/xml")}
    assert client.post("/api/v1/sepa/status-reports", files=files).status_code == 403
    assert client.get("/api/v1/sepa/retries").status_code == 403
    assert client.post("/api/v1/sepa/batches/1/process-job").status_code == 403


def test_processing_as_a_job_reports_its_progress(
    api, session: Session, treasurer: User, job_engine
) -> None:
    batch, _invoices = submitted(session, treasurer, members=3)
    client = api(treasurer)
    started = client.post(f"/api/v1/sepa/batches/{batch.id}/process-job")
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    same = client.post(f"/api/v1/sepa/batches/{batch.id}/process-job")
    assert same.json()["job_id"] == job_id  # asked twice: one job
    assert client.post("/api/v1/sepa/batches/999999/process-job").status_code == 404
    session.expire_all()
    job = session.get_one(Job, job_id)
    assert (job.name, job.params) == ("sepa.process_batch", {"batch_id": batch.id})


def test_a_member_lists_signs_and_revokes_its_own_mandates(
    api, session: Session, treasurer: User
) -> None:
    make_creditor(session, treasurer)
    collectables = Collectables(session, treasurer)
    mine, theirs = collectables.member(), collectables.member()
    login = create_user(session, "lid@example.org", Role.MEMBER)
    session.get_one(Member, mine.id).user_id = login.id
    session.flush()
    client = api(login)
    listed = client.get("/api/v1/me/mandates").json()
    assert [m["member_id"] for m in listed] == [mine.id]
    assert listed[0]["iban"] != DEBTOR_IBAN  # masked for a member
    signed = client.post("/api/v1/me/mandates", json={"iban": "NL91 ABNA 0417 1643 00"})
    assert signed.status_code == 201, signed.text
    assert (signed.json()["status"], signed.json()["sign_date"]) == ("Active", str(TODAY))
    assert signed.json()["mandate_reference"].startswith(f"M-{mine.id}-20261116-")
    bad = client.post("/api/v1/me/mandates", json={"iban": "NL91ABNA0417164301"})
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_iban")
    others = session.scalars(select(SepaMandate).where(SepaMandate.member_id == theirs.id)).one()
    stolen = client.post(f"/api/v1/me/mandates/{others.id}/revoke")
    assert stolen.status_code == 404
    revoked = client.post(
        f"/api/v1/me/mandates/{signed.json()['id']}/revoke", json={"reason": "Nieuwe bank"}
    )
    assert (revoked.json()["status"], revoked.json()["status_reason"]) == (
        "Cancelled",
        "Nieuwe bank",
    )
    again = client.post(f"/api/v1/me/mandates/{signed.json()['id']}/revoke")
    assert again.status_code == 409
    session.expire_all()
    assert session.get_one(SepaMandate, others.id).status == MandateStatus.ACTIVE


def test_a_login_without_a_member_has_no_own_mandates(api) -> None:
    client = api(Role.TREASURER)
    answer = client.get("/api/v1/me/mandates")
    assert (answer.status_code, answer.json()["error"]) == (403, "login_not_linked_to_member")
    assert client.post("/api/v1/me/mandates", json={"iban": DEBTOR_IBAN}).status_code == 403


def test_returns_amounts_stay_decimal_in_the_queue(api, session: Session, treasurer: User) -> None:
    batch, _invoices = submitted(session, treasurer, members=1)
    client = api(treasurer)
    client.post(f"/api/v1/sepa/batches/{batch.id}/process")
    (entry,) = batch_entries(session, batch.id)
    report = pain_002(batch.message_id, [(f"{batch.message_id}-RCUR", entry.end_to_end_id, "SL01")])
    client.post("/api/v1/sepa/status-reports", files={"file": ("s.xml", report, "text/xml")})
    (queued,) = client.get("/api/v1/sepa/retries").json()
    assert Decimal(queued["amount"]) == Decimal("25.00")
    assert queued["retry_due_on"] == str(TODAY + dt.timedelta(days=3))
    assert count(session, SepaReturn) == 1
