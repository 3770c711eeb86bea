"""A body that cannot be read is one documented 400 ``bad_request``, whatever makes it
unreadable (a regression test: invalid JSON was a 422, a body that is not UTF-8 or is nested
too deeply a 400, and neither was documented)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role
from verenigingen.billing.models import Payment

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    "body",
    [
        b'\xff\xfe{"customer_id": 1}',  # not UTF-8
        b'{"customer_id": 1, "paid_amount": ',  # not JSON
        b'{"customer_id": 1, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # nested too deeply
    ],
)
def test_an_unreadable_body_is_a_400_and_writes_nothing(api, session: Session, body: bytes) -> None:  # type: ignore[no-untyped-def]
    response = api(Role.TREASURER).post("/api/v1/payments", content=body, headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    session.expire_all()
    assert session.scalar(select(func.count(Payment.id))) == 0


def test_a_deep_but_readable_body_is_checked_without_exhausting_the_stack(api) -> None:  # type: ignore[no-untyped-def]
    deep = "[" * 900 + '"\\u0000"' + "]" * 900
    body = f'{{"customer_id": 1, "paid_amount": "1.00", "reference_no": {deep}}}'.encode()
    response = api(Role.TREASURER).post("/api/v1/payments", content=body, headers=JSON)
    assert response.status_code == 422
    assert response.json()["error"] == "control_character"
