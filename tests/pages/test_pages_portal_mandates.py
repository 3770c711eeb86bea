"""The portal's SEPA mandates: the member's own, signing one online (IBAN checked as it is
typed and again on submit), revoking one after a confirmation."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import pytest
from conftest_pages import make_login, signed_in, text_of
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from member_factories import make_active_member, make_type
from verenigingen.auth.models import Role, User
from verenigingen.members.models import BillingPeriod, Member
from verenigingen.perf.capture import capture
from verenigingen.sepa.models import SepaMandate
from verenigingen.sepa.schemas import MandateCreate
from verenigingen.sepa.service import create_mandate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sepa"))
from sepa_factories import DEBTOR_IBAN, make_creditor

pytestmark = pytest.mark.usefixtures("frozen_today")

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
OTHER_IBAN = "NL02ABNA0123456789"
TYPO_IBAN = "NL91ABNA0417164301"


def member_with_login(session: Session, admin: User, email: str, name: str) -> Member:
    monthly = make_type(session, period=BillingPeriod.MONTHLY, amount="12.50", name=f"Maand {name}")
    member, _membership, _schedule = make_active_member(
        session, admin, monthly, start=dt.date(2026, 1, 1), first_name=name
    )
    member.user_id = make_login(session, email, Role.MEMBER).id
    session.flush()
    return member


def a_mandate(
    session: Session, admin: User, member: Member, iban: str = DEBTOR_IBAN
) -> SepaMandate:
    data = MandateCreate(iban=iban, sign_date=dt.date(2026, 1, 15))
    return create_mandate(session, admin, member.id, data)


@pytest.fixture
def wouter(session: Session, admin: User) -> Member:
    make_creditor(session, admin)
    return member_with_login(session, admin, "wouter@example.org", "Wouter")


def token_of(web: TestClient, path: str = "/portal/mandates") -> str:
    match = TOKEN.search(web.get(path).text)
    assert match is not None
    return match.group(1)


def mandates_of(session: Session, member: Member) -> list[SepaMandate]:
    session.expire_all()
    return list(
        session.scalars(
            select(SepaMandate).where(SepaMandate.member_id == member.id).order_by(SepaMandate.id)
        )
    )


def test_a_member_sees_its_own_mandates_masked(web, session, admin, wouter) -> None:
    own = a_mandate(session, admin, wouter)
    anna = member_with_login(session, admin, "anna@example.org", "Anna")
    theirs = a_mandate(session, admin, anna, OTHER_IBAN)
    signed_in(web, "wouter@example.org")
    page = web.get("/portal/mandates")
    assert page.status_code == 200
    assert re.findall(r'data-mandate="(\d+)"', page.text) == [str(own.id)]
    assert f'data-mandate="{theirs.id}"' not in page.text
    text = text_of(page.text)
    assert f"{own.mandate_reference} NL91**********4300" in text
    assert DEBTOR_IBAN not in page.text
    assert "Active" in text
    assert f'href="/portal/mandates/{own.id}/revoke"' in page.text
    assert "Vereniging De Eendracht (creditor id NL51ZZZ405365330000)" in text
    assert '<a href="/portal/mandates" aria-current="page">' in page.text


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("NL91 ABNA 0417 1643 00", 'data-iban-check="valid"'),
        ("nl91abna0417164300", 'data-iban-check="valid"'),
        (TYPO_IBAN, 'data-iban-check="invalid"'),
        ("NL91", 'data-iban-check="invalid"'),
        ("XX00 1234", 'data-iban-check="invalid"'),
    ],
)
def test_the_iban_is_checked_as_it_is_typed(web, session, wouter, typed, shown) -> None:
    signed_in(web, "wouter@example.org")
    with capture() as log:
        answer = web.get("/portal/mandates/iban-check", params={"iban": typed})
    assert answer.status_code == 200
    assert shown in answer.text
    assert "<html" not in answer.text  # a fragment for htmx, not a page
    assert log.count == 1  # the sign-in only


def test_the_iban_check_names_the_bank_and_says_nothing_for_an_empty_field(
    web, session, wouter
) -> None:
    signed_in(web, "wouter@example.org")
    assert "A valid IBAN (bank ABNANL2A)." in text_of(
        web.get("/portal/mandates/iban-check", params={"iban": DEBTOR_IBAN}).text
    )
    assert "This is not a valid IBAN" in text_of(
        web.get("/portal/mandates/iban-check", params={"iban": TYPO_IBAN}).text
    )
    assert text_of(web.get("/portal/mandates/iban-check?iban=").text) == ""
    assert web.get("/portal/mandates/iban-check", params={"iban": "N" * 51}).status_code == 422


def test_an_invalid_iban_re_renders_the_form_with_it_then_a_valid_one_signs(
    web, session, wouter
) -> None:
    signed_in(web, "wouter@example.org")
    token = token_of(web)
    refused = web.post(
        "/portal/mandates",
        data={
            "iban": TYPO_IBAN,
            "account_holder": "W. Jansen",
            "consent": "yes",
            "csrf_token": token,
        },
    )
    assert refused.status_code == 422
    assert "This is not a valid IBAN" in text_of(refused.text)
    assert f'value="{TYPO_IBAN}"' in refused.text
    assert 'value="W. Jansen"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert mandates_of(session, wouter) == []
    signed = web.post(
        "/portal/mandates",
        data={"iban": "NL91 ABNA 0417 1643 00", "account_holder": "W. Jansen", "consent": "yes",
              "csrf_token": token},
    )  # fmt: skip
    assert signed.status_code == 303
    assert signed.headers["location"] == "/portal/mandates"
    [mandate] = mandates_of(session, wouter)
    assert (mandate.iban, mandate.bic, mandate.status) == (DEBTOR_IBAN, "ABNANL2A", "Active")
    assert mandate.account_holder == "W. Jansen"
    assert mandate.sign_date == dt.date(2026, 3, 2)
    page = web.get("/portal/mandates")
    assert "Your mandate is signed." in text_of(page.text)
    assert f'data-mandate="{mandate.id}"' in page.text


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"iban": "", "account_holder": "W", "consent": "yes"}, "Enter the IBAN"),
        ({"iban": DEBTOR_IBAN, "account_holder": "  ", "consent": "yes"}, "Enter the name"),
        ({"iban": DEBTOR_IBAN, "account_holder": "W"}, "Tick the box"),
        ({"iban": DEBTOR_IBAN, "account_holder": "W", "consent": "no"}, "Tick the box"),
    ],
)
def test_a_form_with_a_field_missing_writes_nothing(web, session, wouter, fields, error) -> None:
    signed_in(web, "wouter@example.org")
    response = web.post("/portal/mandates", data={**fields, "csrf_token": token_of(web)})
    assert response.status_code == 422
    assert error in text_of(response.text)
    assert mandates_of(session, wouter) == []


def test_over_long_fields_and_a_missing_token_are_refused(web, session, wouter) -> None:
    signed_in(web, "wouter@example.org")
    token = token_of(web)
    too_long = web.post(
        "/portal/mandates",
        data={"iban": "N" * 51, "account_holder": "W", "consent": "yes", "csrf_token": token},
    )
    assert too_long.status_code == 422
    forged = web.post(
        "/portal/mandates", data={"iban": DEBTOR_IBAN, "account_holder": "W", "consent": "yes"}
    )
    assert forged.status_code == 403
    assert mandates_of(session, wouter) == []


def test_without_creditor_settings_there_is_nothing_to_sign(web, session, admin) -> None:
    member = member_with_login(session, admin, "lid@example.org", "Lid")
    signed_in(web, "lid@example.org")
    page = web.get("/portal/mandates")
    assert "does not collect by direct debit yet" in text_of(page.text)
    assert 'action="/portal/mandates"' not in page.text
    match = TOKEN.search(page.text)
    assert match is not None
    refused = web.post(
        "/portal/mandates",
        data={"iban": DEBTOR_IBAN, "account_holder": "L", "consent": "yes",
              "csrf_token": match.group(1)},
    )  # fmt: skip
    assert refused.status_code == 409
    assert mandates_of(session, member) == []


def test_revoke_after_confirmation(web, session, admin, wouter) -> None:
    mandate = a_mandate(session, admin, wouter)
    signed_in(web, "wouter@example.org")
    confirm = web.get(f"/portal/mandates/{mandate.id}/revoke")
    assert confirm.status_code == 200
    assert f"Revoke mandate {mandate.mandate_reference}" in text_of(confirm.text)
    match = TOKEN.search(confirm.text)
    assert match is not None
    revoked = web.post(
        f"/portal/mandates/{mandate.id}/revoke",
        data={"csrf_token": match.group(1), "reason": "nieuwe bank"},
    )
    assert revoked.status_code == 303
    [after] = mandates_of(session, wouter)
    assert (after.status, after.status_reason) == ("Cancelled", "nieuwe bank")
    page = web.get("/portal/mandates")
    assert "The mandate is revoked." in text_of(page.text)
    assert f'href="/portal/mandates/{mandate.id}/revoke"' not in page.text
    again = web.post(f"/portal/mandates/{mandate.id}/revoke", data={"csrf_token": match.group(1)})
    assert again.status_code == 303
    assert "This mandate has ended already" in text_of(web.get("/portal/mandates").text)


def test_revoke_without_a_reason_says_who_revoked(web, session, admin, wouter) -> None:
    mandate = a_mandate(session, admin, wouter)
    signed_in(web, "wouter@example.org")
    web.post(f"/portal/mandates/{mandate.id}/revoke", data={"csrf_token": token_of(web)})
    [after] = mandates_of(session, wouter)
    assert (after.status, after.status_reason) == ("Cancelled", "Revoked by the member")


def test_another_members_mandate_is_the_404_page_like_an_unknown_one(
    web, session, admin, wouter
) -> None:
    """As ``/api/v1/me/mandates`` answers: another member's mandate is not revealed to exist."""
    anna = member_with_login(session, admin, "anna@example.org", "Anna")
    theirs = a_mandate(session, admin, anna, OTHER_IBAN)
    signed_in(web, "wouter@example.org")
    token = token_of(web)
    assert web.get(f"/portal/mandates/{theirs.id}/revoke").status_code == 404
    refused = web.post(f"/portal/mandates/{theirs.id}/revoke", data={"csrf_token": token})
    assert refused.status_code == 404
    assert "Page not found" in text_of(refused.text)
    assert theirs.mandate_reference not in refused.text
    assert (
        web.post("/portal/mandates/987654321/revoke", data={"csrf_token": token}).status_code == 404
    )
    assert web.get("/portal/mandates/abc/revoke").status_code == 422
    [after] = mandates_of(session, anna)
    assert after.status == "Active"


