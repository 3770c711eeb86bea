"""Every list endpoint pages by cursor: ``next_cursor`` leads through the list, a forged cursor
is a 422 naming the problem (never a 500), ``total`` comes only with ``count=true``, and a page
of ``GET /invoices`` sends the same statements whatever the size of the ledger."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from list_factories import add_invoices
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.jobs.models import Notification
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today")

LISTS = [
    "/api/v1/invoices",
    "/api/v1/payments",
    "/api/v1/members",
    "/api/v1/memberships",
    "/api/v1/users",
    "/api/v1/settings/changes",
    "/api/v1/bank/statements",
]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("cursor", ["forged", "eyJ4Ijox", "W10", "WyJpbnZvaWNlcyIsMV0"])
def test_a_forged_cursor_is_a_422(api, url: str, cursor: str) -> None:  # type: ignore[no-untyped-def]
    response = api(Role.ADMINISTRATOR).get(url, params={"after": cursor})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_failed"


@pytest.mark.parametrize("url", LISTS)
def test_a_cursor_with_an_offset_is_a_422(api, url: str) -> None:  # type: ignore[no-untyped-def]
    response = api(Role.ADMINISTRATOR).get(url, params={"after": "x", "offset": 1})
    assert response.status_code == 422
    assert "either after" in response.json()["detail"]


def test_a_walk_through_invoices_by_next_cursor(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    customer = add_invoices(session, 12)
    client = api(Role.TREASURER)
    params: dict[str, object] = {"customer_id": customer.id, "limit": 5, "count": True}
    seen: list[int] = []
    totals: list[int | None] = []
    while True:
        page = client.get("/api/v1/invoices", params=params).json()
        seen.extend(item["id"] for item in page["items"])
        totals.append(page["total"])
        if page["next_cursor"] is None:
            break
        params = {"customer_id": customer.id, "limit": 5, "after": page["next_cursor"]}
    assert (len(seen), len(set(seen))) == (12, 12)
    assert totals == [12, None, None]


def _statements_of_a_page(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with capture() as log:
        response = client.get(url, params={"limit": 20})
    assert response.status_code == 200
    assert len(response.json()["items"]) == 20
    return log.count


def test_invoices_page_statements_do_not_grow_with_the_ledger(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = api(Role.TREASURER)
    add_invoices(session, 40)
    small = _statements_of_a_page(client, "/api/v1/invoices")
    add_invoices(session, 2_000)
    large = _statements_of_a_page(client, "/api/v1/invoices")
    # the token with its user, the page, the lines of the page's invoices
    assert small == large == 3


def test_notifications_page_by_cursor(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    user = create_user(session, f"n-{uuid.uuid4().hex[:6]}@example.org", Role.TREASURER)
    for number in range(7):
        session.add(
            Notification(user_id=user.id, subject=f"n{number}", message="m", indicator="green")
        )
    session.flush()
    client = api(user)
    seen: list[int] = []
    params: dict[str, object] = {"limit": 3}
    while True:
        page = client.get("/api/v1/notifications", params=params).json()
        assert page["unread"] == 7
        seen.extend(item["id"] for item in page["items"])
        if page["next_cursor"] is None:
            break
        params = {"limit": 3, "after": page["next_cursor"]}
    assert (len(seen), len(set(seen))) == (7, 7)
    forged = client.get("/api/v1/notifications", params={"after": "W10"})
    assert (forged.status_code, forged.json()["error"]) == (422, "validation_failed")
