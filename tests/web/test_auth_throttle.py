"""Failed authentication is rate-limited per client address and per account: 429 with
Retry-After, before any token or password is checked; in process and on Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from limits.storage import MemoryStorage, RedisStorage
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen.app_context import AppContext
from verenigingen.auth.errors import TooManyAttempts
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user, issue_token
from verenigingen.auth.throttle import AuthThrottle, FailureLimit
from verenigingen.cache.memory import MemoryBackend
from verenigingen.cache.versioned import VersionedCache
from verenigingen.config import Settings
from verenigingen.db.installation import installation_id
from verenigingen.errors import NotAuthenticated
from verenigingen.jobs.engine import JobEngine
from verenigingen.web.app import create_app

URL = "/api/v1"
PASSWORD = "lang-genoeg-wachtwoord"
LOGIN = f"{URL}/auth/token"

AppFactory = Callable[..., TestClient]


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The settings that choose the throttle's storage: none (in process), or the test Redis
    under a namespace of the test's own (its keys removed afterwards)."""
    if request.param == "memory":
        yield {}
        return
    url: str = request.getfixturevalue("redis_url")
    namespace = f"test-throttle-{uuid.uuid4().hex[:8]}"
    yield {"redis_url": url, "jobs_namespace": namespace}
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)


@pytest.fixture
def app_with(session: Session, sqlite_engine: Engine) -> Iterator[AppFactory]:
    """``app_with(address, **settings)``: a client from ``address`` on an app whose context has
    those settings (its own throttle), in the test's transaction."""
    clients: list[TestClient] = []

    def make(address: str = "192.0.2.1", **settings: object) -> TestClient:
        chosen = Settings(**settings)  # type: ignore[arg-type]
        # The installation id is given: reading it would wait for the test's write lock.
        throttle = AuthThrottle.from_settings(chosen, installation="test-installation")
        context = AppContext.build(
            chosen,
            database=sqlite_engine,
            cache=VersionedCache(MemoryBackend()),
            jobs=JobEngine.memory(f"test{uuid.uuid4().hex[:8]}"),
            throttle=throttle,
        )
        app = create_app(context, session_factory=savepoint_sessions(session))
        client = TestClient(app, client=(address, 50000))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def from_address(client: TestClient, address: str, token: str | None = None) -> TestClient:
    """Another client on the same app, from another address (and with a token)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(client.app, client=(address, 50000), headers=headers)


def login(client: TestClient, email: str, password: str) -> int:
    return client.post(LOGIN, json={"email": email, "password": password}).status_code


def retry_after(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "too_many_attempts"
    return int(response.headers["Retry-After"])


@pytest.fixture
def member(session: Session) -> User:
    return create_user(session, "lid@example.org", Role.MEMBER, password=PASSWORD)


def test_bad_tokens_from_one_address_are_refused_after_the_limit(
    app_with: AppFactory, storage: dict[str, str], session: Session, member: User
) -> None:
    client = app_with(**storage, auth_failures_per_address=3)
    good = issue_token(session, member)
    for attempt in range(3):
        response = from_address(client, "192.0.2.1", f"vrg_wrong{attempt}").get(f"{URL}/me/tokens")
        assert response.status_code == 401
    refused = from_address(client, "192.0.2.1", "vrg_wrong").get(f"{URL}/me/tokens")
    assert 50 <= retry_after(refused) <= 60
    assert "from this address" in refused.json()["detail"]
    # Refused before the token is looked at: a good token from that address waits too ...
    assert retry_after(from_address(client, "192.0.2.1", good).get(f"{URL}/me/tokens")) > 0
    # ... and another address is not affected.
    assert from_address(client, "198.51.100.7", good).get(f"{URL}/me/tokens").status_code == 200


def test_successful_authentication_does_not_count(
    app_with: AppFactory, storage: dict[str, str], session: Session, member: User
) -> None:
    client = app_with(**storage, auth_failures_per_address=2)
    good = from_address(client, "192.0.2.1", issue_token(session, member))
    for _ in range(5):
        assert good.get(f"{URL}/me/tokens").status_code == 200
        assert login(client, member.email, PASSWORD) == 201
    assert login(client, member.email, "niet-het-wachtwoord") == 401
    assert good.get(f"{URL}/me/tokens").status_code == 200
    assert login(client, member.email, "niet-het-wachtwoord") == 401
    assert good.get(f"{URL}/me/tokens").status_code == 429


def test_failed_logins_for_one_account_are_refused_from_any_address(
    app_with: AppFactory, storage: dict[str, str], member: User
) -> None:
    client = app_with(**storage, auth_failures_per_account=2)
    assert login(client, "Lid@Example.org", "niet-het-wachtwoord") == 401
    assert login(from_address(client, "198.51.100.7"), member.email, "ook-niet-goed-dus") == 401
    # The right password, from a third address, before it is checked: 429.
    refused = from_address(client, "203.0.113.9").post(
        LOGIN, json={"email": member.email, "password": PASSWORD}
    )
    assert 890 <= retry_after(refused) <= 900
    assert "for this account" in refused.json()["detail"]
    # Another account from the same address still logs in; bearer tokens are not affected.
    create_user(client_session(client), "ander@example.org", Role.MEMBER, password=PASSWORD)
    assert login(client, "ander@example.org", PASSWORD) == 201


def client_session(client: TestClient) -> Session:
    """A session in the test's transaction, from the client's app."""
    session: Session = client.app.state.session_factory()  # type: ignore[attr-defined]
    return session


def test_an_unknown_email_is_limited_like_a_known_one(
    app_with: AppFactory, storage: dict[str, str]
) -> None:
    client = app_with(**storage, auth_failures_per_account=2)
    for address in ("192.0.2.1", "192.0.2.2"):
        assert login(from_address(client, address), "niemand@example.org", PASSWORD) == 401
    response = client.post(LOGIN, json={"email": "niemand@example.org", "password": PASSWORD})
    assert retry_after(response) > 0


def test_failed_logins_from_one_address_are_limited_across_accounts(
    app_with: AppFactory, storage: dict[str, str], member: User
) -> None:
    client = app_with(**storage, auth_failures_per_address=3)
    for number in range(3):
        assert login(client, f"gok{number}@example.org", PASSWORD) == 401
    response = client.post(LOGIN, json={"email": member.email, "password": PASSWORD})
    assert "from this address" in response.json()["detail"]
    assert retry_after(response) > 0
    assert login(from_address(client, "198.51.100.7"), member.email, PASSWORD) == 201


def test_the_limit_lifts_when_the_window_has_passed(
    app_with: AppFactory, storage: dict[str, str], member: User
) -> None:
    client = app_with(**storage, auth_failures_per_address=1, auth_address_window_seconds=1)
    assert login(client, member.email, "niet-het-wachtwoord") == 401
    assert retry_after(client.post(LOGIN, json={"email": member.email, "password": PASSWORD})) == 1
    time.sleep(1.1)
    assert login(client, member.email, PASSWORD) == 201


def test_processes_sharing_redis_share_the_counts_under_the_namespace(
    app_with: AppFactory, redis_url: str, member: User
) -> None:
    namespace = f"test-throttle-{uuid.uuid4().hex[:8]}"
    settings = {"redis_url": redis_url, "jobs_namespace": namespace}
    first = app_with(**settings, auth_failures_per_account=2)
    second = app_with(**settings, auth_failures_per_account=2)
    other_namespace = app_with(
        redis_url=redis_url, jobs_namespace=namespace + "-b", auth_failures_per_account=2
    )
    try:
        assert login(first, member.email, "niet-het-wachtwoord") == 401
        assert login(second, member.email, "niet-het-wachtwoord") == 401
        assert retry_after(first.post(LOGIN, json={"email": member.email, "password": PASSWORD}))
        assert retry_after(second.post(LOGIN, json={"email": member.email, "password": PASSWORD}))
        assert login(other_namespace, member.email, PASSWORD) == 201

        keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys(f"{namespace}:*")]
        assert keys
        assert all(key.startswith(f"{namespace}:throttle:test-installation:") for key in keys)
        assert not any("example.org" in key for key in keys)  # accounts by digest, not email
    finally:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)


def test_an_unreachable_redis_does_not_lock_everyone_out(
    app_with: AppFactory, session: Session, member: User
) -> None:
    client = app_with(redis_url="redis://127.0.0.1:1/0", auth_failures_per_address=1)
    token = issue_token(session, member)
    for _ in range(3):
        assert (
            from_address(client, "192.0.2.1", "vrg_wrong").get(f"{URL}/me/tokens").status_code
            == 401
        )
    assert from_address(client, "192.0.2.1", token).get(f"{URL}/me/tokens").status_code == 200
    assert login(client, member.email, PASSWORD) == 201


def test_the_context_builds_the_throttle_its_settings_ask_for(
    fresh_sqlite: Engine, redis_url: str
) -> None:
    def build(settings: Settings) -> AppContext:
        jobs = JobEngine.memory(f"test{uuid.uuid4().hex[:8]}")
        cache = VersionedCache(MemoryBackend())
        return AppContext.build(settings, database=fresh_sqlite, cache=cache, jobs=jobs)

    in_process = build(Settings()).throttle.storage
    assert isinstance(in_process, MemoryStorage)
    on_redis = build(Settings(redis_url=redis_url, jobs_namespace="vereniging-a")).throttle.storage
    assert isinstance(on_redis, RedisStorage)
    assert on_redis.key_prefix == f"vereniging-a:throttle:{installation_id(fresh_sqlite)}"


def test_the_openapi_document_lists_429_with_retry_after(app_with: AppFactory) -> None:
    document = app_with().app.openapi()  # type: ignore[attr-defined]
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security") or path == LOGIN
    ]
    assert len(operations) >= 40
    for path, method, operation in operations:
        answer = operation["responses"].get("429")
        assert answer is not None, (method, path)
        assert "Retry-After" in answer["headers"], (method, path)


class CountingStorage(MemoryStorage):
    """The in-process storage, counting how often the throttle reads or writes it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        self.calls += 1
        return super().get_moving_window(key, limit, expiry)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        self.calls += 1
        return super().acquire_entry(key, limit, expiry, amount)


