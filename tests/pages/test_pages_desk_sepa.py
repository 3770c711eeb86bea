"""The desk's SEPA pages: make a batch for a date (a refused date named under the field, the
date kept, nothing written), its entries and checks, the XML download, submit and process as a
job, a returns file imported or refused, the retry queue, and the roles."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import httpx
import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import MEMBER, SECRETARY, TREASURER, staff
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.jobs.models import Job
from verenigingen.perf.capture import capture
from verenigingen.sepa.models import (
    BatchStatus,
    DirectDebitBatch,
    DirectDebitEntry,
    SepaCreditor,
    SepaReturn,
)
from verenigingen.sepa.pain008 import schema

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sepa"))
from sepa_factories import Collectables, make_creditor
from sepa_reports import pain_002

TODAY = dt.date(2026, 11, 16)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]
BATCH_ROW = re.compile(r'<tr data-batch="(\d+)"')


@pytest.fixture
def logins(session: Session) -> dict[str, User]:
    return staff(session)


@pytest.fixture
def collectable(session: Session, logins: dict[str, User]) -> Collectables:
    """The creditor and one member with a mandate and an open invoice of 17.50."""
    treasurer = logins[TREASURER]
    make_creditor(session, treasurer)
    collectables = Collectables(session, treasurer)
    collectables.invoice(collectables.member(), "17.50")
    session.flush()
    return collectables


def batch_count(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(DirectDebitBatch)) or 0)


def make_batch(web: TestClient, day: str = "2026-11-18") -> httpx.Response:
    token = form_token(web, "/desk/sepa/batches")
    return web.post(
        "/desk/sepa/batches",
        data={"csrf_token": token, "collection_date": day, "description": ""},
        follow_redirects=False,
    )


def post(web: TestClient, path: str) -> httpx.Response:
    token = form_token(web, "/desk/sepa/batches")
    return web.post(path, data={"csrf_token": token}, follow_redirects=False)


def test_a_batch_from_the_form_to_the_job_that_processes_it(web, collectable, session) -> None:
    signed_in(web, TREASURER)
    made = make_batch(web)
    assert made.status_code == 303
    batch = session.scalars(select(DirectDebitBatch)).one()
    assert made.headers["location"] == f"/desk/sepa/batches/{batch.id}"
    with capture() as queries:
        page = web.get(f"/desk/sepa/batches/{batch.id}")
    assert page.status_code == 200
    assert page.text.count("<tr data-entry=") == 1
    assert "17.50" in text_of(page.text)
    assert queries.count == 3  # the sign-in, the batch, a page of its entries
    assert f'hx-get="/desk/sepa/batches/{batch.id}/checks"' in page.text
    checks = web.get(f"/desk/sepa/batches/{batch.id}/checks")
    # Queued with the batch; their outcome is stored (test_pages_desk_sepa_checks.py).
    assert "The file's checks are running as a job." in text_of(checks.text)

    listing = web.get("/desk/sepa/batches")
    assert BATCH_ROW.findall(listing.text) == [str(batch.id)]

    early = post(web, f"/desk/sepa/batches/{batch.id}/submit")
    assert early.status_code == 409
    assert "only" in text_of(early.text) or "Refused" in text_of(early.text)

    download = post(web, f"/desk/sepa/batches/{batch.id}/export")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/xml")
    assert download.headers["content-disposition"] == (
        f'attachment; filename="{batch.message_id}.xml"'
    )
    assert schema("pain.008.001.08").validate(etree.fromstring(download.content))
    session.expire_all()
    assert batch.status == BatchStatus.GENERATED

    assert post(web, f"/desk/sepa/batches/{batch.id}/submit").status_code == 303
    processing = post(web, f"/desk/sepa/batches/{batch.id}/process")
    assert processing.status_code == 303
    assert processing.headers["location"] == "/desk/jobs?task=sepa.process_batch"
    again = post(web, f"/desk/sepa/batches/{batch.id}/process")
    assert again.status_code == 303
    session.expire_all()
    jobs = session.scalars(select(Job.id).where(Job.name == "sepa.process_batch")).all()
    assert len(jobs) == 1  # pressed twice, the same job
    assert batch.status == BatchStatus.SUBMITTED


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("2026-12-25", "Not a TARGET2 business day"),
        ("2026-11-16", "Too early for the creditor's lead days"),
        ("2026-13-01", "Enter a date between 1900 and 2200"),
        ("", "Enter a date between 1900 and 2200"),
    ],
)
def test_a_refused_collection_date_is_named_and_kept(
    web, collectable, session, day: str, message: str
) -> None:
    signed_in(web, TREASURER)
    refused = make_batch(web, day)
    assert refused.status_code == 422
    assert message in text_of(refused.text)
    assert f'value="{day}"' in refused.text
    assert batch_count(session) == 0


def test_a_batch_s_entries_are_paged_by_cursor_at_the_same_cost(web, collectable, session) -> None:
    for _ in range(29):
        collectable.invoice(collectable.member(), "10.00")
    session.flush()
    signed_in(web, TREASURER)
    make_batch(web)
    batch = session.scalars(select(DirectDebitBatch)).one()
    with capture() as first_queries:
        first = web.get(f"/desk/sepa/batches/{batch.id}")
    link = re.search(r'href="(/desk/sepa/batches/\d+\?after=[^"]+)" rel="next"', first.text)
    assert link is not None
    with capture() as second_queries:
        second = web.get(link.group(1))
    first_rows = re.findall(r'<tr data-entry="([^"]+)"', first.text)
    second_rows = re.findall(r'<tr data-entry="([^"]+)"', second.text)
    assert (len(first_rows), len(second_rows)) == (25, 5)
    assert set(first_rows).isdisjoint(second_rows)
    assert first_queries.count == second_queries.count == 3
    assert web.get(f"/desk/sepa/batches/{batch.id}?after=bm90LWEtY3Vyc29y").status_code == 422


def test_nothing_to_collect_is_refused(web, logins, session) -> None:
    make_creditor(session, logins[TREASURER])
    signed_in(web, TREASURER)
    refused = make_batch(web)
    assert refused.status_code == 409
    assert "Refused" in text_of(refused.text)
    assert batch_count(session) == 0


def test_a_cancelled_batch_is_neither_exported_nor_processed(web, collectable, session) -> None:
    signed_in(web, TREASURER)
    make_batch(web)
    batch = session.scalars(select(DirectDebitBatch)).one()
    assert post(web, f"/desk/sepa/batches/{batch.id}/cancel").status_code == 303
    assert post(web, f"/desk/sepa/batches/{batch.id}/export").status_code == 409
    assert post(web, f"/desk/sepa/batches/{batch.id}/process").status_code == 409
    assert post(web, f"/desk/sepa/batches/{batch.id}/cancel").status_code == 409
    assert web.get("/desk/sepa/batches/999999").status_code == 404
    cancelled = web.get(f"/desk/sepa/batches/{batch.id}/checks")
    assert "A cancelled batch is not checked." in text_of(cancelled.text)


def test_a_returns_file_is_imported_or_refused(web, collectable, session) -> None:
    signed_in(web, TREASURER)
    make_batch(web)
    batch = session.scalars(select(DirectDebitBatch)).one()
    post(web, f"/desk/sepa/batches/{batch.id}/export")
    entry = session.scalars(select(DirectDebitEntry)).one()
    token = form_token(web, "/desk/sepa/returns")

    def upload(content: bytes) -> httpx.Response:
        files = {"file": ("report.xml", content, "application/xml")}
        return web.post("/desk/sepa/returns", data={"csrf_token": token}, files=files)

    broken = upload(b"<Document>not a report")
    assert broken.status_code == 422
    assert "Refused" in text_of(broken.text)
    empty = upload(b"")
    assert empty.status_code == 422
    assert "Choose a pain.002 or camt.054 file." in text_of(empty.text)
    assert session.scalar(select(func.count()).select_from(SepaReturn)) == 0

    report = pain_002(batch.message_id, [(batch.message_id + "-RCUR", entry.end_to_end_id, "AM04")])
    imported = upload(report)
    assert imported.status_code == 200, text_of(imported.text)
    assert "1 rejected" in text_of(imported.text)
    assert "imported before" in text_of(upload(report).text)
    with capture() as queries:
        queue = web.get("/desk/sepa/retries")
    assert queue.status_code == 200
    assert queries.count == 2  # the sign-in, the queue


@pytest.mark.parametrize("email", [SECRETARY, MEMBER])
def test_only_treasurers_and_administrators(web, logins, email: str) -> None:
    signed_in(web, email)
    for path in ("/desk/sepa/batches", "/desk/sepa/returns", "/desk/sepa/retries"):
        assert web.get(path).status_code == 403
    assert "/desk/sepa/batches" not in web.get("/desk/jobs").text


def test_a_form_without_its_token_writes_nothing(web, collectable, session) -> None:
    signed_in(web, TREASURER)
    answer = web.post("/desk/sepa/batches", data={"collection_date": "2026-11-18"})
    assert answer.status_code == 403
    assert batch_count(session) == 0


# The creditor settings

CREDITOR_FORM = {
    "name": "Vereniging De Eendracht",
    "iban": "NL44 RABO 0123 4567 89",
    "bic": "",
    "creditor_identifier": "NL51ZZZ405365330000",
    "pain_version": "pain.008.001.08",
    "lead_days": "2",
    "cutoff_time": "14:00",
    "first_collection_frst": "on",
    "reference_pattern": "M-{member_id}-{nnn}",
}


def save_creditor(web: TestClient, **fields: str) -> httpx.Response:
    token = form_token(web, "/desk/sepa/creditor")
    data = {"csrf_token": token, **CREDITOR_FORM, **fields}
    return web.post("/desk/sepa/creditor", data=data, follow_redirects=False)


def test_the_creditor_settings_are_set_at_the_desk(web, logins, session) -> None:
    signed_in(web, TREASURER)
    with capture() as queries:
        empty = web.get("/desk/sepa/creditor")
    assert empty.status_code == 200
    assert 'value="M-{member_id}-{yyyymmdd}-{nnn}"' in empty.text
    assert queries.count == 2  # the sign-in, the settings
    saved = save_creditor(web)
    assert (saved.status_code, saved.headers["location"]) == (303, "/desk/sepa/batches")
    session.expire_all()
    creditor = session.scalars(select(SepaCreditor)).one()
    assert (creditor.iban, creditor.lead_days, creditor.cutoff_time) == (
        "NL44RABO0123456789",
        2,
        dt.time(14, 0),
    )
    assert creditor.first_collection_frst
    assert 'value="14:00"' in web.get("/desk/sepa/creditor").text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("iban", "NL00RABO0123456789", "Not a valid IBAN"),
        ("creditor_identifier", "NL00ZZZ405365330000", "Not a valid creditor identifier"),
        ("name", "Vereniging € Eendracht" * 4, "SEPA character set"),
        ("reference_pattern", "M-{member_id}", "Use only {member_id}"),
        ("lead_days", "16", "from 1 to 15"),
        ("cutoff_time", "25:00", "like 14:00"),
        ("pain_version", "pain.008.001.99", "Choose one of the options."),
        ("bic", "NOPE", "Not a valid BIC"),
        ("iban", "", "Fill this in."),
    ],
)
def test_a_refused_creditor_field_is_named_and_kept(
    web, logins, session, field: str, value: str, message: str
) -> None:
    signed_in(web, TREASURER)
    refused = save_creditor(web, **{field: value})
    assert refused.status_code == 422
    assert message in text_of(refused.text)
    assert f'id="error-{field}"' in refused.text
    session.expire_all()
    assert session.scalars(select(SepaCreditor)).all() == []


def test_a_secretary_may_not_see_the_creditor_settings(web, logins) -> None:
    signed_in(web, SECRETARY)
    assert web.get("/desk/sepa/creditor").status_code == 403
