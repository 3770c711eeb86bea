"""GET /metrics: request histograms per route template, statements per request, the cache's
hits and misses, the job table's queue depth and outcomes; for Administrators unless public."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.app_context import AppContext, context_of
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user, issue_token
from verenigingen.cache.redis_backend import RedisBackend
from verenigingen.cache.versioned import VersionedCache
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.members.models import Customer, Member
from verenigingen.web.app import create_app

MEMBER_ROUTE = "/api/v1/members/{member_id}"
DURATION = "verenigingen_http_request_duration_seconds"
STATEMENTS = "verenigingen_http_request_statements"
DATABASE_TIME = "verenigingen_http_request_database_seconds"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of a scrape by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: Samples, name: str, **labels: str) -> float | None:
    return scraped.get((name, frozenset(labels.items())))


def label_values(scraped: Samples, name: str, label: str) -> set[str]:
    return {dict(labels)[label] for sample, labels in scraped if sample == name}


def app_with(context: AppContext, session: Session, **settings: Any) -> FastAPI:
    """The app on ``context`` with ``settings`` changed, in savepoints of the test's transaction
    whose sessions carry that context (the services reach its cache through them)."""
    changed = dataclasses.replace(context, settings=context.settings.model_copy(update=settings))
    sessions = sessionmaker(
        bind=session.connection(),
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        info=changed.session_info(),
    )
    return create_app(changed, session_factory=sessions)


def client_as(app: FastAPI, session: Session, role: Role | None) -> TestClient:
    """A client with a token of a new user of ``role``; None: no token."""
    if role is None:
        return TestClient(app)
    user = create_user(
        session, f"{role.value.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}@x.org", role
    )
    token = issue_token(session, user)
    session.flush()
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def scrape(session: Session) -> tuple[TestClient, Callable[[], Samples]]:
    """An administrator's client of the test's app and a function that scrapes that app."""
    app = app_with(context_of(session), session)
    client = client_as(app, session, Role.ADMINISTRATOR)

    def scraped() -> Samples:
        response = client.get("/metrics")
        assert response.status_code == 200, response.text
        return samples(response.text)

    return client, scraped


def test_requests_are_counted_per_route_template_and_status_class(scrape) -> None:
    client, scraped = scrape
    for member_id in range(1, 51):  # fifty ids, none of them a member: 404
        assert client.get(f"/api/v1/members/{900_000 + member_id}").status_code == 404
    for _ in range(3):
        assert client.get("/api/v1/members").status_code == 200
    metrics = scraped()
    assert (
        value(metrics, f"{DURATION}_count", route=MEMBER_ROUTE, method="GET", status_class="4xx")
        == 50
    )
    assert (
        value(
            metrics, f"{DURATION}_count", route="/api/v1/members", method="GET", status_class="2xx"
        )
        == 3
    )
    assert (
        value(
            metrics,
            f"{DURATION}_bucket",
            route=MEMBER_ROUTE,
            method="GET",
            status_class="4xx",
            le="+Inf",
        )
        == 50
    )
    # Fifty ids, one label value: the template, never a path.
    routes = label_values(metrics, f"{DURATION}_count", "route")
    assert routes == {MEMBER_ROUTE, "/api/v1/members"}


def test_unknown_paths_and_methods_share_one_label_value(scrape) -> None:
    client, scraped = scrape
    for number in range(5):
        assert client.get(f"/nothing-{number}/here").status_code == 404
    for method in ("BREW", "PROPFIND"):
        assert client.request(method, "/api/v1/members").status_code == 405
    metrics = scraped()
    assert (
        value(metrics, f"{DURATION}_count", route="unmatched", method="GET", status_class="4xx")
        == 5
    )
    assert (
        value(
            metrics,
            f"{DURATION}_count",
            route="/api/v1/members",
            method="other",
            status_class="4xx",
        )
        == 2
    )
    assert label_values(metrics, f"{DURATION}_count", "method") == {"GET", "other"}


def test_statements_and_database_time_per_request_come_from_the_capture(scrape) -> None:
    client, scraped = scrape
    for _ in range(4):
        listing = client.get("/api/v1/members?limit=5")
        assert listing.status_code == 200
        # The same capture as the Server-Timing header: token lookup, member page (no count).
        assert 'desc="2 queries"' in listing.headers["server-timing"]
    metrics = scraped()
    labels = {"route": "/api/v1/members", "method": "GET"}
    assert value(metrics, f"{STATEMENTS}_count", **labels) == 4
    assert value(metrics, f"{STATEMENTS}_sum", **labels) == 8
    assert value(metrics, f"{STATEMENTS}_bucket", **labels, le="1.0") == 0
    assert value(metrics, f"{STATEMENTS}_bucket", **labels, le="2.0") == 4
    assert value(metrics, f"{DATABASE_TIME}_count", **labels) == 4
    assert (
        0
        < value(metrics, f"{DATABASE_TIME}_sum", **labels)
        < value(metrics, f"{DURATION}_sum", **labels, status_class="2xx")
    )


def member(session: Session) -> Member:
    tag = uuid.uuid4().hex[:8]
    customer = Customer(debtor_number=f"DEB-{tag}", name="Familie Jansen")
    session.add(customer)
    session.flush()
    record = Member(
        member_id=f"Assoc-Member-2026-01-{tag}",
        first_name="Piet",
        last_name="Jansen",
        email=f"{tag}@example.org",
        customer_id=customer.id,
    )
    session.add(record)
    session.flush()
    return record


def test_cache_hits_and_misses_follow_a_cached_read(scrape, session: Session) -> None:
    client, scraped = scrape
    history = f"/api/v1/members/{member(session).id}/payment-history"
    before = scraped()
    assert value(before, "verenigingen_cache_hits_total", namespace="history") is None
    assert client.get(history).status_code == 200  # cold: computed and stored
    cold = scraped()
    assert value(cold, "verenigingen_cache_misses_total", namespace="history", reason="cold") == 1
    assert value(cold, "verenigingen_cache_hits_total", namespace="history") == 0
    assert client.get(history).status_code == 200  # served from the cache
    warm = scraped()
    assert value(warm, "verenigingen_cache_hits_total", namespace="history") == 1
    assert value(warm, "verenigingen_cache_misses_total", namespace="history", reason="cold") == 1
    assert value(warm, "verenigingen_metrics_source_up", source="cache") == 1


def test_cache_counters_of_a_redis_cache_are_those_in_redis(
    session: Session, redis_url: str
) -> None:
    context = context_of(session)
    prefix = f"test-metrics-{uuid.uuid4().hex[:8]}"
    backend = RedisBackend(redis_url, prefix=prefix)
    try:
        app = app_with(dataclasses.replace(context, cache=VersionedCache(backend)), session)
        client = client_as(app, session, Role.ADMINISTRATOR)
        history = f"/api/v1/members/{member(session).id}/payment-history"
        for _ in range(3):
            assert client.get(history).status_code == 200
        metrics = samples(client.get("/metrics").text)
        assert value(metrics, "verenigingen_cache_hits_total", namespace="history") == 2
        assert (
            value(metrics, "verenigingen_cache_misses_total", namespace="history", reason="cold")
            == 1
        )
    finally:
        backend.clear()


def test_an_unreachable_cache_leaves_its_figures_out_and_says_so(session: Session) -> None:
    context = context_of(session)
    dead = VersionedCache(RedisBackend("redis://127.0.0.1:9/0"))  # discard port: nothing answers
    app = app_with(dataclasses.replace(context, cache=dead), session)
    response = client_as(app, session, Role.ADMINISTRATOR).get("/metrics")
    assert response.status_code == 200
    metrics = samples(response.text)
    assert value(metrics, "verenigingen_metrics_source_up", source="cache") == 0
    assert value(metrics, "verenigingen_metrics_source_up", source="jobs") == 1
    assert not label_values(metrics, "verenigingen_cache_hits_total", "namespace")


def add_jobs(session: Session, user: User, count: int, status: JobStatus, **fields: Any) -> None:
    for _ in range(count):
        session.add(
            Job(
                name=fields.get("name", "history.refresh_member"),
                queue=fields.get("queue", "default"),
                params={},
                user_id=user.id,
                status=status.value,
                timeout=300,
            )
        )
    session.flush()


def test_queue_depth_and_outcomes_are_read_from_the_job_table(
    any_session: Session, admin: User
) -> None:
    add_jobs(any_session, admin, 3, JobStatus.QUEUED, queue="default")
    add_jobs(any_session, admin, 1, JobStatus.QUEUED, queue="long", name="dues.generate")
    add_jobs(any_session, admin, 2, JobStatus.RUNNING, queue="short")
    add_jobs(any_session, admin, 4, JobStatus.COMPLETED, name="dues.generate")
    add_jobs(any_session, admin, 1, JobStatus.FAILED, name="dues.generate")
    add_jobs(any_session, admin, 5, JobStatus.COMPLETED)
    add_jobs(any_session, admin, 1, JobStatus.CANCELLED)
    app = app_with(context_of(any_session), any_session)
    response = client_as(app, any_session, Role.ADMINISTRATOR).get("/metrics")
    assert response.status_code == 200
    metrics = samples(response.text)
    depth = {
        (dict(labels)["queue"], dict(labels)["status"]): count
        for (name, labels), count in metrics.items()
        if name == "verenigingen_job_queue_depth"
    }
    assert depth == {
        ("default", "Queued"): 3,
        ("default", "Running"): 0,
        ("long", "Queued"): 1,
        ("long", "Running"): 0,
        ("short", "Queued"): 0,
        ("short", "Running"): 2,
    }
    finished = {
        (dict(labels)["task"], dict(labels)["status"]): count
        for (name, labels), count in metrics.items()
        if name == "verenigingen_jobs_finished_total"
    }
    assert finished == {
        ("dues.generate", "Completed"): 4,
        ("dues.generate", "Failed"): 1,
        ("history.refresh_member", "Completed"): 5,
        ("history.refresh_member", "Cancelled"): 1,
    }
    assert value(metrics, "verenigingen_metrics_source_up", source="jobs") == 1


# Who may read them.


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), (Role.MEMBER, 403), (Role.TREASURER, 403), (Role.ADMINISTRATOR, 200)],
)
def test_only_an_administrator_reads_the_metrics_by_default(
    session: Session, role: Role | None, status: int
) -> None:
    app = app_with(context_of(session), session)
    response = client_as(app, session, role).get("/metrics")
    assert response.status_code == status
    if status == 200:
        assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert "# TYPE verenigingen_http_request_duration_seconds histogram" in response.text
    else:
        assert response.json()["error"] in ("not_authenticated", "forbidden")
        assert "verenigingen_" not in response.text


def test_a_disabled_administrator_is_refused(session: Session) -> None:
    app = app_with(context_of(session), session)
    client = client_as(app, session, Role.ADMINISTRATOR)
    assert client.get("/metrics").status_code == 200
    for user in session.query(User).filter(User.role == Role.ADMINISTRATOR.value):
        user.enabled = False
    session.flush()
    assert client.get("/metrics").status_code in (401, 403)


def test_public_metrics_need_no_token(session: Session) -> None:
    app = app_with(context_of(session), session, metrics_public=True)
    response = client_as(app, session, None).get("/metrics")
    assert response.status_code == 200
    assert "verenigingen_job_queue_depth" in response.text


def test_metrics_switched_off_are_404_and_observe_nothing(session: Session) -> None:
    app = app_with(context_of(session), session, metrics=False)
    client = client_as(app, session, Role.ADMINISTRATOR)
    assert client.get("/api/v1/members").status_code == 200
    assert client.get("/metrics").status_code == 404
    assert "/metrics" not in app.openapi()["paths"]


def test_two_apps_in_one_process_count_apart(session: Session) -> None:
    context = context_of(session)
    first, second = app_with(context, session), app_with(context, session)
    first_client = client_as(first, session, Role.ADMINISTRATOR)
    second_client = client_as(second, session, Role.ADMINISTRATOR)
    for _ in range(2):
        first_client.get("/api/v1/members")
    second_client.get("/api/v1/members")
    count = f"{DURATION}_count"
    labels = {"route": "/api/v1/members", "method": "GET", "status_class": "2xx"}
    assert value(samples(first_client.get("/metrics").text), count, **labels) == 2
    assert value(samples(second_client.get("/metrics").text), count, **labels) == 1
