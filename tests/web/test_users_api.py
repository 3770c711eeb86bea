"""/api/v1/users, /api/v1/tokens, /api/v1/me/tokens and the password login over HTTP."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen import clock
from verenigingen.app_context import context_of
from verenigingen.auth.models import ApiToken, Role, User
from verenigingen.auth.service import create_user, issue_token, new_token
from verenigingen.web.app import create_app

URL = "/api/v1"
PASSWORD = "lang-genoeg-wachtwoord"


@pytest.fixture
def anonymous(session: Session):  # type: ignore[no-untyped-def]
    """A client without a token on the test's app (the login needs none)."""
    app = create_app(context_of(session), session_factory=savepoint_sessions(session))
    with TestClient(app) as client:
        yield client


def a_user(session: Session, role: Role, *, password: str | None = None) -> User:
    email = f"{role.value.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}@example.org"
    return create_user(session, email, role, password=password)


def bearer(client: TestClient, token: str) -> TestClient:
    """The same app with another token."""
    return TestClient(client.app, headers={"Authorization": f"Bearer {token}"})


def token_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(ApiToken.id))) or 0


# Users


def test_administrators_list_users_with_their_active_tokens(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = api(Role.ADMINISTRATOR)
    treasurer = a_user(session, Role.TREASURER)
    issue_token(session, treasurer)
    new_token(session, treasurer, expires_in=dt.timedelta(days=1))
    response = client.get(f"{URL}/users", params={"limit": 500, "count": True})
    assert response.status_code == 200, response.text
    page = response.json()
    assert (page["total"], page["limit"], page["offset"]) == (2, 500, 0)
    emails = [item["email"] for item in page["items"]]
    assert emails == sorted(emails)
    shown = next(item for item in page["items"] if item["id"] == treasurer.id)
    assert (shown["role"], shown["enabled"], shown["active_tokens"]) == ("Treasurer", True, 2)
    assert "password_hash" not in shown
    with clock.frozen(clock.today() + dt.timedelta(days=2)):
        later = client.get(f"{URL}/users", params={"limit": 1, "offset": 1}).json()
    assert [item["active_tokens"] for item in later["items"]] == [1]


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1", f"offset={2**63}"])
def test_a_bad_page_is_422(api, query: str) -> None:  # type: ignore[no-untyped-def]
    response = api(Role.ADMINISTRATOR).get(f"{URL}/users?{query}")
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"


@pytest.mark.parametrize("role", [Role.TREASURER, Role.MEMBERSHIP_SECRETARY, Role.MEMBER])
def test_other_roles_may_not_manage_users(api, session: Session, role: Role) -> None:  # type: ignore[no-untyped-def]
    client = api(role)
    target = a_user(session, Role.MEMBER)
    issue_token(session, target)
    before = token_count(session)
    for method, path, body in [
        ("GET", "/users", None),
        ("POST", f"/users/{target.id}/tokens", {"label": "x"}),
        ("POST", f"/users/{target.id}/tokens/revoke", None),
        ("POST", f"/users/{target.id}/disable", None),
        ("POST", f"/users/{target.id}/enable", None),
    ]:
        response = client.request(method, URL + path, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"] == "forbidden"
    response = client.get(f"{URL}/users/{target.id}/tokens")
    assert (response.status_code, response.json()["error"]) == (403, "not_own_record")
    assert token_count(session) == before
    session.expire_all()
    assert session.get(User, target.id).enabled  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users/{id}/tokens"),
        ("POST", "/users/{id}/tokens"),
        ("POST", "/users/{id}/tokens/revoke"),
        ("POST", "/users/{id}/disable"),
        ("POST", "/users/{id}/enable"),
        ("POST", "/tokens/{id}/revoke"),
    ],
)
def test_unknown_ids_are_404(api, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    url = URL + path.format(id=2**63 - 1)
    response = api(Role.ADMINISTRATOR).request(method, url, json={})
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "not_found"


def test_disable_and_enable_over_http(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    admin = api(Role.ADMINISTRATOR)
    treasurer = a_user(session, Role.TREASURER)
    own = api(treasurer)
    assert own.get(f"{URL}/me/tokens").status_code == 200

    disabled = admin.post(f"{URL}/users/{treasurer.id}/disable")
    assert disabled.status_code == 200, disabled.text
    assert (disabled.json()["enabled"], disabled.json()["active_tokens"]) == (False, 1)
    refused = own.get(f"{URL}/me/tokens")
    assert (refused.status_code, refused.json()["error"]) == (401, "not_authenticated")
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    issued = admin.post(f"{URL}/users/{treasurer.id}/tokens", json={})
    assert (issued.status_code, issued.json()["error"]) == (409, "user_disabled")

    enabled = admin.post(f"{URL}/users/{treasurer.id}/enable")
    assert (enabled.status_code, enabled.json()["enabled"]) == (200, True)
    assert own.get(f"{URL}/me/tokens").status_code == 200


def test_the_last_enabled_administrator_stays_enabled(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    first = a_user(session, Role.ADMINISTRATOR)
    client = api(first)
    response = client.post(f"{URL}/users/{first.id}/disable")
    assert (response.status_code, response.json()["error"]) == (409, "last_enabled_administrator")
    second = a_user(session, Role.ADMINISTRATOR)
    assert client.post(f"{URL}/users/{second.id}/disable").status_code == 200
    response = client.post(f"{URL}/users/{first.id}/disable")
    assert response.status_code == 409
    session.expire_all()
    assert session.get(User, first.id).enabled  # type: ignore[union-attr]


# Tokens


def test_an_administrator_issues_a_token_that_is_shown_once(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    admin = api(Role.ADMINISTRATOR)
    treasurer = a_user(session, Role.TREASURER)
    response = admin.post(
        f"{URL}/users/{treasurer.id}/tokens", json={"label": "export", "expires_in_days": 7}
    )
    assert response.status_code == 201, response.text
    issued = response.json()
    assert issued["token"].startswith("vrg_")
    assert (issued["user_id"], issued["label"], issued["state"]) == (
        treasurer.id,
        "export",
        "active",
    )
    assert issued["prefix"] == issued["token"][:12]
    expires = dt.datetime.fromisoformat(issued["expires_at"])
    assert expires.tzinfo is not None
    assert abs(expires - (clock.as_utc(clock.now()) + dt.timedelta(days=7))) < dt.timedelta(
        minutes=1
    )
    assert bearer(admin, issued["token"]).get(f"{URL}/me/tokens").status_code == 200

    listed = admin.get(f"{URL}/users/{treasurer.id}/tokens").json()["items"]
    assert [item["id"] for item in listed] == [issued["id"]]
    assert "token" not in listed[0]
    assert "token_hash" not in listed[0]
    assert issued["token"] not in str(listed)


@pytest.mark.parametrize(
    "body",
    [
        {"expires_in_days": 0},
        {"expires_in_days": 3651},
        {"expires_in_days": "soon"},
        {"expires_in_days": 1.5},
        {"label": "x" * 101},
        {"label": 7},
    ],
)
def test_a_bad_token_request_is_422_and_writes_nothing(api, session: Session, body) -> None:  # type: ignore[no-untyped-def]
    admin = api(Role.ADMINISTRATOR)
    treasurer = a_user(session, Role.TREASURER)
    before = token_count(session)
    response = admin.post(f"{URL}/users/{treasurer.id}/tokens", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_failed"
    assert token_count(session) == before


def test_expired_and_revoked_tokens_are_401(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    treasurer = a_user(session, Role.TREASURER)
    client = api(treasurer)
    short = new_token(session, treasurer, expires_in=dt.timedelta(days=1)).token
    revoked = new_token(session, treasurer)
    assert client.post(f"{URL}/tokens/{revoked.record.id}/revoke").status_code == 200
    response = bearer(client, revoked.token).get(f"{URL}/me/tokens")
    assert (response.status_code, response.json()["detail"]) == (
        401,
        "invalid or revoked API token",
    )
    assert bearer(client, short).get(f"{URL}/me/tokens").status_code == 200
    with clock.frozen(clock.today() + dt.timedelta(days=2)):
        response = bearer(client, short).get(f"{URL}/me/tokens")
        assert (response.status_code, response.json()["error"]) == (401, "not_authenticated")
        assert response.json()["detail"] == "expired API token"
        states = {
            item["id"]: item["state"] for item in client.get(f"{URL}/me/tokens").json()["items"]
        }
    assert sorted(states.values()) == ["active", "expired", "revoked"]


def test_a_user_revokes_its_own_token_but_not_anothers(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    member = a_user(session, Role.MEMBER)
    client = api(member)
    spare = new_token(session, member, label="laptop").record
    other = new_token(session, a_user(session, Role.TREASURER)).record
    response = client.post(f"{URL}/tokens/{other.id}/revoke")
    assert (response.status_code, response.json()["error"]) == (403, "not_own_record")
    response = client.post(f"{URL}/tokens/{spare.id}/revoke")
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["label"]) == ("revoked", "laptop")
    first = response.json()["revoked_at"]
    again = client.post(f"{URL}/tokens/{spare.id}/revoke")
    assert again.json()["revoked_at"] == first
    session.expire_all()
    assert session.get(ApiToken, other.id).revoked_at is None  # type: ignore[union-attr]
    own = client.get(f"{URL}/users/{member.id}/tokens")
    assert own.status_code == 200
    assert len(own.json()["items"]) == 2


def test_an_administrator_revokes_all_tokens_of_a_user(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    admin = api(Role.ADMINISTRATOR)
    treasurer = a_user(session, Role.TREASURER)
    tokens = [issue_token(session, treasurer) for _ in range(3)]
    response = admin.post(f"{URL}/users/{treasurer.id}/tokens/revoke")
    assert response.json() == {"revoked": 3}
    for token in tokens:
        assert bearer(admin, token).get(f"{URL}/me/tokens").status_code == 401
    assert admin.post(f"{URL}/users/{treasurer.id}/tokens/revoke").json() == {"revoked": 0}
    assert admin.get(f"{URL}/me/tokens").status_code == 200  # the administrator's own still works


# Password login


def test_login_gives_a_token_that_expires_after_the_setting(anonymous, session: Session) -> None:  # type: ignore[no-untyped-def]
    member = a_user(session, Role.MEMBER, password=PASSWORD)
    response = anonymous.post(
        f"{URL}/auth/token", json={"email": member.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    issued = response.json()
    assert (issued["user_id"], issued["label"], issued["state"]) == (member.id, "login", "active")
    expires = dt.datetime.fromisoformat(issued["expires_at"])
    assert abs(expires - (clock.as_utc(clock.now()) + dt.timedelta(days=30))) < dt.timedelta(
        minutes=1
    )
    mine = bearer(anonymous, issued["token"]).get(f"{URL}/me/tokens")
    assert [item["id"] for item in mine.json()["items"]] == [issued["id"]]
    labelled = anonymous.post(
        f"{URL}/auth/token", json={"email": member.email, "password": PASSWORD, "label": "portal"}
    )
    assert labelled.json()["label"] == "portal"


def test_a_failed_login_is_the_same_401_whether_the_email_exists_or_not(  # type: ignore[no-untyped-def]
    anonymous, session: Session
) -> None:
    member = a_user(session, Role.MEMBER, password=PASSWORD)
    before = token_count(session)
    wrong_password = anonymous.post(
        f"{URL}/auth/token", json={"email": member.email, "password": "niet-het-wachtwoord"}
    )
    unknown_email = anonymous.post(
        f"{URL}/auth/token", json={"email": "niemand@example.org", "password": PASSWORD}
    )
    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert response.json() == {
            "error": "not_authenticated",
            "detail": "wrong email or password",
        }
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert token_count(session) == before


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.org"},
        {"password": PASSWORD},
        {"email": "a@example.org", "password": "x" * 1025},
        {"email": "a" * 256, "password": PASSWORD},
        {"email": "a@example.org", "password": PASSWORD, "label": "x" * 101},
    ],
)
def test_a_malformed_login_is_422(anonymous, session: Session, body) -> None:  # type: ignore[no-untyped-def]
    before = token_count(session)
    response = anonymous.post(f"{URL}/auth/token", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"
    assert token_count(session) == before
