"""/api/v1/settings: administrators only, validated, audited, and live: a change made by one
request is the path the next request takes, in this process and in another one on the same
database.

The flips run on committed databases: a process reads the settings on a connection of its own
(what is committed), so a change kept in a test's open transaction would reach no other request.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from contexts import context_on
from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user, issue_token
from verenigingen.billing.schemas import InvoiceCreate, InvoiceLineIn
from verenigingen.billing.service.invoices import create_invoice, submit_invoice
from verenigingen.cache.memory import MemoryBackend
from verenigingen.cache.versioned import VersionedCache
from verenigingen.config import Settings
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.history.models import MemberFinancialSummary
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Job
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.members.models import Customer, Member
from verenigingen.settings.models import RuntimeSetting, RuntimeSettingChange
from verenigingen.web.app import create_app

pytestmark = pytest.mark.usefixtures("frozen_today")

SETTINGS = "/api/v1/settings"
STATEMENTS = re.compile(r'desc="(\d+) queries"')


def statements(response: Any) -> int:
    """The statements the request sent, from its Server-Timing header (administrators get it)."""
    match = STATEMENTS.search(response.headers["server-timing"])
    assert match is not None
    return int(match.group(1))


# Who may: administrators only.


@pytest.mark.parametrize("role", [Role.TREASURER, Role.MEMBERSHIP_SECRETARY, Role.MEMBER])
def test_every_settings_route_is_403_for_anyone_but_an_administrator(
    api: Any, session: Session, role: Role
) -> None:
    client = api(role)
    for method, path, body in [
        ("GET", SETTINGS, None),
        ("GET", f"{SETTINGS}/changes", None),
        ("GET", f"{SETTINGS}/payment_history_cache", None),
        ("PUT", f"{SETTINGS}/payment_history_cache", {"value": False}),
        ("DELETE", f"{SETTINGS}/payment_history_cache", None),
    ]:
        response = client.request(method, path, json=body)
        assert (response.status_code, response.json()["error"]) == (403, "forbidden"), path
    assert _rows(session) == (0, 0)


def test_the_list_shows_each_value_its_default_source_bounds_and_meaning(api: Any) -> None:
    listing = api(Role.ADMINISTRATOR).get(SETTINGS)
    assert listing.status_code == 200
    by_name = {s["name"]: s for s in listing.json()}
    flags = ["defer_heavy_handlers", "payment_history_cache", "strategic_indexes"]
    assert list(by_name)[:3] == flags
    assert by_name["payment_history_cache"] | {"description": "…"} == {
        "name": "payment_history_cache",
        "kind": "bool",
        "value": True,
        "default": True,
        "source": "env",
        "minimum": None,
        "maximum": None,
        "description": "…",
        "updated_by": None,
        "updated_at": None,
    }
    assert by_name["history_cache_ttl_outstanding_seconds"]["value"] == 1800
    assert by_name["history_cache_ttl_settled_seconds"]["value"] == 3600
    assert by_name["history_cache_ttl_settled_seconds"]["minimum"] == 1
    assert by_name["history_refresh_above"]["value"] == "100.00"
    assert by_name["perf_regression_tolerance_percent"]["value"] == "5.00"
    assert by_name["strategic_indexes"]["value"] is False


def test_a_change_is_shown_audited_and_reset(api: Any, session: Session, admin: User) -> None:
    client = api(admin)
    changed = client.put(f"{SETTINGS}/history_cache_ttl_outstanding_seconds", json={"value": 600})
    assert changed.status_code == 200, changed.json()
    assert changed.json()["value"] == 600
    assert changed.json()["default"] == 1800
    assert changed.json()["source"] == "database"
    assert changed.json()["updated_by"] == admin.email
    assert changed.json()["updated_at"].endswith("Z")
    assert client.get(f"{SETTINGS}/history_cache_ttl_outstanding_seconds").json() == changed.json()
    # The same value again changes nothing and is not audited.
    again = client.put(f"{SETTINGS}/history_cache_ttl_outstanding_seconds", json={"value": "600"})
    assert again.json() == changed.json()
    reset = client.delete(f"{SETTINGS}/history_cache_ttl_outstanding_seconds")
    assert (reset.json()["value"], reset.json()["source"]) == (1800, "env")
    changes = client.get(f"{SETTINGS}/changes?count=true").json()
    assert changes["total"] == 2
    fields = ("name", "old_value", "old_source", "new_value", "new_source", "changed_by")
    assert [tuple(c[f] for f in fields) for c in changes["items"]] == [
        ("history_cache_ttl_outstanding_seconds", "600", "database", "1800", "env", admin.email),
        ("history_cache_ttl_outstanding_seconds", "1800", "env", "600", "database", admin.email),
    ]
    assert changes["items"][0]["changed_at"].endswith("Z")
    only = client.get(f"{SETTINGS}/changes?name=payment_history_cache&count=true").json()
    assert (only["total"], only["items"]) == (0, [])
    assert _rows(session) == (0, 2)


@pytest.mark.parametrize(
    ("name", "value", "status", "code"),
    [
        ("history_cache_ttl_outstanding_seconds", -5, 422, "setting_out_of_range"),
        ("history_cache_ttl_settled_seconds", 0, 422, "setting_out_of_range"),
        ("history_cache_ttl_settled_seconds", 10**30, 422, "setting_out_of_range"),
        ("history_recalculate_invoices", "-1", 422, "setting_out_of_range"),
        ("history_refresh_above", "-0.01", 422, "setting_out_of_range"),
        ("history_refresh_above", "10000000000.00", 422, "setting_out_of_range"),
        ("perf_regression_tolerance_percent", 1000.01, 422, "setting_out_of_range"),
        ("history_cache_ttl_settled_seconds", 12.5, 422, "invalid_setting_value"),
        ("history_cache_ttl_settled_seconds", "an hour", 422, "invalid_setting_value"),
        ("history_cache_ttl_settled_seconds", True, 422, "invalid_setting_value"),
        ("history_recalculate_invoices", "5.0", 422, "invalid_setting_value"),
        ("history_refresh_above", "1.234", 422, "invalid_setting_value"),
        ("history_refresh_above", "1E+2", 422, "invalid_setting_value"),
        ("history_refresh_above", 1e300, 422, "invalid_setting_value"),
        ("history_refresh_above", False, 422, "invalid_setting_value"),
        ("payment_history_cache", "maybe", 422, "invalid_setting_value"),
        ("payment_history_cache", 1, 422, "invalid_setting_value"),
        ("payment_history_cache", None, 422, "validation_failed"),
        ("payment_history_cache", [True], 422, "validation_failed"),
        ("no_such_setting", True, 404, "unknown_setting"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting_and_writes_nothing(
    api: Any, session: Session, name: str, value: object, status: int, code: str
) -> None:
    response = api(Role.ADMINISTRATOR).put(f"{SETTINGS}/{name}", json={"value": value})
    assert (response.status_code, response.json()["error"]) == (status, code)
    if code != "validation_failed":  # not a body of the API's shape: refused before the rules
        assert name in response.json()["detail"]
    assert _rows(session) == (0, 0)


def test_unknown_names_are_404_everywhere(api: Any) -> None:
    client = api(Role.ADMINISTRATOR)
    for method, path in [
        ("GET", f"{SETTINGS}/nope"),
        ("DELETE", f"{SETTINGS}/nope"),
        ("GET", f"{SETTINGS}/changes?name=nope"),
    ]:
        response = client.request(method, path)
        assert (response.status_code, response.json()["error"]) == (404, "unknown_setting")
        assert "payment_history_cache" in response.json()["detail"]  # the names there are
    too_long = client.get(f"{SETTINGS}/{'x' * 101}")
    assert (too_long.status_code, too_long.json()["error"]) == (422, "validation_failed")
    assert client.get(f"{SETTINGS}/changes?limit=0").status_code == 422


def _rows(session: Session) -> tuple[int, int]:
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(RuntimeSetting)) or 0,
        session.scalar(select(func.count()).select_from(RuntimeSettingChange)) or 0,
    )


# Live: committed databases, one or two processes (application contexts) on them.


@dataclass
class Installation:
    engine: Engine
    admin: int
    token: str
    customer_id: int
    member_id: int

    def client(self, context: AppContext) -> TestClient:
        return TestClient(create_app(context), headers={"Authorization": f"Bearer {self.token}"})

    def count(self, statement: Any) -> int:
        with make_session_factory(self.engine)() as session:
            return session.scalar(statement) or 0


def installation_on(engine: Engine) -> Installation:
    """An administrator with a token, and a member whose customer owes 30.00; committed."""
    tag = uuid.uuid4().hex[:8]
    with unit_of_work(make_session_factory(engine)) as session:
        admin = create_user(session, f"beheer-{tag}@example.org", Role.ADMINISTRATOR)
        token = issue_token(session, admin)
        customer = Customer(debtor_number=f"DEB-{tag}", name="Familie Visser")
        session.add(customer)
        session.flush()
        member = Member(
            member_id=f"Assoc-Member-2026-03-{tag}",
            first_name="Anna",
            last_name="Visser",
            email=f"{tag}@example.org",
            customer_id=customer.id,
        )
        session.add(member)
        session.flush()
        draft = create_invoice(
            session,
            admin,
            InvoiceCreate(
                customer_id=customer.id,
                posting_date=dt.date(2026, 2, 25),
                lines=[InvoiceLineIn(description="Contributie", rate=Decimal("30.00"))],
            ),
        )
        submit_invoice(session, admin, draft.id)
        return Installation(engine, admin.id, token, customer.id, member.id)


@pytest.fixture
def installation(fresh_sqlite: Engine) -> Installation:
    return installation_on(fresh_sqlite)


@pytest.fixture
def context(installation: Installation) -> Iterator[AppContext]:
    context = context_on(installation.engine)
    yield context
    context.jobs.close()


def history(client: TestClient, member_id: int) -> int:
    response = client.get(f"/api/v1/members/{member_id}/payment-history")
    assert response.status_code == 200, response.json()
    return statements(response)


def test_the_history_cache_flag_takes_effect_at_the_next_request(
    installation: Installation, context: AppContext
) -> None:
    with installation.client(context) as client:
        assert history(client, installation.member_id) == 1 + 3  # the token; a cold read
        assert history(client, installation.member_id) == 1 + 1  # a hit
        off = client.put(f"{SETTINGS}/payment_history_cache", json={"value": False})
        assert off.status_code == 200
        # The first request after the change reads the settings again (one statement), then
        # every read is cold: the history's three statements each time, nothing served.
        assert history(client, installation.member_id) == 1 + 1 + 3
        assert history(client, installation.member_id) == 1 + 3
        assert client.put(f"{SETTINGS}/payment_history_cache", json={"value": "on"}).is_success
        assert history(client, installation.member_id) == 1 + 1 + 1  # the old entry is valid
    stats = context.cache.stats()["history"]
    assert (stats.lookups, stats.hits) == (3, 2)  # reads with the cache off are not lookups


def test_defer_heavy_handlers_off_runs_the_follow_up_in_the_writers_transaction(
    installation: Installation, context: AppContext, tmp_path: Path
) -> None:
    def job_ids() -> list[int]:
        with make_session_factory(installation.engine)() as session:
            return list(session.scalars(select(Job.id).order_by(Job.id)))

    before = job_ids()
    payment = {"customer_id": installation.customer_id, "paid_amount": "10.00", "submit": True}
    with installation.client(context) as client:
        deferred = client.post("/api/v1/payments", json=payment)
        assert deferred.status_code == 201, deferred.json()
        # Deferred (the default): the summary delta is a job, not yet run (the analytics'
        # delta is written with the payment, deferred or not).
        queued = job_ids()[len(before) :]
        assert len(queued) == 1
        assert installation.count(_summary_paid(installation.member_id)) == 0
        assert client.put(f"{SETTINGS}/defer_heavy_handlers", json={"value": False}).is_success
        inline = client.post("/api/v1/payments", json=payment)
        assert inline.status_code == 201, inline.json()
    # Inline: no job row, and the summary row was written with the payment: from the ledger,
    # less the first payment's delta, which its job (still queued) adds when it runs.
    assert job_ids()[len(before) :] == queued
    assert installation.count(_summary_paid(installation.member_id)) == Decimal("10.00")
    runtime = Runtime(make_session_factory(installation.engine), Settings(data_dir=tmp_path))
    assert [run_job(runtime, job_id) for job_id in queued] == [RunOutcome.COMPLETED]
    assert installation.count(_summary_paid(installation.member_id)) == Decimal("20.00")


def _summary_paid(member_id: int) -> Any:
    return select(MemberFinancialSummary.total_paid).where(
        MemberFinancialSummary.member_id == member_id
    )


def test_the_recalculation_limit_takes_effect_at_the_next_request(
    installation: Installation, context: AppContext
) -> None:
    payment = {"customer_id": installation.customer_id, "paid_amount": "5.00", "submit": True}
    with installation.client(context) as client:
        assert client.post("/api/v1/payments", json=payment).status_code == 201
        limit = client.put(f"{SETTINGS}/history_recalculate_above", json={"value": "4.99"})
        assert limit.status_code == 200
        assert client.post("/api/v1/payments", json=payment).status_code == 201
    names = _job_names(installation.engine)
    assert names[-2:] == ["history.apply_summary_delta", "history.recalculate_summary"]


def _job_names(engine: Engine) -> list[str]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(Job.name).order_by(Job.id)))


def test_the_time_to_live_takes_effect_for_the_next_entry(
    installation: Installation, context: AppContext
) -> None:
    context.cache.clock = lambda: 1000.0
    backend = context.cache.backend
    assert isinstance(backend, MemoryBackend)
    key = f"{installation.member_id}:50:"
    with installation.client(context) as client:
        history(client, installation.member_id)
        entry = backend.read("history", key)
        assert entry is not None
        assert entry.expires_at == 1000.0 + 1800
        ttl = f"{SETTINGS}/history_cache_ttl_outstanding_seconds"
        assert client.put(ttl, json={"value": 60}).is_success
        context.cache.clock = lambda: 2801.0  # the old entry has expired: filled again
        history(client, installation.member_id)
        entry = backend.read("history", key)
        assert entry is not None
        assert entry.expires_at == 2801.0 + 60


# Two processes on one database: each its own application context.


def _process(engine: Engine, settings: Settings) -> AppContext:
    """What ``verenigingen serve`` builds, with its own in-process cache and queues."""
    return AppContext.build(
        settings,
        database=engine,
        cache=VersionedCache(MemoryBackend()),
        jobs=JobEngine.memory(f"test{uuid.uuid4().hex[:8]}"),
    )


def _second_process_sees_the_change(installation: Installation, settings: Settings) -> None:
    first, second = _process(installation.engine, settings), _process(installation.engine, settings)
    try:
        with installation.client(first) as a, installation.client(second) as b:
            assert history(b, installation.member_id) == 1 + 3
            assert history(b, installation.member_id) == 1 + 1  # b serves from its cache
            assert a.put(f"{SETTINGS}/payment_history_cache", json={"value": False}).is_success
            assert history(b, installation.member_id) == 1 + 1 + 3  # b read the settings again
            assert history(b, installation.member_id) == 1 + 3
            assert b.get(f"{SETTINGS}/payment_history_cache").json()["value"] is False
            assert a.delete(f"{SETTINGS}/payment_history_cache").is_success
            assert history(b, installation.member_id) == 1 + 1 + 1  # its entry is still valid
    finally:
        first.close()
        second.close()


def test_a_second_process_on_the_embedded_shape_sees_a_change_at_its_next_request(
    installation: Installation, tmp_path: Path
) -> None:
    # The processes of the embedded shape share the data directory, where the signal is.
    _second_process_sees_the_change(installation, Settings(data_dir=tmp_path))
    assert (tmp_path / "settings-changed").is_file()


def test_a_second_process_sharing_redis_sees_a_change_at_its_next_request(
    committed_server_engine: Engine, redis_url: str, tmp_path: Path
) -> None:
    namespace = f"test-settings-{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=tmp_path, redis_url=redis_url, jobs_namespace=namespace)
    _second_process_sees_the_change(installation_on(committed_server_engine), settings)
    assert not (tmp_path / "settings-changed").exists()  # the token is in Redis
    import redis

    client = redis.Redis.from_url(redis_url)
    assert client.get(f"{namespace}:settings:changed") is not None
    client.delete(f"{namespace}:settings:changed")


def test_defer_off_on_postgresql_and_mariadb(
    committed_server_engine: Engine, tmp_path: Path
) -> None:
    installation = installation_on(committed_server_engine)
    context = context_on(committed_server_engine)
    try:
        test_defer_heavy_handlers_off_runs_the_follow_up_in_the_writers_transaction(
            installation, context, tmp_path
        )
    finally:
        context.close()
