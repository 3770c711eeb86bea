"""The association as SEPA creditor: its account, identifier, pain version and collection rules.

One row (``sepa_creditor``), replaced as a whole by :func:`set_creditor`. Batches read it when
they are made and exported; new mandate references follow its pattern.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.iban import bank_account
from verenigingen.sepa.errors import (
    CreditorNotConfigured,
    InvalidCreditorIdentifier,
    InvalidReferencePattern,
)
from verenigingen.sepa.models import SepaCreditor, SepaMandate
from verenigingen.sepa.schemas import CreditorIn
from verenigingen.sepa.text import check_sepa_text, is_sepa_text

MAX_NAME_LENGTH = 70
PLACEHOLDERS = ("{member_id}", "{yyyymmdd}", "{nnn}")
_PLACEHOLDER = re.compile(r"\{[^}]*\}")
MAX_SERIAL = 999


def normalise_creditor_identifier(value: str) -> str:
    """The compact creditor identifier (``NL51ZZZ405365330000``), or 422 naming the rule broken:
    ISO 7064 mod 97-10 check digits over the national identifier and the country."""
    # python-stdnum is imported here, when an identifier is checked: not with the API.
    from stdnum.eu import at_02
    from stdnum.exceptions import ValidationError as StdnumValidationError

    try:
        return str(at_02.validate(value))
    except StdnumValidationError as error:
        raise InvalidCreditorIdentifier(
            f"not a valid SEPA creditor identifier: {value!r} ({error})"
        ) from None


def check_reference_pattern(pattern: str) -> str:
    """``pattern`` if it uses only the known placeholders, has ``{nnn}`` (two mandates of one
    member on one day differ), and its longest reference is a valid mandate reference."""
    text = pattern.strip()
    unknown = [p for p in _PLACEHOLDER.findall(text) if p not in PLACEHOLDERS]
    if unknown:
        raise InvalidReferencePattern(
            f"reference_pattern may use only {', '.join(PLACEHOLDERS)}; unknown: {unknown[0]}"
        )
    if "{nnn}" not in text:
        raise InvalidReferencePattern("reference_pattern must contain {nnn}")
    longest = render_reference(text, member_id=10**12 - 1, day=dt.date(2099, 12, 31), serial=999)
    if len(longest) > 35 or not is_sepa_text(longest) or longest != longest.strip("/"):
        raise InvalidReferencePattern(
            f"reference_pattern gives references such as {longest!r}: at most 35 characters of "
            "the SEPA set, without a leading or trailing /"
        )
    if "//" in longest:
        raise InvalidReferencePattern("reference_pattern gives references with //")
    return text


def render_reference(pattern: str, *, member_id: int, day: dt.date, serial: int) -> str:
    return (
        pattern.replace("{member_id}", str(member_id))
        .replace("{yyyymmdd}", day.strftime("%Y%m%d"))
        .replace("{nnn}", f"{serial:03d}")
    )


def current_creditor(session: Session) -> SepaCreditor | None:
    return session.scalar(select(SepaCreditor).order_by(SepaCreditor.id).limit(1))


def get_creditor(session: Session, user: User) -> SepaCreditor:
    """The creditor settings; 409 ``creditor_not_configured`` before they are set."""
    require(user, Permission.BANK_ACCOUNTS_READ)
    return required_creditor(session)


def required_creditor(session: Session) -> SepaCreditor:
    creditor = current_creditor(session)
    if creditor is None:
        raise CreditorNotConfigured(
            "no SEPA creditor settings yet: set them with `verenigingen sepa creditor set` "
            "or PUT /api/v1/sepa/creditor"
        )
    return creditor


def set_creditor(session: Session, user: User, data: CreditorIn) -> SepaCreditor:
    """Replace the creditor settings (Treasurer, Administrator): every field checked first, 422
    naming the rule (``invalid_iban``, ``invalid_creditor_identifier``, ``invalid_sepa_text``,
    ``invalid_reference_pattern``), nothing written."""
    require(user, Permission.BILLING_WRITE)
    require(user, Permission.BANK_ACCOUNTS_READ)
    name = check_sepa_text(data.name, field="name", max_length=MAX_NAME_LENGTH)
    iban, bic = bank_account(data.iban, (data.bic or "").strip() or None)
    identifier = normalise_creditor_identifier(data.creditor_identifier)
    pattern = check_reference_pattern(data.reference_pattern)
    creditor = current_creditor(session) or SepaCreditor()
    creditor.name = name
    creditor.iban = iban
    creditor.bic = bic
    creditor.creditor_identifier = identifier
    creditor.pain_version = data.pain_version.value
    creditor.lead_days = data.lead_days
    creditor.cutoff_time = data.cutoff_time
    creditor.first_collection_frst = data.first_collection_frst
    creditor.reference_pattern = pattern
    session.add(creditor)
    session.flush()
    return creditor


def next_mandate_reference(
    session: Session, creditor: SepaCreditor, member_id: int, day: dt.date
) -> str:
    """The first reference of the creditor's pattern for ``member_id`` on ``day`` that no
    mandate has (ignoring case), serials 001 to 999."""
    prefix = render_reference(creditor.reference_pattern, member_id=member_id, day=day, serial=0)
    candidates = [
        render_reference(creditor.reference_pattern, member_id=member_id, day=day, serial=n)
        for n in range(1, MAX_SERIAL + 1)
    ]
    taken = set(
        session.scalars(
            select(func.upper(SepaMandate.mandate_reference)).where(
                func.upper(SepaMandate.mandate_reference).in_([c.upper() for c in candidates])
            )
        )
    )
    for candidate in candidates:
        if candidate.upper() not in taken:
            return candidate
    raise InvalidReferencePattern(f"every reference like {prefix!r} is taken for this day")
