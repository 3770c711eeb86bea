"""What follows a reject or return: the mandate's fate and whether the invoice is collected again.

By the ISO reason code (EPC rulebook, the Dutch banks' practice):

============================  =========================================  ======================
codes                         the mandate                                the invoice
============================  =========================================  ======================
AC01 AC04 AC06 AG01 MD07      suspended: a new IBAN or mandate is needed  no retry on it
MD01 MD02                     Invalid (final)                            no retry on it
MS02 MD06                     unchanged                                  open, not retried
AM04 MS03                     unchanged                                  one retry, next batch
any other                     unchanged                                  retried after 3, 7 and
                                                                         14 days, then the
                                                                         treasurer is told
============================  =========================================  ======================

A retry is a new entry (with a new EndToEndId) in the first batch whose collection date is on or
after the retry's due date; until then, and for good when no retry follows, no batch takes the
invoice on that mandate (:func:`blocks_collection`). :func:`retry_queue` lists what waits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, exists, or_, select, update
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.models import DocStatus, Invoice
from verenigingen.members.models import Member
from verenigingen.sepa.models import (
    DirectDebitEntry,
    RetryStatus,
    SepaMandate,
    SepaReturn,
)

STOP_CODES = frozenset({"AC01", "AC04", "AC06", "AG01", "MD07"})
"""The account is wrong, closed or blocked, or the debtor died: stop, ask for a new one."""
INVALID_CODES = frozenset({"MD01", "MD02"})
"""No valid mandate (unknown, or its data wrong): the mandate is Invalid."""
NO_RETRY_CODES = frozenset({"MS02", "MD06"})
"""The debtor refused or asked for a refund: the invoice is open again, not collected again."""
ONE_RETRY_CODES = frozenset({"AM04", "MS03"})
"""Insufficient funds or no reason given: one more try."""
RETRY_AFTER_DAYS = (3, 7, 14)
"""Days after the return of the first, second and third retry; then the treasurer is told."""

REASON_TEXT = {
    "AC01": "incorrect account number",
    "AC04": "account closed",
    "AC06": "account blocked",
    "AG01": "direct debit forbidden on this account",
    "AM04": "insufficient funds",
    "MD01": "no valid mandate",
    "MD02": "mandate data missing or incorrect",
    "MD06": "refund requested by the debtor",
    "MD07": "debtor deceased",
    "MS02": "refused by the debtor",
    "MS03": "reason not specified",
}


class MandateAction:
    STOP = "stop"
    INVALIDATE = "invalidate"
    NONE = "none"


@dataclass(frozen=True)
class RetryDecision:
    mandate_action: str
    retry_status: RetryStatus
    retry_due_on: dt.date | None


def describe_reason(code: str) -> str:
    text = REASON_TEXT.get(code)
    return f"{code} ({text})" if text else code


def decide(reason_code: str, attempt: int, booked_on: dt.date) -> RetryDecision:
    """What follows the ``attempt``-th return (1: the first) of an invoice for ``reason_code``."""
    if reason_code in STOP_CODES:
        return RetryDecision(MandateAction.STOP, RetryStatus.MANDATE_NEEDED, None)
    if reason_code in INVALID_CODES:
        return RetryDecision(MandateAction.INVALIDATE, RetryStatus.MANDATE_NEEDED, None)
    if reason_code in NO_RETRY_CODES:
        return RetryDecision(MandateAction.NONE, RetryStatus.NOT_RETRIED, None)
    if reason_code in ONE_RETRY_CODES:
        if attempt == 1:
            return RetryDecision(MandateAction.NONE, RetryStatus.WAITING, booked_on)
        return RetryDecision(MandateAction.NONE, RetryStatus.EXHAUSTED, None)
    if attempt <= len(RETRY_AFTER_DAYS):
        due = booked_on + dt.timedelta(days=RETRY_AFTER_DAYS[attempt - 1])
        return RetryDecision(MandateAction.NONE, RetryStatus.WAITING, due)
    return RetryDecision(MandateAction.NONE, RetryStatus.EXHAUSTED, None)


def blocks_collection(
    invoice_id: SQLColumnExpression[int],
    mandate_id: SQLColumnExpression[int],
    collection_date: dt.date,
) -> ColumnElement[bool]:
    """True for an invoice that a return keeps out of a batch on ``collection_date``: its retry
    is not due yet, or none follows on this mandate (refused, exhausted)."""
    return exists().where(
        SepaReturn.invoice_id == invoice_id,
        or_(
            and_(
                SepaReturn.retry_status == RetryStatus.WAITING,
                SepaReturn.retry_due_on > collection_date,
            ),
            and_(
                SepaReturn.retry_status.in_([RetryStatus.NOT_RETRIED, RetryStatus.EXHAUSTED]),
                SepaReturn.mandate_id == mandate_id,
            ),
        ),
    )


def take_due_retries(session: Session, batch_id: int, collection_date: dt.date) -> int:
    """Mark the waiting retries of the invoices batch ``batch_id`` collects Included, each with
    its new entry; returns how many. Two statements."""
    due = session.execute(
        select(SepaReturn.id, DirectDebitEntry.id.label("entry_id"))
        .join(DirectDebitEntry, DirectDebitEntry.invoice_id == SepaReturn.invoice_id)
        .where(
            DirectDebitEntry.batch_id == batch_id,
            SepaReturn.retry_status == RetryStatus.WAITING,
            SepaReturn.retry_due_on <= collection_date,
        )
    ).all()
    if due:
        session.execute(
            update(SepaReturn),
            [
                {"id": row.id, "retry_status": RetryStatus.INCLUDED, "retry_entry_id": row.entry_id}
                for row in due
            ],
        )
    return len(due)


@dataclass(frozen=True)
class QueuedRetry:
    """A returned collection and what follows it, as the retry queue shows it."""

    return_id: int
    invoice_id: int
    invoice_number: str
    member_id: int
    member_name: str
    mandate_id: int
    mandate_reference: str
    kind: str
    reason_code: str
    amount: Decimal
    booked_on: dt.date
    attempt: int
    retry_status: str
    retry_due_on: dt.date | None


def retry_queue(
    session: Session, user: User, *, status: RetryStatus | None = RetryStatus.WAITING
) -> list[QueuedRetry]:
    """The returns with their retries, earliest due first (``status`` None: every return,
    newest first); waiting ones only while their invoice still owes. One statement."""
    require(user, Permission.BANK_ACCOUNTS_READ)
    statement = (
        select(
            SepaReturn.id.label("return_id"),
            SepaReturn.invoice_id,
            Invoice.number.label("invoice_number"),
            SepaReturn.member_id,
            Member.first_name,
            Member.last_name,
            SepaReturn.mandate_id,
            SepaMandate.mandate_reference,
            SepaReturn.kind,
            SepaReturn.reason_code,
            SepaReturn.amount,
            SepaReturn.booked_on,
            SepaReturn.attempt,
            SepaReturn.retry_status,
            SepaReturn.retry_due_on,
        )
        .join(Invoice, Invoice.id == SepaReturn.invoice_id)
        .join(Member, Member.id == SepaReturn.member_id)
        .join(SepaMandate, SepaMandate.id == SepaReturn.mandate_id)
    )
    if status is None:
        statement = statement.order_by(SepaReturn.id.desc())
    else:
        statement = statement.where(SepaReturn.retry_status == status).order_by(
            SepaReturn.retry_due_on, SepaReturn.id
        )
        if status == RetryStatus.WAITING:
            # An invoice paid another way (or cancelled) meanwhile is not collected again.
            statement = statement.where(
                Invoice.docstatus == DocStatus.SUBMITTED, Invoice.outstanding_amount > 0
            )
    return [
        QueuedRetry(
            return_id=row.return_id,
            invoice_id=row.invoice_id,
            invoice_number=row.invoice_number,
            member_id=row.member_id,
            member_name=f"{row.first_name} {row.last_name}",
            mandate_id=row.mandate_id,
            mandate_reference=row.mandate_reference,
            kind=row.kind,
            reason_code=row.reason_code,
            amount=row.amount,
            booked_on=row.booked_on,
            attempt=row.attempt,
            retry_status=row.retry_status,
            retry_due_on=row.retry_due_on,
        )
        for row in session.execute(statement)
    ]
