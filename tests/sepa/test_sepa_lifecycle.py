"""Mandate rules and lifecycle: references, transitions with reasons, a new account (amendment
on the next collection only), expiry after 36 months, and the member's history tags bumped."""

from __future__ import annotations

import datetime as dt

import pytest
from sepa_factories import DEBTOR_IBAN, Collectables, make_creditor
from sqlalchemy import func, select

from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.cache.tags import current_versions
from verenigingen.errors import InvalidIban, NotFound, PermissionDenied
from verenigingen.sepa.errors import (
    InvalidMandateReference,
    MandateReferenceTaken,
    MandateTransitionNotAllowed,
    ReasonRequired,
)
from verenigingen.sepa.mandates import (
    activate_mandate,
    cancel_mandate,
    change_mandate_account,
    expire_mandates,
    reinstate_mandate,
    suspend_mandate,
)
from verenigingen.sepa.models import MandateStatus, SepaMandate
from verenigingen.sepa.self_service import change_my_mandate_account

TODAY = dt.date(2026, 11, 16)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]
NEW_IBAN_SAME_BANK = "NL02ABNA0123456789"
NEW_IBAN_OTHER_BANK = "NL20INGB0001234567"


@pytest.fixture
def collectables(session, treasurer: User) -> Collectables:
    make_creditor(session, treasurer)
    return Collectables(session, treasurer)


def mandates(session) -> int:
    return session.scalar(select(func.count()).select_from(SepaMandate)) or 0


@pytest.mark.parametrize(
    "reference", ["/MNDT-1", "MNDT-1/", "MNDT//1", "MNDT_1", "x" * 36, "Mändat-1", "   "]
)
def test_bad_references_are_refused(collectables: Collectables, session, reference: str) -> None:
    member = collectables.member(mandate=False)
    with pytest.raises(InvalidMandateReference):
        collectables.mandate(member, mandate_reference=reference)
    assert mandates(session) == 0


def test_references_are_unique_ignoring_case_and_never_reused(
    collectables: Collectables, session, treasurer: User
) -> None:
    member = collectables.member(mandate=False)
    first = collectables.mandate(member, mandate_reference="MNDT-A1")
    with pytest.raises(MandateReferenceTaken):
        collectables.mandate(member, mandate_reference="mndt-a1")
    cancel_mandate(session, treasurer, first.id, "member left")
    with pytest.raises(MandateReferenceTaken):
        collectables.mandate(member, mandate_reference="MNDT-A1")
    assert mandates(session) == 1


def test_the_lifecycle_and_its_reasons(
    collectables: Collectables, session, treasurer: User
) -> None:
    member = collectables.member(mandate=False)
    mandate = collectables.mandate(member, draft=True)
    assert mandate.status == MandateStatus.DRAFT
    assert activate_mandate(session, treasurer, mandate.id).status == MandateStatus.ACTIVE
    suspended = suspend_mandate(session, treasurer, mandate.id, "debtor asked to pause")
    assert (suspended.status, suspended.status_reason) == ("Suspended", "debtor asked to pause")
    reinstated = reinstate_mandate(session, treasurer, mandate.id)
    assert (reinstated.status, reinstated.status_reason) == ("Active", None)
    cancelled = cancel_mandate(session, treasurer, mandate.id, "  opgezegd  ")
    assert (cancelled.status, cancelled.status_reason) == ("Cancelled", "opgezegd")


def test_transitions_that_do_not_fit_the_status_are_refused(
    collectables: Collectables, session, treasurer: User
) -> None:
    member = collectables.member(mandate=False)
    mandate = collectables.mandate(member)
    with pytest.raises(MandateTransitionNotAllowed):
        activate_mandate(session, treasurer, mandate.id)
    with pytest.raises(MandateTransitionNotAllowed):
        reinstate_mandate(session, treasurer, mandate.id)
    cancel_mandate(session, treasurer, mandate.id, "gone")
    for step in (
        lambda: suspend_mandate(session, treasurer, mandate.id, "x"),
        lambda: cancel_mandate(session, treasurer, mandate.id, "again"),
        lambda: change_mandate_account(session, treasurer, mandate.id, NEW_IBAN_SAME_BANK),
    ):
        with pytest.raises(MandateTransitionNotAllowed):
            step()
    session.expire_all()
    assert session.get(SepaMandate, mandate.id).status == MandateStatus.CANCELLED


def test_suspend_and_cancel_need_a_reason(collectables: Collectables, session, treasurer) -> None:
    mandate = collectables.mandate(collectables.member(mandate=False))
    for reason in ("", "  ", "x" * 141):
        with pytest.raises(ReasonRequired):
            suspend_mandate(session, treasurer, mandate.id, reason)
        with pytest.raises(ReasonRequired):
            cancel_mandate(session, treasurer, mandate.id, reason)
    assert mandate.status == MandateStatus.ACTIVE


def test_a_secretary_may_not_suspend(collectables, session, membership_secretary) -> None:
    mandate = collectables.mandate(collectables.member(mandate=False))
    with pytest.raises(PermissionDenied):
        suspend_mandate(session, membership_secretary, mandate.id, "no")


