"""Bad input gets a clear error and runs no DDL: service, command line and API; admins only."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from index_helpers import committed_user, indexes_on, ledger
from sqlalchemy import Engine
from typer.testing import CliRunner

from contexts import context_on
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import issue_token
from verenigingen.cli.app import app as cli
from verenigingen.config import get_settings
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.errors import PermissionDenied
from verenigingen.indexes import catalog, service
from verenigingen.indexes.catalog import IndexSpec
from verenigingen.indexes.errors import InvalidIndexSpec, UnknownIndex
from verenigingen.web.app import create_app

runner = CliRunner()


def _nothing_happened(engine: Engine, before: dict[str, set[str]]) -> None:
    assert ledger(engine) == []
    for table, names in before.items():
        assert set(indexes_on(engine, table)) == names


def _snapshot(engine: Engine) -> dict[str, set[str]]:
    return {t: set(indexes_on(engine, t)) for t in ("invoice", "sepa_mandate", "payment")}


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: catalog.resolve("ix_nosuch"), UnknownIndex, "unknown index 'ix_nosuch'"),
        (lambda: catalog.adhoc("nosuch", ("id",)), InvalidIndexSpec, "unknown table 'nosuch'"),
        (
            lambda: catalog.adhoc("invoice", ("customer_id", "nosuch")),
            InvalidIndexSpec,
            "table invoice has no column 'nosuch'",
        ),
        (
            lambda: catalog.adhoc("invoice", ('status"); DROP TABLE invoice; --',)),
            InvalidIndexSpec,
            "has no column",
        ),
        (
            lambda: catalog.validate(IndexSpec('ixm_x"; DROP', "invoice", ("status",), "")),
            InvalidIndexSpec,
            "must be lower-case letters",
        ),
        (
            lambda: catalog.validate(IndexSpec("ix_mine", "invoice", ("status",), "")),
            InvalidIndexSpec,
            "must start with 'ixm_'",
        ),
        (
            lambda: catalog.adhoc("invoice", ("a", "b", "c", "d")),
            InvalidIndexSpec,
            "1 to 3 columns",
        ),
    ],
)
def test_bad_names_are_refused_before_any_ddl(make, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message.replace("(", r"\(")):
        make()


def test_service_refuses_unknown_and_non_administrators(fresh_sqlite: Engine) -> None:
    before = _snapshot(fresh_sqlite)
    treasurer = committed_user(fresh_sqlite, Role.TREASURER)
    with pytest.raises(PermissionDenied):
        service.add_indexes(fresh_sqlite, treasurer, catalog.STRATEGIC)
    with pytest.raises(PermissionDenied):
        service.index_status(fresh_sqlite, treasurer)
    admin = committed_user(fresh_sqlite)
    bad = IndexSpec("ixm_invoice_nosuch", "invoice", ("nosuch",), "")
    with pytest.raises(InvalidIndexSpec):
        # One bad spec in the list: nothing is built, not even the valid ones before it.
        service.add_indexes(fresh_sqlite, admin, [*catalog.STRATEGIC, bad])
    with pytest.raises(UnknownIndex):
        service.rollback_index(fresh_sqlite, admin, "ixm_nosuch")
    _nothing_happened(fresh_sqlite, before)


@pytest.fixture
def configured(fresh_sqlite: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The command line pointed at the test's database, with its administrator."""
    committed_user(fresh_sqlite)
    monkeypatch.setenv("VERENIGINGEN_DATABASE_URL", str(fresh_sqlite.url))
    get_settings.cache_clear()
    yield fresh_sqlite
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["add", "ix_nosuch"], "unknown index 'ix_nosuch'"),
        (["add", "--table", "nosuch", "--column", "id"], "unknown table 'nosuch'"),
        (["add", "--table", "invoice", "--column", "nosuch"], "has no column 'nosuch'"),
        (["rollback", "ix_nosuch"], "unknown index 'ix_nosuch'"),
        (["impact", "ix_nosuch"], "unknown index 'ix_nosuch'"),
        (["add"], "name an index"),
    ],
)
def test_cli_bad_input_exits_2_and_changes_nothing(
    configured: Engine, arguments: list[str], message: str
) -> None:
    before = _snapshot(configured)
    result = runner.invoke(cli, ["indexes", *arguments])
    assert result.exit_code == 2, result.output
    assert message in result.output
    _nothing_happened(configured, before)