def test_an_address_that_never_failed_costs_the_storage_nothing() -> None:
    storage = CountingStorage()
    throttle = AuthThrottle(
        storage, per_address=FailureLimit(2, 60), per_account=FailureLimit(5, 900)
    )
    for _ in range(10):
        with throttle.counting_failures("192.0.2.1"):
            pass  # authenticated
    assert storage.calls == 0
    with pytest.raises(NotAuthenticated), throttle.counting_failures("192.0.2.1"):
        raise NotAuthenticated("invalid or revoked API token")
    counted = storage.calls
    assert counted == 1
    with throttle.counting_failures("192.0.2.1"):
        pass  # a suspect now: its count is read first
    assert storage.calls > counted
    with throttle.counting_failures("198.51.100.7"):
        pass
    with pytest.raises(NotAuthenticated), throttle.counting_failures("192.0.2.1"):
        raise NotAuthenticated("invalid or revoked API token")
    with pytest.raises(TooManyAttempts), throttle.counting_failures("192.0.2.1"):
        pass


def test_another_process_refuses_an_address_over_the_limit_after_one_attempt(
    app_with: AppFactory, redis_url: str, session: Session, member: User
) -> None:
    namespace = f"test-throttle-{uuid.uuid4().hex[:8]}"
    settings = {"redis_url": redis_url, "jobs_namespace": namespace}
    first = app_with(**settings, auth_failures_per_address=2)
    second = app_with(**settings, auth_failures_per_address=2)
    good = issue_token(session, member)
    try:
        for attempt in range(2):
            assert (
                from_address(first, "192.0.2.1", f"vrg_no{attempt}")
                .get(f"{URL}/me/tokens")
                .status_code
                == 401
            )
        assert retry_after(from_address(first, "192.0.2.1", good).get(f"{URL}/me/tokens"))
        # The second process has not seen the address fail: its right token works, and one
        # more wrong one is answered and counted, then that process refuses the address too.
        assert from_address(second, "192.0.2.1", good).get(f"{URL}/me/tokens").status_code == 200
        wrong = from_address(second, "192.0.2.1", "vrg_no3").get(f"{URL}/me/tokens")
        assert wrong.status_code == 401
        assert retry_after(from_address(second, "192.0.2.1", good).get(f"{URL}/me/tokens"))
    finally:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
