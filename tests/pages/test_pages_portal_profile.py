"""The portal's profile: contact details, the preferred language, and the bank account."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import pytest
from conftest_pages import make_login, signed_in, text_of
from fastapi.testclient import TestClient
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


@pytest.fixture
def wouter(session: Session, admin: User) -> Member:
    make_creditor(session, admin)
    monthly = make_type(session, period=BillingPeriod.MONTHLY, amount="12.50", name="Maand")
    member, _membership, _schedule = make_active_member(
        session, admin, monthly, start=dt.date(2026, 1, 1), first_name="Wouter"
    )
    member.user_id = make_login(session, "wouter@example.org", Role.MEMBER).id
    member.address_line, member.postal_code, member.city = "Dorpsstraat 1", "1234 AB", "Ergens"
    session.flush()
    return member


@pytest.fixture
def mandate(session: Session, admin: User, wouter: Member) -> SepaMandate:
    data = MandateCreate(iban=DEBTOR_IBAN, sign_date=dt.date(2026, 1, 15))
    return create_mandate(session, admin, wouter.id, data)


def token_of(web: TestClient) -> str:
    match = TOKEN.search(web.get("/portal/profile").text)
    assert match is not None
    return match.group(1)


def save(web: TestClient, **fields: str):  # type: ignore[no-untyped-def]
    data = {"email": "wouter@example.org", "address_line": "Dorpsstraat 1",
            "postal_code": "1234 AB", "city": "Ergens", "language": ""}  # fmt: skip
    data.update(fields)
    return web.post("/portal/profile", data={**data, "csrf_token": token_of(web)})


def test_the_profile_shows_the_stored_details_and_the_account(
    web, session, wouter, mandate
) -> None:
    signed_in(web, "wouter@example.org")
    page = web.get("/portal/profile")
    assert page.status_code == 200
    assert 'value="Dorpsstraat 1"' in page.text
    assert 'value="1234 AB"' in page.text
    assert f'value="{wouter.email}"' in page.text
    assert "NL91**********4300" in page.text
    assert DEBTOR_IBAN not in page.text
    assert mandate.mandate_reference in page.text
    assert "the mandate keeps its reference" in text_of(page.text)
    assert '<a href="/portal/profile" aria-current="page">' in page.text


def test_contact_details_are_saved(web, session, wouter) -> None:
    signed_in(web, "wouter@example.org")
    saved = save(web, email=" Nieuw@Example.org ", address_line="Kerkplein 2", city="Elders")
    assert saved.status_code == 303
    assert saved.headers["location"] == "/portal/profile"
    session.expire_all()
    member = session.get(Member, wouter.id)
    assert member is not None
    assert (member.email, member.address_line, member.postal_code, member.city) == (
        "nieuw@example.org", "Kerkplein 2", "1234 AB", "Elders",
    )  # fmt: skip
    assert "Your details are saved." in text_of(web.get("/portal/profile").text)


def test_an_empty_address_is_stored_as_none(web, session, wouter) -> None:
    signed_in(web, "wouter@example.org")
    assert save(web, address_line="  ", postal_code="", city="").status_code == 303
    session.expire_all()
    member = session.get(Member, wouter.id)
    assert member is not None
    assert (member.address_line, member.postal_code, member.city) == (None, None, None)


@pytest.mark.parametrize("email", ["", "geen-adres", "twee@@example.org"])
def test_a_bad_email_re_renders_with_what_was_typed_and_saves_nothing(
    web, session, wouter, email
) -> None:
    signed_in(web, "wouter@example.org")
    before = wouter.email
    refused = save(web, email=email, city="Elders")
    assert refused.status_code == 422
    assert "Enter an email address like name@example.org." in text_of(refused.text)
    assert f'value="{email}"' in refused.text
    assert 'value="Elders"' in refused.text
    session.expire_all()
    member = session.get(Member, wouter.id)
    assert member is not None
    assert (member.email, member.city) == (before, "Ergens")


def test_over_long_fields_and_an_unknown_language_are_refused(web, session, wouter) -> None:
    signed_in(web, "wouter@example.org")
    assert save(web, city="x" * 101).status_code == 422
    unknown = save(web, language="fr")
    assert unknown.status_code == 422
    assert "Choose one of the languages in the list." in text_of(unknown.text)
    session.expire_all()
    member = session.get(Member, wouter.id)
    assert member is not None
    assert member.city == "Ergens"


def test_the_preferred_language_is_the_users_setting(web, session, wouter) -> None:
    signed_in(web, "wouter@example.org")
    assert save(web, language="nl").status_code == 303
    session.expire_all()
    login = session.get(User, wouter.user_id)
    assert login is not None
    assert login.locale == "nl"
    web.cookies.delete("vrg_lang")  # the setting wins over the browser's English
    page = web.get("/portal/profile")
    assert page.headers["content-language"] == "nl"
    assert "Uw gegevens zijn opgeslagen." in text_of(page.text)
    assert save(web, language="").status_code == 303  # back to what the browser asks
    session.expire_all()
    assert session.get(User, wouter.user_id).locale is None  # type: ignore[union-attr]


def test_a_profile_change_without_the_form_token_is_refused(web, session, wouter) -> None:
    signed_in(web, "wouter@example.org")
    refused = web.post("/portal/profile", data={"email": "x@example.org", "city": "Elders"})
    assert refused.status_code == 403
    session.expire_all()
    assert session.get(Member, wouter.id).city == "Ergens"  # type: ignore[union-attr]


def test_without_a_mandate_the_profile_offers_to_sign_one(web, session, wouter) -> None:
    signed_in(web, "wouter@example.org")
    page = web.get("/portal/profile")
    assert "you have no active direct debit mandate" in text_of(page.text)
    assert 'href="/portal/mandates"' in page.text


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.TREASURER])
def test_other_roles_get_the_403_page(web, session, role) -> None:
    make_login(session, "staff@example.org", role)
    signed_in(web, "staff@example.org")
    assert web.get("/portal/profile").status_code == 403


def test_the_profile_is_dutch(browser, session, wouter) -> None:
    web = signed_in(browser(language="nl"), "wouter@example.org")
    text = text_of(web.get("/portal/profile").text)
    assert "Profiel" in text
    assert "Voorkeurstaal" in text
    assert "Bankrekening" in text


def test_the_profile_costs_four_statements(web, session, wouter, mandate) -> None:
    """The sign-in, the member, the member's id and its mandates (the SEPA self-service)."""
    signed_in(web, "wouter@example.org")
    with capture() as log:
        assert web.get("/portal/profile").status_code == 200
    assert log.count == 4


