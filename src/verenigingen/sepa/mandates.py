"""A mandate's lifecycle: activate, suspend, reinstate, cancel, a new account, and expiry.

::

    Draft ──activate──▶ Active ──suspend──▶ Suspended ──reinstate──▶ Active
      └───────────────────┴──────cancel──────────┴──▶ Cancelled
      └───────────────────┴────invalidate────────┴──▶ Invalid (the bank: MD01, MD02)
    Active, Suspended ──(36 months without a collection: the daily job)──▶ Expired

Cancelled, Invalid and Expired are final: the reference is never used again. Every change records
``MandateChanged``, whose subscriber bumps the member's history tags in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from schwifty import IBAN
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from verenigingen import clock, events
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require, require_any
from verenigingen.errors import NotFound
from verenigingen.iban import bank_account
from verenigingen.sepa.errors import MandateTransitionNotAllowed, ReasonRequired
from verenigingen.sepa.events import MandateChanged, MandatesChanged
from verenigingen.sepa.models import MandateStatus, SepaMandate

EXPIRY_MONTHS = 36
"""EPC rulebook: a mandate without a collection presented for 36 months expires."""
MAX_REASON_LENGTH = 140


def _locked_mandate(session: Session, mandate_id: int) -> SepaMandate:
    mandate = session.scalar(
        select(SepaMandate).where(SepaMandate.id == mandate_id).with_for_update()
    )
    if mandate is None:
        raise NotFound(f"no mandate with id {mandate_id}")
    return mandate


def _change_status(
    session: Session,
    user: User | None,
    mandate: SepaMandate,
    allowed_from: tuple[MandateStatus, ...],
    status: MandateStatus,
    reason: str | None,
) -> SepaMandate:
    if mandate.status not in allowed_from:
        raise MandateTransitionNotAllowed(
            f"mandate {mandate.mandate_reference} is {mandate.status}; it cannot become {status}"
        )
    mandate.status = status
    mandate.status_reason = reason
    session.flush()
    events.record(session, MandateChanged(user, mandate.id, mandate.member_id, mandate.status))
    return mandate


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReasonRequired("a reason is required")
    if len(text) > MAX_REASON_LENGTH:
        raise ReasonRequired(f"the reason may be at most {MAX_REASON_LENGTH} characters")
    return text


def activate_mandate(session: Session, user: User, mandate_id: int) -> SepaMandate:
    """Draft → Active; 409 ``mandate_transition_not_allowed`` from any other status."""
    require_any(user, Permission.BILLING_WRITE, Permission.MEMBERS_WRITE)
    mandate = _locked_mandate(session, mandate_id)
    return _change_status(
        session, user, mandate, (MandateStatus.DRAFT,), MandateStatus.ACTIVE, None
    )


def suspend_mandate(session: Session, user: User, mandate_id: int, reason: str) -> SepaMandate:
    """Active → Suspended with a reason: no batch collects on it until it is reinstated."""
    require(user, Permission.BILLING_WRITE)
    text = _reason(reason)
    mandate = _locked_mandate(session, mandate_id)
    return _change_status(
        session, user, mandate, (MandateStatus.ACTIVE,), MandateStatus.SUSPENDED, text
    )


def invalidate_mandate(session: Session, user: User, mandate_id: int, reason: str) -> SepaMandate:
    """Draft, Active or Suspended → Invalid: the debtor's bank knows no valid mandate (MD01,
    MD02). Final, like Cancelled."""
    require(user, Permission.BILLING_WRITE)
    text = _reason(reason)
    mandate = _locked_mandate(session, mandate_id)
    open_statuses = (MandateStatus.DRAFT, MandateStatus.ACTIVE, MandateStatus.SUSPENDED)
    return _change_status(session, user, mandate, open_statuses, MandateStatus.INVALID, text)


OPEN_STATUSES = (MandateStatus.DRAFT, MandateStatus.ACTIVE, MandateStatus.SUSPENDED)
BANK_TRANSITIONS = {
    MandateStatus.SUSPENDED: (MandateStatus.ACTIVE,),
    MandateStatus.INVALID: OPEN_STATUSES,
}
"""What the bank's reason codes may do to a mandate, and from which statuses: the rules of
:func:`suspend_mandate` and :func:`invalidate_mandate`."""


@dataclass(frozen=True)
class BankStatusChange:
    """A mandate to suspend or invalidate because of a reject or return, and why."""

    mandate_id: int
    status: MandateStatus
    reason: str


def lock_mandates(session: Session, mandate_ids: Sequence[int]) -> dict[int, SepaMandate]:
    """The mandates ``mandate_ids`` by id, locked in id order (one statement)."""
    ids = sorted(set(mandate_ids))
    if not ids:
        return {}
    return {
        mandate.id: mandate
        for mandate in session.scalars(
            select(SepaMandate)
            .where(SepaMandate.id.in_(ids))
            .order_by(SepaMandate.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }


def change_statuses_for_bank(
    session: Session,
    user: User,
    mandates: dict[int, SepaMandate],
    changes: Sequence[BankStatusChange],
) -> list[bool]:
    """Suspend or invalidate many locked ``mandates`` at once; for each change, whether it
    applied.

    Each change applies only from the statuses :data:`BANK_TRANSITIONS` allows, judged after the
    changes before it (a second stop code on a mandate just suspended does nothing), so the
    outcome is that of calling :func:`suspend_mandate` or :func:`invalidate_mandate` for each in
    turn; a change that does not apply is skipped, not refused (the bank reported a fact). One
    UPDATE executemany and one ``MandatesChanged`` whatever their number.
    """
    require(user, Permission.BILLING_WRITE)
    final: dict[int, BankStatusChange] = {}
    changed: list[SepaMandate] = []
    applied: list[bool] = []
    for change in changes:
        mandate = mandates[change.mandate_id]
        current = final[mandate.id].status if mandate.id in final else mandate.status
        applied.append(current in BANK_TRANSITIONS[change.status])
        if not applied[-1]:
            continue
        if mandate.id not in final:
            changed.append(mandate)
        final[mandate.id] = BankStatusChange(mandate.id, change.status, _reason(change.reason))
    if not final:
        return applied
    session.execute(
        update(SepaMandate),
        [
            {"id": mandate_id, "status": change.status, "status_reason": change.reason}
            for mandate_id, change in sorted(final.items())
        ],
    )
    for mandate in changed:
        # The rows were written above; the session's copies follow without a second UPDATE.
        set_committed_value(mandate, "status", final[mandate.id].status)
        set_committed_value(mandate, "status_reason", final[mandate.id].reason)
        session.expire(mandate, ["modified_at"])
    events.record(
        session,
        MandatesChanged(
            user,
            tuple(mandate.id for mandate in changed),
            frozenset(mandate.member_id for mandate in changed),
        ),
    )
    return applied


def reinstate_mandate(session: Session, user: User, mandate_id: int) -> SepaMandate:
    """Suspended → Active again."""
    require(user, Permission.BILLING_WRITE)
    mandate = _locked_mandate(session, mandate_id)
    return _change_status(
        session, user, mandate, (MandateStatus.SUSPENDED,), MandateStatus.ACTIVE, None
    )


def cancel_mandate(session: Session, user: User, mandate_id: int, reason: str) -> SepaMandate:
    """Draft, Active or Suspended → Cancelled with a reason; final (the reference stays taken)."""
    require_any(user, Permission.BILLING_WRITE, Permission.MEMBERS_WRITE)
    text = _reason(reason)
    mandate = _locked_mandate(session, mandate_id)
    open_statuses = (MandateStatus.DRAFT, MandateStatus.ACTIVE, MandateStatus.SUSPENDED)
    return _change_status(session, user, mandate, open_statuses, MandateStatus.CANCELLED, text)


def revoke_own_mandate(
    session: Session, user: User, member_id: int, mandate_id: int, reason: str | None
) -> SepaMandate:
    """The member withdraws one of its own mandates: Draft, Active or Suspended → Cancelled.

    The caller established that ``user`` is member ``member_id`` (``sepa.self_service``);
    another member's mandate is 404, as if it did not exist.
    """
    text = _reason(reason or "Revoked by the member")
    mandate = session.scalar(
        select(SepaMandate)
        .where(SepaMandate.id == mandate_id, SepaMandate.member_id == member_id)
        .with_for_update()
    )
    if mandate is None:
        raise NotFound(f"you have no mandate with id {mandate_id}")
    open_statuses = (MandateStatus.DRAFT, MandateStatus.ACTIVE, MandateStatus.SUSPENDED)
    return _change_status(session, user, mandate, open_statuses, MandateStatus.CANCELLED, text)


def change_mandate_account(
    session: Session, user: User, mandate_id: int, iban: str, bic: str | None = None
) -> SepaMandate:
    """The debtor's new account on the same mandate (Active or Suspended).

    The mandate keeps its reference; the account it was last collected from is kept in
    ``amended_from_iban`` so that the next collection carries the amendment (``AmdmntInd``
    true, with the original account or ``SMNDA``), and only that one.
    """
    require(user, Permission.BILLING_WRITE)
    new_iban, new_bic = bank_account(iban, (bic or "").strip() or None)
    mandate = _locked_mandate(session, mandate_id)
    return _amend_account(session, user, mandate, new_iban, new_bic)


def change_own_mandate_account(
    session: Session, user: User, member_id: int, mandate_id: int, iban: str
) -> SepaMandate:
    """The member moves one of its own mandates to another account: the same amendment as
    :func:`change_mandate_account` (the BIC derived from the IBAN).

    The caller established that ``user`` is member ``member_id`` (``sepa.self_service``);
    another member's mandate is 404, as if it did not exist.
    """
    new_iban, new_bic = bank_account(iban, None)
    mandate = session.scalar(
        select(SepaMandate)
        .where(SepaMandate.id == mandate_id, SepaMandate.member_id == member_id)
        .with_for_update()
    )
    if mandate is None:
        raise NotFound(f"you have no mandate with id {mandate_id}")
    return _amend_account(session, user, mandate, new_iban, new_bic)


def _amend_account(
    session: Session, user: User, mandate: SepaMandate, new_iban: str, new_bic: str | None
) -> SepaMandate:
    if mandate.status not in (MandateStatus.ACTIVE, MandateStatus.SUSPENDED):
        raise MandateTransitionNotAllowed(
            f"mandate {mandate.mandate_reference} is {mandate.status}; its account cannot change"
        )
    if new_iban == mandate.iban:
        if new_bic is not None:
            mandate.bic = new_bic
        session.flush()
        return mandate
    if mandate.amended_from_iban is None:
        mandate.amended_from_iban = mandate.iban
    elif mandate.amended_from_iban == new_iban:
        mandate.amended_from_iban = None  # back to the account the bank knows: no amendment
    mandate.iban = new_iban
    mandate.bic = new_bic
    session.flush()
    events.record(session, MandateChanged(user, mandate.id, mandate.member_id, mandate.status))
    return mandate


def same_bank(first_iban: str, second_iban: str) -> bool:
    """True when both accounts are held at one bank (country and bank code of the IBAN)."""
    first, second = IBAN(first_iban), IBAN(second_iban)
    return (first.country_code, first.bank_code) == (second.country_code, second.bank_code)


def expiry_threshold(today: dt.date) -> dt.date:
    """A mandate last presented (or, never used, signed) on or before this day has expired."""
    return clock.add_months(today, -EXPIRY_MONTHS)


def expire_mandates(session: Session, user: User | None, today: dt.date) -> int:
    """Turn Expired every Active or Suspended mandate unused for 36 months (counted from its
    last presented collection, or its signature when never used) or past its own expiry date;
    the number expired. Idempotent: a second run the same day finds none."""
    threshold = expiry_threshold(today)
    unused = or_(
        SepaMandate.last_collection_date <= threshold,
        and_(SepaMandate.last_collection_date.is_(None), SepaMandate.sign_date <= threshold),
        SepaMandate.expiry_date <= today,
    )
    mandates = list(
        session.scalars(
            select(SepaMandate)
            .where(SepaMandate.status.in_([MandateStatus.ACTIVE, MandateStatus.SUSPENDED]), unused)
            .order_by(SepaMandate.id)
            .with_for_update()
        )
    )
    for mandate in mandates:
        mandate.status = MandateStatus.EXPIRED
        mandate.status_reason = "no collection for 36 months"
        if mandate.expiry_date is not None and mandate.expiry_date <= today:
            mandate.status_reason = f"expiry date {mandate.expiry_date} passed"
    session.flush()
    for mandate in mandates:
        events.record(session, MandateChanged(user, mandate.id, mandate.member_id, mandate.status))
    return len(mandates)
