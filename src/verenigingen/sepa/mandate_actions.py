"""What a bank's return or reject does to the mandate behind it (``sepa.returns``): the reason
codes that stop a mandate suspend it and ask the member for a new IBAN or mandate; those that
say the mandate is invalid mark it so. All at once for a chunk of returns: the mandates locked
in one statement, changed in one (``mandates.change_statuses_for_bank``), and their members
told in one more pair (a read, an insert)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.sepa.mandates import BankStatusChange, change_statuses_for_bank, lock_mandates
from verenigingen.sepa.models import DirectDebitEntry, MandateStatus
from verenigingen.sepa.notices import notify_members
from verenigingen.sepa.retries import MandateAction, describe_reason


def act_on_mandates(
    session: Session,
    user: User,
    returned: Sequence[tuple[DirectDebitEntry, str, str]],
) -> tuple[int, int]:
    """Act on the mandates of ``returned`` (each collection's entry, its reason code and what
    the code asks of the mandate, a ``MandateAction``); how many mandates were stopped and how
    many invalidated."""
    acting = [item for item in returned if item[2] != MandateAction.NONE]
    if not acting:
        return 0, 0
    mandates = lock_mandates(session, [entry.mandate_id for entry, _, _ in acting])
    changes = []
    for entry, reason_code, action in acting:
        reason = describe_reason(reason_code)
        if action == MandateAction.STOP:
            change = BankStatusChange(
                entry.mandate_id,
                MandateStatus.SUSPENDED,
                f"{reason}: a new IBAN or mandate is needed",
            )
        else:
            change = BankStatusChange(
                entry.mandate_id, MandateStatus.INVALID, f"{reason} (reported by the bank)"
            )
        changes.append(change)
    applied = change_statuses_for_bank(session, user, mandates, changes)
    stopped = invalidated = 0
    notices: list[tuple[int, str, str]] = []
    for (entry, reason_code, action), took_effect in zip(acting, applied, strict=True):
        if not took_effect:
            continue
        mandate = mandates[entry.mandate_id]
        reason = describe_reason(reason_code)
        if action == MandateAction.STOP:
            stopped += 1
            notices.append(
                (
                    entry.member_id,
                    "Direct debit stopped: new IBAN or mandate needed",
                    f"The collection {entry.remittance} of {entry.amount} on mandate "
                    f"{mandate.mandate_reference} was refused by your bank: {reason}. Please give "
                    "us a new IBAN or sign a new mandate.",
                )
            )
        else:
            invalidated += 1
            notices.append(
                (
                    entry.member_id,
                    "Direct debit mandate invalid: please sign a new one",
                    f"Your bank does not accept mandate {mandate.mandate_reference}: {reason}. "
                    "Please sign a new mandate.",
                )
            )
    notify_members(session, notices)
    return stopped, invalidated
