import dataclasses
import re

import pytest
from fastapi.testclient import TestClient

from contexts import savepoint_sessions
from verenigingen.app_context import context_of
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user, issue_token
from verenigingen.web.app import create_app

TIMING = re.compile(r'^db;dur=(\d+\.\d\d);desc="(\d+) queries", app;dur=(\d+\.\d\d)$')


def test_an_administrator_gets_server_timing_on_every_response(api) -> None:
    client = api(Role.ADMINISTRATOR)
    listing = client.get("/api/v1/members?limit=5")
    assert listing.status_code == 200
    match = TIMING.match(listing.headers["server-timing"])
    assert match is not None, listing.headers["server-timing"]
    # token lookup, member page (counted only when asked)
    assert int(match.group(2)) == 2
    missing = client.get("/api/v1/members/987654")
    assert missing.status_code == 404
    assert TIMING.match(missing.headers["server-timing"]) is not None


@pytest.mark.parametrize("role", [Role.TREASURER, Role.MEMBERSHIP_SECRETARY, Role.MEMBER])
def test_other_roles_get_no_server_timing(api, role) -> None:
    response = api(role).get("/api/v1/notifications")
    assert response.status_code == 200
    assert "server-timing" not in response.headers


def test_anonymous_and_refused_requests_get_no_server_timing(api) -> None:
    client = api(Role.ADMINISTRATOR)
    assert "server-timing" not in client.get("/health").headers  # no user: no token is read
    client.headers["Authorization"] = "Bearer vrg_unknown"
    refused = client.get("/api/v1/members")
    assert refused.status_code == 401
    assert "server-timing" not in refused.headers


def app_with(session, **settings):
    context = context_of(session)
    changed = dataclasses.replace(context, settings=context.settings.model_copy(update=settings))
    return create_app(changed, session_factory=savepoint_sessions(session))


def client_for(session, app, role: Role) -> TestClient:
    user = create_user(session, f"{role.value.lower().replace(' ', '.')}@example.org", role)
    return TestClient(app, headers={"Authorization": f"Bearer {issue_token(session, user)}"})


def test_server_timing_for_everyone_when_the_setting_says_so(session) -> None:
    app = app_with(session, server_timing="everyone")
    with client_for(session, app, Role.MEMBER) as client:
        assert TIMING.match(client.get("/api/v1/members").headers["server-timing"]) is not None
        assert TIMING.match(client.get("/openapi.json").headers["server-timing"]).group(2) == "0"
        # /health's checks run in threads of their own; their statements count all the same:
        # SELECT 1, the two of the job backlog and the last safety run.
        assert TIMING.match(client.get("/health").headers["server-timing"]).group(2) == "4"


def test_no_server_timing_at_all_when_switched_off(session) -> None:
    app = app_with(session, server_timing="off")
    with client_for(session, app, Role.ADMINISTRATOR) as client:
        response = client.get("/api/v1/members")
        assert response.status_code == 200
        assert "server-timing" not in response.headers


def test_api_docs_are_public_by_default(api) -> None:
    client = api(Role.MEMBER)
    client.headers.pop("Authorization")
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


def test_api_docs_hidden_by_the_setting(session) -> None:
    app = app_with(session, api_docs_public=False)
    with client_for(session, app, Role.ADMINISTRATOR) as client:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert client.get(path).status_code == 404, path
        assert client.get("/api/v1/members").status_code == 200
