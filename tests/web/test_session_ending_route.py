"""A plain route of a ``SessionEndingRoute`` commits the request's session in the thread that ran
it (one thread-pool hop fewer); the outcomes are those of a commit after the route."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from contextvars import ContextVar

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from contexts import context_on
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user, issue_token
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.members.models import Customer
from verenigingen.web.app import create_app
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute

IN_THE_ROUTES_HOP: ContextVar[bool] = ContextVar("in_the_routes_hop", default=False)
"""Set by a probe route. Each thread-pool hop runs in a copy of the request's context, so the
commit sees it set only when it runs in the same hop as the route."""


class Probe:
    """Whether each commit of a probe route's session ran in the route's own hop."""

    def __init__(self) -> None:
        self.commits: list[bool] = []

    def route_ran(self) -> None:
        IN_THE_ROUTES_HOP.set(True)

    def committed(self, _session: Session) -> None:
        self.commits.append(IN_THE_ROUTES_HOP.get())


def probe_client(engine: Engine, route_class: type[APIRoute], probe: Probe) -> TestClient:
    with unit_of_work(make_session_factory(engine)) as setup:
        setup.add(Customer(debtor_number="DUP-1", name="Existing"))
        token = issue_token(setup, create_user(setup, "probe@example.org", Role.ADMINISTRATOR))
    router = APIRouter(route_class=route_class)

    @router.post("/probe/customers/{number}")
    def add_customer(number: str, db: SessionDep, _user: CurrentUser) -> dict[str, str]:
        probe.route_ran()
        event.listen(db, "after_commit", probe.committed)
        db.add(Customer(debtor_number=number, name="Probe"))  # a duplicate fails at commit
        return {"number": number}

    @router.post("/probe/refused")
    def refused(db: SessionDep, _user: CurrentUser) -> dict[str, str]:
        db.add(Customer(debtor_number="REFUSED-1", name="Probe"))
        db.flush()
        raise ValueError("refused after a write")

    @router.post("/probe/async/{number}")
    async def add_customer_async(number: str, db: SessionDep) -> dict[str, str]:
        probe.route_ran()
        event.listen(db, "after_commit", probe.committed)
        db.add(Customer(debtor_number=number, name="Probe"))
        return {"number": number}

    app = create_app(context_on(engine))
    app.include_router(router)
    return TestClient(
        app, headers={"Authorization": f"Bearer {token}"}, raise_server_exceptions=False
    )


@pytest.fixture
def count_customers(fresh_sqlite: Engine) -> Callable[[str], int]:
    def count(number: str) -> int:
        with fresh_sqlite.connect() as connection:
            return int(
                connection.scalar(
                    select(func.count(Customer.id)).where(Customer.debtor_number == number)
                )
                or 0
            )

    return count


def test_a_plain_route_commits_in_the_thread_that_ran_it(fresh_sqlite, count_customers) -> None:
    probe = Probe()
    with probe_client(fresh_sqlite, SessionEndingRoute, probe) as client:
        response = client.post("/probe/customers/NEW-1")
    assert response.status_code == 200
    assert probe.commits == [True]  # one commit, in the route's own hop
    assert count_customers("NEW-1") == 1


def test_a_plain_route_of_fastapis_own_class_commits_in_a_hop_of_its_own(
    fresh_sqlite, count_customers
) -> None:
    probe = Probe()
    with probe_client(fresh_sqlite, APIRoute, probe) as client:
        response = client.post("/probe/customers/NEW-2")
    assert response.status_code == 200
    assert probe.commits == [False]
    assert count_customers("NEW-2") == 1


def test_an_async_route_is_committed_after_it(fresh_sqlite, count_customers) -> None:
    probe = Probe()
    with probe_client(fresh_sqlite, SessionEndingRoute, probe) as client:
        response = client.post("/probe/async/NEW-3")
    assert response.status_code == 200
    assert len(probe.commits) == 1  # by get_session, after the route (which ran on the loop)
    assert count_customers("NEW-3") == 1


@pytest.mark.parametrize("route_class", [SessionEndingRoute, APIRoute])
def test_a_failing_commit_is_an_error_response_and_nothing_is_written(
    fresh_sqlite, count_customers, route_class
) -> None:
    probe = Probe()
    with probe_client(fresh_sqlite, route_class, probe) as client:
        response = client.post("/probe/customers/DUP-1")
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert probe.commits == []
    assert count_customers("DUP-1") == 1


def test_a_route_that_raises_after_a_write_writes_nothing(fresh_sqlite, count_customers) -> None:
    with probe_client(fresh_sqlite, SessionEndingRoute, Probe()) as client:
        response = client.post("/probe/refused")
    assert response.status_code == 500
    assert count_customers("REFUSED-1") == 0


def test_every_route_of_the_api_and_the_pages_is_a_session_ending_route() -> None:
    import verenigingen.web.api
    from verenigingen.web.pages.router import page_router

    routers = [page_router()]
    for module_info in pkgutil.iter_modules(verenigingen.web.api.__path__):
        module = importlib.import_module(f"verenigingen.web.api.{module_info.name}")
        routers += [value for value in vars(module).values() if isinstance(value, APIRouter)]
    assert len(routers) > 15
    for router in routers:
        assert router.route_class is SessionEndingRoute
        assert all(isinstance(route, SessionEndingRoute) for route in router.routes)