def test_cli_add_status_rollback(configured: Engine) -> None:
    added = runner.invoke(cli, ["indexes", "add", "--strategic"])
    assert added.exit_code == 0, added.output
    assert "built" in added.output
    assert "skipped" in added.output
    status = runner.invoke(cli, ["indexes", "status"])
    assert status.exit_code == 0
    assert "valid" in status.output
    name = "ixm_sepa_mandate_member_status_created"
    rolled = runner.invoke(cli, ["indexes", "rollback", name])
    assert rolled.exit_code == 0, rolled.output
    assert "rolled_back" in rolled.output
    assert name not in indexes_on(configured, "sepa_mandate")
    refused = runner.invoke(cli, ["indexes", "rollback", "ix_payment_allocation_invoice_id"])
    assert refused.exit_code == 1
    assert "declared by the models" in refused.output


def _client(engine: Engine, role: Role) -> TestClient:
    with unit_of_work(make_session_factory(engine)) as session:
        from verenigingen.auth.service import create_user

        user = create_user(session, f"{role.value.lower().replace(' ', '.')}@example.org", role)
        token = issue_token(session, user)
    return TestClient(create_app(context_on(engine)), headers={"Authorization": f"Bearer {token}"})


def test_api_is_for_administrators_and_refuses_bad_names(fresh_sqlite: Engine) -> None:
    before = _snapshot(fresh_sqlite)
    treasurer = _client(fresh_sqlite, Role.TREASURER)
    admin = _client(fresh_sqlite, Role.ADMINISTRATOR)
    assert (
        TestClient(create_app(context_on(fresh_sqlite))).get("/api/v1/perf/indexes").status_code
        == 401
    )
    assert treasurer.get("/api/v1/perf/indexes").status_code == 403
    assert treasurer.post("/api/v1/perf/indexes", json={"strategic": True}).status_code == 403
    unknown = admin.post("/api/v1/perf/indexes", json={"name": "ix_nosuch"})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown_index"
    table = admin.post("/api/v1/perf/indexes", json={"table": "nosuch", "columns": ["id"]})
    assert table.status_code == 422
    assert "unknown table 'nosuch'" in table.json()["detail"]
    assert admin.post("/api/v1/perf/indexes/ix_nosuch/rollback").status_code == 404
    _nothing_happened(fresh_sqlite, before)

    added = admin.post("/api/v1/perf/indexes", json={"strategic": True})
    assert added.status_code == 200, added.text
    assert [o["action"] for o in added.json()] == ["built", "skipped", "built"]
    listed = admin.get("/api/v1/perf/indexes").json()
    assert {i["name"]: (i["valid"], i["ledger_state"]) for i in listed} == {
        "ixm_invoice_customer_status_posting": (True, "valid"),
        "ix_payment_allocation_invoice_id": (True, None),
        "ixm_sepa_mandate_member_status_created": (True, "valid"),
    }
    impact = admin.post("/api/v1/perf/indexes/ixm_invoice_customer_status_posting/impact")
    assert impact.status_code == 200
    body = impact.json()
    assert body["flagged"] is (body["improvement"] < 0.30)
    rolled = admin.post("/api/v1/perf/indexes/ixm_invoice_customer_status_posting/rollback")
    assert rolled.status_code == 200
    assert rolled.json()["state"] == "rolled_back"
    assert "ixm_invoice_customer_status_posting" not in indexes_on(fresh_sqlite, "invoice")