def test_a_revoke_without_the_form_token_is_refused(web, session, admin, wouter) -> None:
    mandate = a_mandate(session, admin, wouter)
    signed_in(web, "wouter@example.org")
    assert web.post(f"/portal/mandates/{mandate.id}/revoke").status_code == 403
    [after] = mandates_of(session, wouter)
    assert after.status == "Active"


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.TREASURER])
def test_other_roles_get_the_403_page(web, session, role) -> None:
    make_login(session, "staff@example.org", role)
    signed_in(web, "staff@example.org")
    assert web.get("/portal/mandates").status_code == 403
    assert web.get("/portal/mandates/iban-check?iban=x").status_code == 403


def test_the_mandates_page_is_dutch(browser, session, admin, wouter) -> None:
    a_mandate(session, admin, wouter)
    web = signed_in(browser(language="nl"), "wouter@example.org")
    text = text_of(web.get("/portal/mandates").text)
    assert "Automatische incasso" in text
    assert "Een nieuwe machtiging tekenen" in text
    assert "Intrekken" in text
    assert "geen geldige IBAN" in text_of(
        web.get("/portal/mandates/iban-check", params={"iban": TYPO_IBAN}).text
    )


@pytest.mark.parametrize("mandates", [1, 12])
def test_the_mandates_page_costs_the_same_statements_whatever_the_mandates(
    web, session, admin, wouter, mandates
) -> None:
    """The sign-in, the member (for the form), the member's id and its mandates (the SEPA
    self-service), the creditor."""
    for _ in range(mandates):
        a_mandate(session, admin, wouter)
    signed_in(web, "wouter@example.org")
    with capture() as log:
        page = web.get("/portal/mandates")
    assert page.status_code == 200
    assert log.count == 5
    assert len(re.findall(r'data-mandate="', page.text)) == mandates
    assert session.scalar(select(func.count()).select_from(SepaMandate)) == mandates
