"""Recording SEPA mandates: reference, IBAN/BIC and dates are checked before anything is written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from member_factories import OTHER_IBAN, VALID_IBAN, make_active_member, make_type
from verenigingen.auth.errors import LoginNotLinkedToMember
from verenigingen.errors import InvalidBic, InvalidIban, NotFound, PermissionDenied
from verenigingen.iban import bank_account
from verenigingen.sepa.errors import (
    ExpiryBeforeMandateStart,
    FirstCollectionBeforeSignDate,
    InvalidMandateReference,
    MandateReferenceTaken,
    SignDateInFuture,
)
from verenigingen.sepa.models import MandateStatus, SepaMandate
from verenigingen.sepa.schemas import MandateCreate
from verenigingen.sepa.service import create_mandate, list_mandates

TODAY = dt.date(2026, 11, 15)


pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


@pytest.fixture
def member(session, admin):
    monthly = make_type(session)
    member, _, _ = make_active_member(session, admin, monthly)
    return member


def mandate(**overrides: Any) -> MandateCreate:
    fields: dict[str, Any] = {
        "mandate_reference": "MNDT-2026-0001",
        "iban": " nl91 ABNA 0417 1643 00",
        "sign_date": dt.date(2026, 11, 1),
    }
    fields.update(overrides)
    return MandateCreate(**fields)


def mandates_count(session) -> int:
    return session.scalar(select(func.count()).select_from(SepaMandate)) or 0


def test_mandate_is_recorded_active_with_derived_bic(session, admin, member):
    recorded = create_mandate(
        session,
        admin,
        member.id,
        mandate(
            first_collection_date=dt.date(2026, 12, 1),
            expiry_date=dt.date(2031, 12, 1),
        ),
    )
    assert recorded.status == MandateStatus.ACTIVE
    assert (recorded.iban, recorded.bic) == (VALID_IBAN, "ABNANL2A")
    assert recorded.account_holder == member.full_name
    assert recorded.member_id == member.id
    assert recorded.sign_date == dt.date(2026, 11, 1)


def test_given_bic_and_holder_are_kept(session, admin, member):
    recorded = create_mandate(
        session,
        admin,
        member.id,
        mandate(
            iban=OTHER_IBAN,
            bic="cobadeffxxx",
            account_holder="J. de Vries-Bakker",
            mandate_reference="REF/2026:(1).+'x' ?",
        ),
    )
    assert (recorded.bic, recorded.account_holder) == ("COBADEFFXXX", "J. de Vries-Bakker")
    assert recorded.mandate_reference == "REF/2026:(1).+'x' ?"


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"mandate_reference": "M" * 36}, InvalidMandateReference, "at most 35"),
        ({"mandate_reference": "MNDT_0001"}, InvalidMandateReference, "may contain only"),
        ({"mandate_reference": "MNDT-ü"}, InvalidMandateReference, "may contain only"),
        ({"mandate_reference": "   "}, InvalidMandateReference, "required"),
        ({"iban": "NL91ABNA0417164301"}, InvalidIban, "IBAN"),
        ({"iban": "NL91"}, InvalidIban, "IBAN"),
        ({"bic": "NOTABIC"}, InvalidBic, "BIC"),
        ({"sign_date": TODAY + dt.timedelta(days=1)}, SignDateInFuture, "future"),
        (
            {"first_collection_date": dt.date(2026, 10, 1)},
            FirstCollectionBeforeSignDate,
            "before sign_date",
        ),
        ({"expiry_date": dt.date(2026, 11, 1)}, ExpiryBeforeMandateStart, "expiry_date"),
    ],
)
def test_bad_mandate_is_refused_and_writes_nothing(
    session, admin, member, overrides, error, message
):
    with pytest.raises(error, match=message):
        create_mandate(session, admin, member.id, mandate(**overrides))
    assert mandates_count(session) == 0


def test_reference_is_unique_and_member_must_exist(session, admin, member):
    create_mandate(session, admin, member.id, mandate())
    with pytest.raises(MandateReferenceTaken, match="already in use"):
        create_mandate(session, admin, member.id, mandate(iban=OTHER_IBAN))
    with pytest.raises(NotFound):
        create_mandate(session, admin, 9999, mandate(mandate_reference="OTHER"))
    assert mandates_count(session) == 1


def test_who_may_record_and_read(
    session, admin, member, membership_secretary, treasurer, member_user
):
    create_mandate(session, membership_secretary, member.id, mandate(mandate_reference="A-1"))
    create_mandate(
        session,
        treasurer,
        member.id,
        mandate(
            mandate_reference="A-2",
            sign_date=dt.date(2026, 11, 10),
        ),
    )
    with pytest.raises(PermissionDenied):
        create_mandate(session, member_user, member.id, mandate(mandate_reference="A-3"))
    assert [m.mandate_reference for m in list_mandates(session, admin, member.id)] == [
        "A-2",
        "A-1",
    ]
    with pytest.raises(LoginNotLinkedToMember):
        list_mandates(session, member_user, member.id)  # a login linked to no member yet
    member.user_id = member_user.id
    session.flush()
    assert len(list_mandates(session, member_user, member.id)) == 2
    with pytest.raises(NotFound):
        list_mandates(session, admin, 9999)


def test_bank_account_without_known_bank_keeps_bic_empty():
    # A valid Dutch IBAN whose bank code schwifty's registry does not list.
    iban, bic = bank_account("NL51ZZZZ0123456789", None)
    assert iban == "NL51ZZZZ0123456789"
    assert bic is None
