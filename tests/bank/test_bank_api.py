"""/api/v1/bank: upload a statement file, list statements and their lines; treasurers and
administrators only; a refused file writes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from bank_samples import ABN_AMRO, ING, RABOBANK, sample
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.bank.models import BankStatement, BankStatementLine
from verenigingen.bank.service import add_account

pytestmark = pytest.mark.usefixtures("frozen_today")

STATEMENTS = "/api/v1/bank/statements"


@pytest.fixture
def treasurer_user(session: Session) -> User:
    user = create_user(session, "penningmeester@example.org", Role.TREASURER)
    for iban in (ING, RABOBANK, ABN_AMRO):
        add_account(session, user, iban)
    return user


def counts(session: Session) -> tuple[int, int]:
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(BankStatement)) or 0,
        session.scalar(select(func.count()).select_from(BankStatementLine)) or 0,
    )


def test_a_treasurer_imports_lists_and_reads_lines(
    api: Any, session: Session, treasurer_user: User
) -> None:
    client = api(treasurer_user)
    first = client.post(STATEMENTS, files={"file": ("ing.940", sample("ing_structured.mt940"))})
    assert first.status_code == 201, first.text
    assert (first.json()["lines_added"], first.json()["lines_skipped"]) == (3, 0)
    overlap = client.post(STATEMENTS, files={"file": ("ing.xml", sample("ing_camt053_v02.xml"))})
    assert overlap.status_code == 201
    body = overlap.json()
    assert (body["file_format"], body["lines_added"], body["lines_skipped"]) == ("camt.053", 1, 3)
    assert body["gaps"] == []

    listing = client.get(STATEMENTS, params={"count": True}).json()
    assert listing["total"] == 2
    latest = listing["items"][0]
    assert (latest["statement_number"], latest["entry_count"], latest["lines_stored"]) == (
        "0212-20261103",
        4,
        1,
    )
    lines = client.get(f"{STATEMENTS}/{first.json()['statements'][0]['statement_id']}/lines")
    assert lines.status_code == 200
    items = lines.json()["items"]
    assert [Decimal(i["amount"]) for i in items] == [
        Decimal("25.00"),
        Decimal("37.50"),
        Decimal("-12.95"),
    ]
    assert items[0]["counterparty_iban"] == "NL44RABO0123456789"


def test_the_account_field_names_an_old_account_number(
    api: Any, session: Session, treasurer_user: User
) -> None:
    client = api(treasurer_user)
    response = client.post(
        STATEMENTS,
        files={"file": ("abn.sta", sample("abnamro_mixed.mt940"))},
        data={"account": ABN_AMRO},
    )
    assert response.status_code == 201, response.text
    assert response.json()["lines_added"] == 5


@pytest.mark.parametrize(
    ("content", "code", "detail"),
    [
        (sample("ing_structured.mt940")[:400], "statement_file_malformed", "line"),
        (
            sample("ing_structured.mt940").replace(b"C261102EUR1299,55", b"C261102EUR1199,55"),
            "statement_unbalanced",
            "a difference of -100.00",
        ),
        (sample("abnamro_mixed.mt940"), "statement_account_unknown", "417164300"),
        (
            sample("ing_camt053_v02.xml")
            .replace(b"<Id><IBAN>NL20", b"<Id><IBAN>NL86")
            .replace(b"INGB0001234567</IBAN>", b"INGB0002445588</IBAN>"),
            "statement_account_unknown",
            "NL86INGB0002445588",
        ),
        (b"<Document><x/></Document>", "statement_file_malformed", "not a camt.053"),
    ],
)
def test_a_refused_file_is_422_and_writes_nothing(
    api: Any,
    session: Session,
    treasurer_user: User,
    content: bytes,
    code: str,
    detail: str,
) -> None:
    client = api(treasurer_user)
    response = client.post(STATEMENTS, files={"file": ("statement", content)})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == code
    assert detail in response.json()["detail"]
    assert counts(session) == (0, 0)


@pytest.mark.parametrize("role", [Role.MEMBERSHIP_SECRETARY, Role.MEMBER])
def test_other_roles_may_not_import_or_read(
    api: Any, session: Session, treasurer_user: User, role: Role
) -> None:
    client = api(role)
    upload = client.post(STATEMENTS, files={"file": ("x", sample("ing_structured.mt940"))})
    assert upload.status_code == 403
    assert client.get(STATEMENTS).status_code == 403
    assert counts(session) == (0, 0)


def test_an_administrator_may_import(api: Any, session: Session, treasurer_user: User) -> None:
    client = api(Role.ADMINISTRATOR)
    response = client.post(STATEMENTS, files={"file": ("r", sample("rabobank_structured.mt940"))})
    assert response.status_code == 201


def test_lines_of_an_unknown_statement_are_404(api: Any, treasurer_user: User) -> None:
    client = api(treasurer_user)
    response = client.get(f"{STATEMENTS}/999999/lines")
    assert response.status_code == 404


def test_an_upload_without_a_file_is_422(api: Any, treasurer_user: User) -> None:
    client = api(treasurer_user)
    assert client.post(STATEMENTS, data={"account": ING}).status_code == 422