def _client_as(engine: Engine, user: User) -> TestClient:
    with unit_of_work(make_session_factory(engine)) as session:
        token = issue_token(session, session.merge(user))
    return TestClient(create_app(context_on(engine)), headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize(
    ("body", "arguments", "expected"),
    [
        ({"strategic": True}, ["--strategic"], catalog.strategic_names()),
        (
            {"name": "ixm_invoice_customer_status_posting"},
            ["ixm_invoice_customer_status_posting"],
            ["ixm_invoice_customer_status_posting"],
        ),
        (
            {"table": "invoice", "columns": ["status", "due_date"]},
            ["--table", "invoice", "--column", "status", "--column", "due_date"],
            ["ixm_invoice_status_due_date"],
        ),
        (  # strategic wins over a name, a name over a table
            {"name": "ixm_invoice_customer_status_posting", "strategic": True},
            ["ixm_invoice_customer_status_posting", "--strategic"],
            catalog.strategic_names(),
        ),
        (
            {"name": "ixm_invoice_customer_status_posting", "table": "payment", "columns": ["id"]},
            ["ixm_invoice_customer_status_posting", "--table", "payment", "--column", "id"],
            ["ixm_invoice_customer_status_posting"],
        ),
    ],
)
def test_api_and_cli_select_the_same_indexes(
    configured: Engine,
    monkeypatch: pytest.MonkeyPatch,
    body: dict[str, object],
    arguments: list[str],
    expected: list[str],
) -> None:
    asked: dict[str, list[str]] = {}

    def recorded(face: str) -> Callable[..., list[service.AddOutcome]]:
        def add_indexes(
            engine: Engine, user: User, specs: Sequence[IndexSpec], *_: object
        ) -> list[service.AddOutcome]:
            asked[face] = [spec.name for spec in specs]
            return []

        return add_indexes

    admin = committed_user(configured, Role.ADMINISTRATOR, "second.admin@example.org")
    monkeypatch.setattr(service, "add_indexes", recorded("api"))
    response = _client_as(configured, admin).post("/api/v1/perf/indexes", json=body)
    assert response.status_code == 200, response.text
    monkeypatch.setattr(service, "add_indexes", recorded("cli"))
    result = runner.invoke(cli, ["indexes", "add", *arguments])
    assert result.exit_code == 0, result.output
    assert asked == {"api": expected, "cli": expected}


@pytest.mark.parametrize(
    ("body", "arguments", "status"),
    [
        ({"name": "ix_nosuch"}, ["ix_nosuch"], 404),
        (
            {"table": "invoice", "columns": ["nosuch"]},
            ["--table", "invoice", "--column", "nosuch"],
            422,
        ),
        ({"table": "invoice"}, ["--table", "invoice"], 422),
        ({}, [], 422),
    ],
)
def test_api_and_cli_refuse_the_same_selections(
    configured: Engine, body: dict[str, object], arguments: list[str], status: int
) -> None:
    before = _snapshot(configured)
    admin = committed_user(configured, Role.ADMINISTRATOR, "second.admin@example.org")
    response = _client_as(configured, admin).post("/api/v1/perf/indexes", json=body)
    result = runner.invoke(cli, ["indexes", "add", *arguments])
    assert (response.status_code, result.exit_code) == (status, 2), result.output
    assert response.json()["detail"] in result.output
    _nothing_happened(configured, before)


INDEX_ROUTES = [
    ("GET", "/api/v1/perf/indexes"),
    ("POST", "/api/v1/perf/indexes"),
    ("POST", "/api/v1/perf/indexes/ixm_invoice_customer_status_posting/impact"),
    ("POST", "/api/v1/perf/indexes/ixm_invoice_customer_status_posting/rollback"),
]


def test_api_refuses_like_the_other_routers(fresh_sqlite: Engine) -> None:
    """401 without a token or with a wrong one, 403 for every role but Administrator: the same
    status and body as the routers on the shared auth dependency (members; the cache statistics,
    the other administrators-only router)."""
    before = _snapshot(fresh_sqlite)
    app = create_app(context_on(fresh_sqlite))

    def refusal(client: TestClient, method: str, path: str) -> tuple[int, dict[str, Any]]:
        response = client.request(method, path, json={"strategic": True})
        return response.status_code, response.json()

    for client in (TestClient(app), TestClient(app, headers={"Authorization": "Bearer nosuch"})):
        expected = refusal(client, "GET", "/api/v1/members")
        assert expected[0] == 401
        for method, path in INDEX_ROUTES:
            assert refusal(client, method, path) == expected, (method, path)

    for role in (Role.TREASURER, Role.MEMBERSHIP_SECRETARY, Role.MEMBER):
        client = _client(fresh_sqlite, role)
        status, body = refusal(client, "GET", "/api/v1/perf/cache")
        assert status == 403
        for method, path in INDEX_ROUTES:
            status, refused = refusal(client, method, path)
            assert (status, refused["error"]) == (403, body["error"]), (role, method, path)
    _nothing_happened(fresh_sqlite, before)
