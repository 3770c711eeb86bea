from contexts import context_on
from verenigingen.app_context import context_of
from verenigingen.auth.models import Role


def test_health_and_openapi_are_public(api) -> None:
    client = api(Role.ADMINISTRATOR)
    client.headers.pop("Authorization")
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "verenigingen"


def test_missing_or_wrong_token_is_401_with_error_body(api) -> None:
    client = api(Role.ADMINISTRATOR)
    good = client.headers.pop("Authorization")
    missing = client.get("/api/v1/members")
    assert missing.status_code == 401
    assert missing.json() == {
        "error": "not_authenticated",
        "detail": "send an API token as 'Authorization: Bearer <token>'",
    }
    wrong = client.get("/api/v1/members", headers={"Authorization": good + "x"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "invalid or revoked API token"


def test_unknown_route_uses_the_error_shape(api) -> None:
    response = api(Role.ADMINISTRATOR).get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not Found"}


def test_a_failing_commit_is_an_error_response_not_a_success(session, admin) -> None:
    """Regression: the request's commit runs before the response is sent."""
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select
    from sqlalchemy.orm import sessionmaker

    from verenigingen.auth.service import issue_token
    from verenigingen.members.models import Customer
    from verenigingen.web.app import create_app
    from verenigingen.web.deps import CurrentUser, SessionDep

    session.add(Customer(debtor_number="DUP-1", name="Existing"))
    token = issue_token(session, admin)
    session.flush()
    context = context_of(session)
    factory = sessionmaker(
        bind=session.connection(),
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        info=context.session_info(),
    )
    app = create_app(context, session_factory=factory)

    @app.post("/probe")
    def probe(db: SessionDep, _user: CurrentUser) -> dict[str, str]:
        db.add(Customer(debtor_number="DUP-1", name="Duplicate"))  # fails only at commit
        return {"status": "ok"}

    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.post("/probe")
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert (
        session.scalar(select(func.count(Customer.id)).where(Customer.debtor_number == "DUP-1"))
        == 1
    )


def test_reads_do_not_take_the_sqlite_write_lock(fresh_sqlite) -> None:
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from verenigingen.auth.models import Role
    from verenigingen.auth.service import create_user, issue_token
    from verenigingen.db.session import make_session_factory, unit_of_work
    from verenigingen.web.app import create_app

    with unit_of_work(make_session_factory(fresh_sqlite)) as setup:
        token = issue_token(setup, create_user(setup, "lees@example.org", Role.ADMINISTRATOR))
    begins: list[str] = []

    def record(statement: str) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    # What SQLite itself was sent (the BEGIN goes to the driver's connection directly).
    def trace(dbapi_connection, _record, _proxy) -> None:
        dbapi_connection.set_trace_callback(record)

    # Built first: the context reads the runtime settings once at start-up, not in a request.
    context = context_on(fresh_sqlite)
    event.listen(fresh_sqlite, "checkout", trace)
    app = create_app(context)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.get("/api/v1/members").status_code == 200
        assert begins == ["BEGIN DEFERRED"]
        assert c.post("/api/v1/members", json={}).status_code == 422
    assert begins == ["BEGIN DEFERRED", "BEGIN IMMEDIATE"]