def test_a_new_account_keeps_the_mandate_and_remembers_the_old_one(
    collectables: Collectables, session, treasurer: User
) -> None:
    mandate = collectables.mandate(collectables.member(mandate=False))
    changed = change_mandate_account(session, treasurer, mandate.id, NEW_IBAN_OTHER_BANK)
    assert (changed.id, changed.status) == (mandate.id, MandateStatus.ACTIVE)
    assert (changed.iban, changed.bic) == (NEW_IBAN_OTHER_BANK, "INGBNL2A")
    assert changed.amended_from_iban == DEBTOR_IBAN
    # A second change before any collection still amends from the account the bank knows.
    again = change_mandate_account(session, treasurer, mandate.id, NEW_IBAN_SAME_BANK)
    assert again.amended_from_iban == DEBTOR_IBAN
    back = change_mandate_account(session, treasurer, mandate.id, DEBTOR_IBAN)
    assert back.amended_from_iban is None


def test_a_member_amends_only_its_own_mandate(
    collectables: Collectables, session, treasurer: User
) -> None:
    mine = collectables.member(mandate=False)
    theirs = collectables.member(mandate=False)
    my_mandate = collectables.mandate(mine)
    their_mandate = collectables.mandate(theirs)
    login = create_user(session, "lid@example.org", Role.MEMBER)
    mine.user_id = login.id
    session.flush()
    with pytest.raises(NotFound):
        change_my_mandate_account(session, login, their_mandate.id, NEW_IBAN_OTHER_BANK)
    assert session.get_one(SepaMandate, their_mandate.id).iban == DEBTOR_IBAN
    with pytest.raises(InvalidIban):
        change_my_mandate_account(session, login, my_mandate.id, "NL91ABNA0417164301")
    changed = change_my_mandate_account(session, login, my_mandate.id, NEW_IBAN_OTHER_BANK)
    assert (changed.iban, changed.bic, changed.amended_from_iban) == (
        NEW_IBAN_OTHER_BANK,
        "INGBNL2A",
        DEBTOR_IBAN,
    )
    cancel_mandate(session, treasurer, my_mandate.id, "member left")
    with pytest.raises(MandateTransitionNotAllowed):
        change_my_mandate_account(session, login, my_mandate.id, NEW_IBAN_SAME_BANK)


def test_every_mandate_change_bumps_the_member_history_tag(
    collectables: Collectables, session, treasurer: User
) -> None:
    member = collectables.member(mandate=False)
    tag = f"member:{member.id}"

    def version() -> int:
        return current_versions(session, [tag]).get(tag, 0)

    before = version()
    mandate = collectables.mandate(member, draft=True)
    steps = [
        lambda: activate_mandate(session, treasurer, mandate.id),
        lambda: suspend_mandate(session, treasurer, mandate.id, "pause"),
        lambda: reinstate_mandate(session, treasurer, mandate.id),
        lambda: change_mandate_account(session, treasurer, mandate.id, NEW_IBAN_SAME_BANK),
        lambda: cancel_mandate(session, treasurer, mandate.id, "left"),
    ]
    seen = [version()]
    assert seen[0] > before  # created
    for step in steps:
        step()
        seen.append(version())
    assert seen == sorted(set(seen)), f"every change bumps the tag once at least: {seen}"


def test_mandates_unused_for_36_months_expire(
    collectables: Collectables, session, treasurer: User
) -> None:
    old_unused = collectables.mandate(
        collectables.member(mandate=False), sign_date=dt.date(2023, 11, 16)
    )
    young_unused = collectables.mandate(
        collectables.member(mandate=False), sign_date=dt.date(2023, 11, 17)
    )
    used_recently = collectables.mandate(
        collectables.member(mandate=False), sign_date=dt.date(2020, 1, 1)
    )
    used_recently.last_collection_date = dt.date(2024, 1, 2)
    used_long_ago = collectables.mandate(
        collectables.member(mandate=False), sign_date=dt.date(2020, 1, 1)
    )
    used_long_ago.last_collection_date = dt.date(2023, 11, 1)
    cancelled = collectables.mandate(
        collectables.member(mandate=False), sign_date=dt.date(2020, 1, 1)
    )
    cancel_mandate(session, treasurer, cancelled.id, "left")
    session.flush()

    assert expire_mandates(session, treasurer, TODAY) == 2
    assert expire_mandates(session, treasurer, TODAY) == 0  # a second run changes nothing
    statuses = {m.id: m.status for m in session.scalars(select(SepaMandate))}
    assert statuses[old_unused.id] == MandateStatus.EXPIRED
    assert statuses[used_long_ago.id] == MandateStatus.EXPIRED
    assert statuses[young_unused.id] == MandateStatus.ACTIVE
    assert statuses[used_recently.id] == MandateStatus.ACTIVE
    assert statuses[cancelled.id] == MandateStatus.CANCELLED


def test_the_expiry_job_is_a_daily_task() -> None:
    from verenigingen.jobs.registry import get_task
    from verenigingen.sepa import tasks  # noqa: F401 (registers the task)

    assert get_task("sepa.expire_mandates").daily
