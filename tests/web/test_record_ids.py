"""Ids from outside are ASCII digits within BIGINT: anything else is a 422, never a 500.

Regression tests: an integer above 2**63 - 1 in a path id, ``offset`` or a body id reached the
driver (SQLite's OverflowError, PostgreSQL's "bigint out of range": 500 for every role), and
``/jobs?user=`` read a superscript one as a 500 and an Arabic-Indic one as user 1.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role, User
from verenigingen.billing.models import Payment
from verenigingen.errors import NotFound
from verenigingen.jobs.queries import job_status
from verenigingen.members.models import Member
from verenigingen.web.app import API_PREFIX

TOO_LARGE = str(2**63)
NOT_ASCII = ["\u0661", "\u00b9", "\uff11"]  # Arabic-Indic one, superscript one, full-width one


def id_paths(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) of the API with an id in its path, from the OpenAPI document."""
    document = client.get("/openapi.json").json()
    return [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if path.startswith(API_PREFIX) and re.search(r"\{\w+_id\}", path)
        for method in operations
    ]


@pytest.mark.parametrize("bad_id", [TOO_LARGE, *NOT_ASCII, "0"])
def test_a_bad_path_id_is_refused_on_every_route(api, session: Session, bad_id: str) -> None:  # type: ignore[no-untyped-def]
    client = api(Role.ADMINISTRATOR)
    paths = id_paths(client)
    assert len(paths) >= 15
    members_before = session.scalar(select(func.count(Member.id)))
    for method, path in paths:
        url = re.sub(r"\{\w+_id\}", bad_id, path)
        response = client.request(method, url, json={})
        assert response.status_code == 422, (method, url, response.text)
        assert response.json()["error"] == "validation_failed"
    session.expire_all()
    assert session.scalar(select(func.count(Member.id))) == members_before


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.MEMBER])
@pytest.mark.parametrize(
    "url",
    [
        f"/members?offset={TOO_LARGE}",
        f"/invoices?offset={TOO_LARGE}",
        f"/payments?offset={TOO_LARGE}",
        f"/memberships?offset={TOO_LARGE}",
        f"/invoices?customer_id={TOO_LARGE}",
        f"/payments?customer_id={TOO_LARGE}",
        f"/invoices?member_id={NOT_ASCII[0]}",
        f"/memberships?member_id={TOO_LARGE}",
    ],
)
def test_a_bad_query_id_or_offset_is_refused(api, role: Role, url: str) -> None:  # type: ignore[no-untyped-def]
    response = api(role).get(API_PREFIX + url)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_failed"


@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": 2**63, "paid_amount": "10.00"},
        {
            "customer_id": 1,
            "paid_amount": "10.00",
            "allocations": [{"invoice_id": 2**63, "allocated_amount": "10.00"}],
        },
        {"customer_id": "\u0661", "paid_amount": "10.00"},
    ],
)
def test_a_bad_body_id_is_refused_and_nothing_is_written(api, session: Session, body) -> None:  # type: ignore[no-untyped-def]
    before = session.scalar(select(func.count(Payment.id)))
    response = api(Role.TREASURER).post(f"{API_PREFIX}/payments", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_failed"
    session.expire_all()
    assert session.scalar(select(func.count(Payment.id))) == before


@pytest.mark.parametrize("wanted", [*NOT_ASCII, TOO_LARGE, "99999999999999999999999"])
def test_jobs_of_a_user_take_ascii_ids_only(any_session: Session, admin: User, wanted: str) -> None:
    # Not user 1 (the Arabic-Indic one), not a crash (the superscript one, past BIGINT).
    with pytest.raises(NotFound, match="no user"):
        job_status(any_session, admin, for_user=wanted)


def test_jobs_of_a_user_by_ascii_id_still_work(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = api(Role.ADMINISTRATOR)
    own = client.get(f"{API_PREFIX}/jobs").json()["user_id"]
    assert client.get(f"{API_PREFIX}/jobs", params={"user": str(own)}).json()["user_id"] == own
    assert client.get(f"{API_PREFIX}/jobs", params={"user": "\u0661"}).status_code == 404
