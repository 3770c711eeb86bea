"""Creditor settings: every field checked (creditor id check digits, IBAN, SEPA text, pattern)."""

from __future__ import annotations

import datetime as dt

import pytest
from sepa_factories import VALID_CREDITOR_ID, Collectables, creditor_in, make_creditor
from sqlalchemy import func, select

from verenigingen.auth.models import User
from verenigingen.errors import InvalidIban, PermissionDenied
from verenigingen.sepa.creditor import get_creditor, set_creditor
from verenigingen.sepa.errors import (
    CreditorNotConfigured,
    InvalidCreditorIdentifier,
    InvalidReferencePattern,
    InvalidSepaText,
)
from verenigingen.sepa.models import MandateStatus, SepaCreditor
from verenigingen.sepa.schemas import MandateCreate
from verenigingen.sepa.service import create_mandate

TODAY = dt.date(2026, 11, 16)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def creditors(session) -> int:
    return session.scalar(select(func.count()).select_from(SepaCreditor)) or 0


def test_settings_are_stored_with_their_defaults(session, treasurer: User) -> None:
    creditor = make_creditor(session, treasurer, creditor_identifier="nl51 zzz 405365330000")
    assert creditor.creditor_identifier == VALID_CREDITOR_ID
    assert creditor.pain_version == "pain.008.001.08"
    assert creditor.lead_days == 1
    assert creditor.first_collection_frst is False
    assert creditor.cutoff_time is None
    assert creditor.reference_pattern == "M-{member_id}-{yyyymmdd}-{nnn}"
    assert creditor.bic == "RABONL2U"  # derived from the IBAN
    assert get_creditor(session, treasurer).id == creditor.id


def test_setting_again_replaces_the_one_row(session, treasurer: User) -> None:
    make_creditor(session, treasurer)
    make_creditor(
        session, treasurer, pain_version="pain.008.001.02", lead_days=2, cutoff_time="14:30"
    )
    assert creditors(session) == 1
    creditor = get_creditor(session, treasurer)
    assert (creditor.pain_version, creditor.lead_days) == ("pain.008.001.02", 2)
    assert creditor.cutoff_time == dt.time(14, 30)


def test_wrong_check_digits_are_refused(session, treasurer: User) -> None:
    with pytest.raises(InvalidCreditorIdentifier, match="NL52ZZZ405365330000"):
        make_creditor(session, treasurer, creditor_identifier="NL52ZZZ405365330000")
    assert creditors(session) == 0


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"iban": "NL91ABNA0417164301"}, InvalidIban),
        ({"name": "Vereniging Één & Co"}, InvalidSepaText),
        ({"name": "x" * 71}, InvalidSepaText),
        ({"reference_pattern": "M-{member_id}"}, InvalidReferencePattern),
        ({"reference_pattern": "M-{lid}-{nnn}"}, InvalidReferencePattern),
        ({"reference_pattern": "/M-{member_id}-{nnn}"}, InvalidReferencePattern),
        ({"reference_pattern": "M//{member_id}-{nnn}"}, InvalidReferencePattern),
        (
            {"reference_pattern": "MANDATE-{member_id}-{yyyymmdd}-{yyyymmdd}-{nnn}"},
            InvalidReferencePattern,
        ),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(
    session, treasurer: User, overrides: dict[str, str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        make_creditor(session, treasurer, **overrides)
    assert creditors(session) == 0


def test_out_of_range_lead_days_and_versions_are_refused_by_the_schema() -> None:
    from pydantic import ValidationError

    for overrides in ({"lead_days": 0}, {"lead_days": 16}, {"pain_version": "pain.008.001.09"}):
        with pytest.raises(ValidationError):
            creditor_in(**overrides)


def test_before_any_settings_the_creditor_is_not_configured(session, treasurer: User) -> None:
    with pytest.raises(CreditorNotConfigured):
        get_creditor(session, treasurer)


def test_only_treasurer_and_administrator_see_or_change_it(
    session, treasurer: User, membership_secretary: User, member_user: User
) -> None:
    make_creditor(session, treasurer)
    for user in (membership_secretary, member_user):
        with pytest.raises(PermissionDenied):
            get_creditor(session, user)
        with pytest.raises(PermissionDenied):
            set_creditor(session, user, creditor_in(name="Anders"))
    assert get_creditor(session, treasurer).name == "Vereniging De Eendracht"


def test_a_mandate_without_reference_follows_the_pattern(session, treasurer: User) -> None:
    make_creditor(session, treasurer)
    collectables = Collectables(session, treasurer)
    member = collectables.member(mandate=False)
    data = MandateCreate(iban="NL91ABNA0417164300", sign_date=TODAY)
    first = create_mandate(session, treasurer, member.id, data)
    second = create_mandate(session, treasurer, member.id, data)
    assert first.mandate_reference == f"M-{member.id}-20261116-001"
    assert second.mandate_reference == f"M-{member.id}-20261116-002"
    assert first.status == MandateStatus.ACTIVE


def test_a_mandate_without_reference_needs_the_creditor(session, treasurer: User) -> None:
    member = Collectables(session, treasurer).member(mandate=False)
    with pytest.raises(CreditorNotConfigured):
        create_mandate(
            session, treasurer, member.id, MandateCreate(iban="NL91ABNA0417164300", sign_date=TODAY)
        )
