"""Timestamps leave in UTC with their offset, as ``format: date-time`` promises (a regression
test: jobs, notifications and the financial summary sent naive datetimes)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from pydantic import TypeAdapter

from verenigingen.auth.models import Role
from verenigingen.clock import UtcDateTime

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def test_jobs_over_http_carry_their_offset(api, job_engine) -> None:  # type: ignore[no-untyped-def]
    client = api(Role.TREASURER)
    job = client.post("/api/v1/dues/generate").json()
    assert RFC3339.fullmatch(job["created_at"]), job["created_at"]
    assert job["created_at"].endswith("Z")
    status = client.get("/api/v1/jobs").json()
    assert RFC3339.fullmatch(status["since"])
    assert all(RFC3339.fullmatch(recent["created_at"]) for recent in status["recent"])
    assert RFC3339.fullmatch(client.get(f"/api/v1/jobs/{job['id']}").json()["created_at"])


@pytest.mark.parametrize(
    ("stored", "sent"),
    [
        (dt.datetime(2026, 12, 3, 10, 15), "2026-12-03T10:15:00Z"),  # naive, as stored: UTC
        (
            dt.datetime(2026, 12, 3, 11, 15, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "2026-12-03T10:15:00Z",
        ),
    ],
)
def test_a_timestamp_leaves_in_utc(stored: dt.datetime, sent: str) -> None:
    adapter = TypeAdapter(UtcDateTime)
    assert adapter.dump_json(adapter.validate_python(stored)).decode() == f'"{sent}"'


def test_the_document_declares_every_timestamp_a_date_time(api) -> None:  # type: ignore[no-untyped-def]
    schemas = api(Role.ADMINISTRATOR).get("/openapi.json").json()["components"]["schemas"]
    for name, fields in (
        ("JobOut", ("created_at", "started_at", "finished_at", "run_after")),
        ("JobStatusOut", ("since",)),
        ("NotificationOut", ("created_at",)),
        ("FinancialSummaryOut", ("updated_at",)),
    ):
        for field in fields:
            declared = schemas[name]["properties"][field]
            formats = {item.get("format") for item in declared.get("anyOf", [declared])}
            assert "date-time" in formats, (name, field, declared)
