"""Control characters in any text are a 422 before anything is read or written (a regression
test: a NUL in a name, ``reference_no``, ``city`` or a query parameter was a 500 on PostgreSQL
and was stored on SQLite)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role
from verenigingen.billing.models import Payment
from verenigingen.members.models import Customer, Member
from verenigingen.web.app import API_PREFIX

CONTROLS = ["\x00", "\x1b", "\x7f", "\x85"]


def application(**changes: str) -> dict[str, str]:
    return {
        "first_name": "Anna",
        "last_name": "de Vries",
        "email": "anna@example.org",
        "birth_date": "1990-05-17",
        "city": "Utrecht",
        **changes,
    }


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("field", ["first_name", "last_name", "city"])
def test_an_application_with_a_control_character_writes_nothing(
    api, session: Session, control: str, field: str
) -> None:  # type: ignore[no-untyped-def]
    before = session.scalar(select(func.count(Member.id)))
    body = application(**{field: f"Ut{control}recht"})
    response = api(Role.MEMBERSHIP_SECRETARY).post(f"{API_PREFIX}/members", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "control_character"
    assert f"body.{field}" in response.json()["detail"]
    session.expire_all()
    assert session.scalar(select(func.count(Member.id))) == before


def test_a_payment_reference_with_nul_writes_nothing(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    customer = Customer(debtor_number="DEB-NUL", name="Familie Nul")
    session.add(customer)
    session.flush()
    body = {"customer_id": customer.id, "paid_amount": "10.00", "reference_no": "a\x00b"}
    response = api(Role.TREASURER).post(f"{API_PREFIX}/payments", json=body)
    assert response.status_code == 422
    assert response.json() == {
        "error": "control_character",
        "detail": "body.reference_no holds the control character U+0000",
    }
    session.expire_all()
    assert session.scalar(select(func.count(Payment.id))) == 0


@pytest.mark.parametrize(
    "url",
    ["/members?status=Act%00ive", "/invoices?status=%1B", "/jobs?user=a%00b", "/members?st%00=1"],
)
def test_a_query_with_a_control_character_is_refused(api, url: str) -> None:  # type: ignore[no-untyped-def]
    response = api(Role.ADMINISTRATOR).get(API_PREFIX + url)
    assert response.status_code == 422
    assert response.json()["error"] == "control_character"


def test_tabs_and_line_breaks_are_text(api, session: Session) -> None:  # type: ignore[no-untyped-def]
    customer = Customer(debtor_number="DEB-TAB", name="Familie Tab")
    session.add(customer)
    session.flush()
    body = {"customer_id": customer.id, "paid_amount": "10.00", "reference_no": "a\tb\r\nc"}
    assert api(Role.TREASURER).post(f"{API_PREFIX}/payments", json=body).status_code == 201


def test_nul_is_refused_before_any_engine_sees_it(any_session: Session, treasurer) -> None:  # type: ignore[no-untyped-def]
    # The same app on each engine: PostgreSQL answered a NUL with a 500 ("invalid byte sequence").
    from fastapi.testclient import TestClient

    from contexts import savepoint_sessions
    from verenigingen.app_context import context_of
    from verenigingen.auth.service import issue_token
    from verenigingen.web.app import create_app

    customer = Customer(debtor_number="DEB-NUL-ANY", name="Familie Nul")
    any_session.add(customer)
    token = issue_token(any_session, treasurer)
    any_session.flush()
    app = create_app(context_of(any_session), session_factory=savepoint_sessions(any_session))
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        body = {"customer_id": customer.id, "paid_amount": "10.00", "reference_no": "\x00"}
        response = client.post(f"{API_PREFIX}/payments", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "control_character"
    any_session.expire_all()
    assert any_session.scalar(select(func.count(Payment.id))) == 0
