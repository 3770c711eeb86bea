"""GET /api/v1/safety and POST /api/v1/safety/check: administrators only, run in the API process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from safety_factories import Installation, forget_a_tag_bump
from sqlalchemy import func, select

from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user, issue_token
from verenigingen.db.session import unit_of_work
from verenigingen.history.service import NAMESPACE
from verenigingen.safety.models import SafetyRun
from verenigingen.web.app import create_app


def client_as(installation: Installation, role: Role | None) -> TestClient:
    with unit_of_work(installation.context.sessions) as session:
        if role is None:
            user = session.get_one(type(installation.admin()), installation.admin_id)
        else:
            user = create_user(session, f"{role.value.lower()}@example.org", role)
        token = issue_token(session, user)
    app = create_app(installation.context)
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def admin_client(installation: Installation) -> Iterator[TestClient]:
    with client_as(installation, None) as client:
        yield client


def runs(installation: Installation) -> int:
    with installation.context.read_sessions() as session:
        return session.scalar(select(func.count()).select_from(SafetyRun)) or 0


def test_the_latest_run_is_404_before_the_first_and_shown_after_a_check(
    installation: Installation, admin_client: TestClient
) -> None:
    before = admin_client.get("/api/v1/safety")
    assert before.status_code == 404
    assert before.json()["error"] == "no_safety_run"
    ran = admin_client.post("/api/v1/safety/check")
    assert ran.status_code == 201, ran.json()
    body = ran.json()
    assert (body["trigger"], body["passed"], body["steps"]) == ("api", True, [])
    assert [c["name"] for c in body["checks"]] == [
        "job health",
        "cache consistency",
        "payment data integrity",
        "index health",
        "handler performance",
    ]
    latest = admin_client.get("/api/v1/safety")
    assert latest.status_code == 200
    assert latest.json()["id"] == body["id"]
    health = admin_client.get("/health").json()["checks"]["safety"]
    assert (health["status"], health["failed_checks"]) == ("passed", [])


def test_auto_rollback_through_the_api_clears_the_api_process_cache(
    installation: Installation, admin_client: TestClient
) -> None:
    installation.read_history()  # the context's cache: the API process's own
    forget_a_tag_bump(installation)
    ran = admin_client.post("/api/v1/safety/check", params={"auto_rollback": "true"})
    assert ran.status_code == 201, ran.json()
    body = ran.json()
    assert (body["critical_failed"], body["rolled_back"]) == (True, True)
    assert [(s["name"], s["outcome"]) for s in body["steps"]] == [
        ("turn deferral off", "done"),
        ("clear every cache", "done"),
        ("roll back the strategic indexes", "skipped"),
        ("re-run the checks", "done"),
    ]
    assert installation.context.cache.backend.keys(NAMESPACE, 10) == []
    # The latest run is the confirming one: no critical check fails any more.
    latest = admin_client.get("/api/v1/safety").json()
    assert (latest["id"], latest["trigger"]) == (body["id"] + 1, "confirm")
    assert latest["critical_failed"] is False


@pytest.mark.parametrize("role", [Role.MEMBER, Role.TREASURER])
def test_anyone_but_an_administrator_is_refused_and_nothing_runs(
    installation: Installation, role: Role
) -> None:
    with client_as(installation, role) as client:
        assert client.get("/api/v1/safety").status_code == 403
        assert client.post("/api/v1/safety/check").status_code == 403
    assert runs(installation) == 0


def test_a_malformed_flag_is_422_and_nothing_runs(
    installation: Installation, admin_client: TestClient
) -> None:
    refused = admin_client.post("/api/v1/safety/check", params={"auto_rollback": "maybe"})
    assert refused.status_code == 422
    assert runs(installation) == 0