def change_account(web: TestClient, iban: str):  # type: ignore[no-untyped-def]
    return web.post("/portal/profile/account", data={"iban": iban, "csrf_token": token_of(web)})


def test_a_new_iban_amends_the_current_mandate(web, session, wouter, mandate) -> None:
    signed_in(web, "wouter@example.org")
    changed = change_account(web, "NL20 INGB 0001 2345 67")
    assert changed.status_code == 303
    session.expire_all()
    amended = session.get(SepaMandate, mandate.id)
    assert amended is not None
    assert amended.iban == "NL20INGB0001234567"
    assert amended.amended_from_iban == DEBTOR_IBAN
    assert amended.mandate_reference == mandate.mandate_reference
    page = web.get("/portal/profile")
    assert "Your mandate now collects from the new account" in text_of(page.text)
    assert "NL20**********4567" in page.text


@pytest.mark.parametrize("iban", ["", "NL91ABNA0417164301", "XX00"])
def test_an_invalid_new_iban_re_renders_with_what_was_typed_and_changes_nothing(
    web, session, wouter, mandate, iban
) -> None:
    signed_in(web, "wouter@example.org")
    refused = change_account(web, iban)
    assert refused.status_code == 422
    assert f'value="{iban}"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    session.expire_all()
    kept = session.get(SepaMandate, mandate.id)
    assert kept is not None
    assert (kept.iban, kept.amended_from_iban) == (DEBTOR_IBAN, None)


def test_without_a_mandate_there_is_no_account_to_change(web, session, wouter) -> None:
    signed_in(web, "wouter@example.org")
    refused = change_account(web, "NL20INGB0001234567")
    assert refused.status_code == 409
    assert "You have no mandate to change" in text_of(refused.text)
    assert session.query(SepaMandate).filter_by(member_id=wouter.id).count() == 0


def test_an_account_change_without_the_form_token_is_refused(web, session, wouter, mandate) -> None:
    signed_in(web, "wouter@example.org")
    refused = web.post("/portal/profile/account", data={"iban": "NL20INGB0001234567"})
    assert refused.status_code == 403
    session.expire_all()
    assert session.get(SepaMandate, mandate.id).iban == DEBTOR_IBAN  # type: ignore[union-attr]
