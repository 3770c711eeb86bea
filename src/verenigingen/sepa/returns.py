"""Rejects and returns of collections: from a status report file, or from a bank statement line.

A reject or return of an entry (found by its EndToEndId; the message id and payment-information
id the bank names must be the entry's):

- reverses what the collection settled: its payment is cancelled through billing, so the
  invoice owes again (an entry rejected before its batch was processed never had a payment);
- records the reason code on the entry (Rejected or Returned) and on its mandate usage (Failed
  or Returned), so that a mandate whose first collection failed starts with FRST again;
- acts on the mandate and schedules a retry or none (:mod:`verenigingen.sepa.retries`): a
  stopped mandate's member is asked for a new IBAN or mandate, and the treasurer is told when
  the retries are used up (notifications).

:func:`import_status_report` reads a pain.002 or camt.054 file (``sepa.status_reports``) in one
transaction: the same file again (its SHA-256) changes nothing and says so; any transaction that
matches none of our collections, or any malformed element, refuses the whole file.
:func:`record_return` is the same for one return line of a bank statement (camt.053, MT940).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.errors import PaymentAlreadyCancelled
from verenigingen.billing.service.payments import cancel_payment
from verenigingen.cache.tags import bump_tags
from verenigingen.jobs.models import Indicator, Notification
from verenigingen.members.models import Member
from verenigingen.sepa.errors import (
    ReturnAmountMismatch,
    ReturnOfUncollectedEntry,
    UnknownCollection,
)
from verenigingen.sepa.mandates import invalidate_mandate, suspend_mandate
from verenigingen.sepa.models import (
    DirectDebitBatch,
    DirectDebitEntry,
    EntryStatus,
    MandateStatus,
    RetryStatus,
    ReturnKind,
    SepaMandate,
    SepaMandateUsage,
    SepaReturn,
    StatusReport,
    UsageStatus,
)
from verenigingen.sepa.retries import MandateAction, RetryDecision, decide, describe_reason
from verenigingen.sepa.status_reports import (
    ReportedTransaction,
    ReportFormat,
    parse_status_report,
)

ALREADY_RECORDED = (EntryStatus.REJECTED, EntryStatus.RETURNED)


@dataclass
class ReturnTally:
    """What an import did, by kind of consequence."""

    rejected: int = 0
    returned: int = 0
    already_recorded: int = 0
    invoices_reopened: int = 0
    mandates_stopped: int = 0
    mandates_invalidated: int = 0
    retries_scheduled: int = 0
    retries_exhausted: int = 0
    reason_codes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class ImportOutcome:
    report_id: int
    file_format: str
    already_imported: bool
    """The same file was imported before: nothing changed now."""
    tally: ReturnTally


@dataclass(frozen=True)
class RecordedReturn:
    """One reject or return recorded (or found recorded before)."""

    entry_id: int
    invoice_id: int
    reason_code: str
    already_recorded: bool
    retry_status: str | None
    retry_due_on: dt.date | None


@dataclass(frozen=True)
class _Match:
    entry: DirectDebitEntry
    message_id: str
    reason_code: str
    booked_on: dt.date


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def import_status_report(
    session: Session, user: User, data: bytes, *, today: dt.date | None = None
) -> ImportOutcome:
    """Import a pain.002 or camt.054 file: every reject or return it reports, or nothing.

    422 ``status_report_invalid`` (the element and line), ``unknown_collection``,
    ``return_amount_mismatch``; 409 ``return_of_uncollected_entry``.
    """
    require(user, Permission.BILLING_WRITE)
    digest = file_hash(data)
    seen = session.scalar(select(StatusReport).where(StatusReport.file_hash == digest))
    if seen is not None:
        return ImportOutcome(seen.id, seen.file_format, True, ReturnTally())
    parsed = parse_status_report(data)
    today = today or clock.today()
    kind = ReturnKind.REJECT if parsed.file_format == ReportFormat.PAIN_002 else ReturnKind.RETURN
    matches = _matches(session, parsed.transactions, today)
    report = StatusReport(
        file_hash=digest,
        file_format=parsed.file_format,
        message_id=(parsed.message_id or "")[:35] or None,
        original_message_id=(parsed.original_message_id or "")[:35] or None,
        line_count=len(matches),
        imported_by=user.email,
        imported_at=clock.now(),
    )
    session.add(report)
    session.flush()
    tally = ReturnTally()
    _apply(session, user, matches, kind, report.id, tally)
    return ImportOutcome(report.id, report.file_format, False, tally)


def record_return(
    session: Session,
    user: User,
    *,
    end_to_end_id: str,
    reason_code: str,
    amount: Decimal,
    booked_on: dt.date,
) -> RecordedReturn | None:
    """Record the return of our collection ``end_to_end_id`` found on a bank statement.

    None when no collection of ours has that EndToEndId (the line is someone else's). A return
    recorded before (from a camt.054, or the same statement line) is reported as such and
    changes nothing. ``amount`` may be signed (a debit line): its size must be the entry's.
    """
    require(user, Permission.BILLING_WRITE)
    entry = session.scalar(
        select(DirectDebitEntry).where(DirectDebitEntry.end_to_end_id == end_to_end_id)
    )
    if entry is None:
        return None
    code = reason_code.strip().upper()[:4]
    if abs(amount) != entry.amount:
        raise ReturnAmountMismatch(
            f"the return of {end_to_end_id} is {abs(amount)}; the collection was {entry.amount}"
        )
    existing = session.scalar(select(SepaReturn).where(SepaReturn.entry_id == entry.id))
    if existing is not None or entry.status in ALREADY_RECORDED:
        return RecordedReturn(
            entry.id,
            entry.invoice_id,
            existing.reason_code if existing else (entry.return_reason or code),
            True,
            existing.retry_status if existing else None,
            existing.retry_due_on if existing else None,
        )
    _check_collected(entry, end_to_end_id)
    message_id = session.scalar(
        select(DirectDebitBatch.message_id).where(DirectDebitBatch.id == entry.batch_id)
    )
    assert message_id is not None
    tally = ReturnTally()
    recorded = _apply(
        session, user, [_Match(entry, message_id, code, booked_on)], ReturnKind.RETURN, None, tally
    )
    return recorded[0]


def _check_collected(entry: DirectDebitEntry, where: str) -> None:
    if entry.status == EntryStatus.CANCELLED:
        raise ReturnOfUncollectedEntry(
            f"{where}: entry {entry.end_to_end_id} belongs to a cancelled batch; "
            "it was never sent to the bank"
        )


def _matches(
    session: Session, reported: Sequence[ReportedTransaction], today: dt.date
) -> list[_Match]:
    """The entries each reported transaction names, checked; an error names the first that
    matches nothing of ours. Two statements, plus one per rejected block or message."""
    ids = sorted({t.end_to_end_id for t in reported if t.end_to_end_id is not None})
    by_id: dict[str, tuple[DirectDebitEntry, str]] = {}
    if ids:
        for entry, message_id in session.execute(
            select(DirectDebitEntry, DirectDebitBatch.message_id)
            .join(DirectDebitBatch, DirectDebitBatch.id == DirectDebitEntry.batch_id)
            .where(DirectDebitEntry.end_to_end_id.in_(ids))
        ):
            by_id[entry.end_to_end_id] = (entry, message_id)
    matches: list[_Match] = []
    taken: set[int] = set()
    for transaction in reported:
        for entry, message_id in _entries_of(session, transaction, by_id):
            _check(transaction, entry, message_id)
            if entry.id in taken:
                continue  # named twice in one file: once is enough
            taken.add(entry.id)
            booked_on = transaction.booked_on or today
            matches.append(_Match(entry, message_id, transaction.reason_code, booked_on))
    return matches


def _entries_of(
    session: Session,
    transaction: ReportedTransaction,
    by_id: dict[str, tuple[DirectDebitEntry, str]],
) -> list[tuple[DirectDebitEntry, str]]:
    where = f"line {transaction.line}"
    if transaction.end_to_end_id is not None:
        found = by_id.get(transaction.end_to_end_id)
        if found is None:
            raise UnknownCollection(
                f"{where}: EndToEndId {transaction.end_to_end_id!r} matches no collection "
                "of ours; nothing was imported"
            )
        return [found]
    batch = session.scalar(
        select(DirectDebitBatch).where(
            DirectDebitBatch.message_id == transaction.original_message_id
        )
    )
    if batch is None:
        raise UnknownCollection(
            f"{where}: OrgnlMsgId {transaction.original_message_id!r} matches no batch of ours; "
            "nothing was imported"
        )
    statement = select(DirectDebitEntry).where(DirectDebitEntry.batch_id == batch.id)
    if transaction.payment_information_id is not None:
        sequence_type = transaction.payment_information_id.removeprefix(f"{batch.message_id}-")
        statement = statement.where(DirectDebitEntry.sequence_type == sequence_type)
    entries = list(session.scalars(statement.order_by(DirectDebitEntry.id)))
    if not entries:
        raise UnknownCollection(
            f"{where}: OrgnlPmtInfId {transaction.payment_information_id!r} matches no "
            f"payment information of batch {batch.message_id}; nothing was imported"
        )
    return [(entry, batch.message_id) for entry in entries]


def _check(transaction: ReportedTransaction, entry: DirectDebitEntry, message_id: str) -> None:
    where = f"line {transaction.line}"
    named = entry.end_to_end_id
    if transaction.original_message_id not in (None, message_id):
        raise UnknownCollection(
            f"{where}: EndToEndId {named!r} was sent in message {message_id}, not in "
            f"{transaction.original_message_id!r}; nothing was imported"
        )
    block_id = f"{message_id}-{entry.sequence_type}"
    if transaction.payment_information_id not in (None, block_id):
        raise UnknownCollection(
            f"{where}: EndToEndId {named!r} was sent in payment information {block_id}, not in "
            f"{transaction.payment_information_id!r}; nothing was imported"
        )
    if transaction.amount is not None and transaction.amount != entry.amount:
        raise ReturnAmountMismatch(
            f"{where}: the amount of {named!r} is {transaction.amount}; the collection was "
            f"{entry.amount}"
        )
    _check_collected(entry, where)


def _apply(
    session: Session,
    user: User,
    matches: Sequence[_Match],
    kind: ReturnKind,
    report_id: int | None,
    tally: ReturnTally,
) -> list[RecordedReturn]:
    invoice_ids = sorted({match.entry.invoice_id for match in matches})
    earlier: Counter[int] = Counter()
    if invoice_ids:
        for row in session.execute(
            select(SepaReturn.invoice_id, func.count(SepaReturn.id).label("returns"))
            .where(SepaReturn.invoice_id.in_(invoice_ids))
            .group_by(SepaReturn.invoice_id)
        ):
            earlier[row.invoice_id] = row.returns
    recorded: list[RecordedReturn] = []
    members: set[int] = set()
    exhausted: list[str] = []
    for match in matches:
        entry = match.entry
        if entry.status in ALREADY_RECORDED:
            tally.already_recorded += 1
            recorded.append(
                RecordedReturn(entry.id, entry.invoice_id, match.reason_code, True, None, None)
            )
            continue
        earlier[entry.invoice_id] += 1
        decision = decide(match.reason_code, earlier[entry.invoice_id], match.booked_on)
        _undo_collection(session, user, match, kind, tally)
        _act_on_mandate(session, user, match, decision, tally)
        session.add(
            SepaReturn(
                entry_id=entry.id,
                invoice_id=entry.invoice_id,
                member_id=entry.member_id,
                mandate_id=entry.mandate_id,
                kind=kind,
                reason_code=match.reason_code,
                amount=entry.amount,
                booked_on=match.booked_on,
                status_report_id=report_id,
                attempt=earlier[entry.invoice_id],
                retry_status=decision.retry_status,
                retry_due_on=decision.retry_due_on,
            )
        )
        if decision.retry_status == RetryStatus.WAITING:
            tally.retries_scheduled += 1
        elif decision.retry_status == RetryStatus.EXHAUSTED:
            tally.retries_exhausted += 1
            exhausted.append(
                f"{entry.remittance} ({entry.end_to_end_id}, {entry.amount}): "
                f"{describe_reason(match.reason_code)}"
            )
        tally.reason_codes[match.reason_code] += 1
        members.add(entry.member_id)
        recorded.append(
            RecordedReturn(
                entry.id,
                entry.invoice_id,
                match.reason_code,
                False,
                decision.retry_status,
                decision.retry_due_on,
            )
        )
    if exhausted:
        _notify_treasurers(session, exhausted)
    if members:
        # The members' histories show their invoices, usages and mandates.
        bump_tags(session, sorted(f"member:{member_id}" for member_id in members))
    session.flush()
    return recorded


def _undo_collection(
    session: Session, user: User, match: _Match, kind: ReturnKind, tally: ReturnTally
) -> None:
    entry = match.entry
    collected = entry.status == EntryStatus.COLLECTED
    if collected and entry.payment_id is not None:
        try:
            cancel_payment(session, user, entry.payment_id)
            tally.invoices_reopened += 1
        except PaymentAlreadyCancelled:
            pass  # cancelled by hand meanwhile: the invoice owes already
    entry.status = EntryStatus.RETURNED if collected else EntryStatus.REJECTED
    entry.return_reason = match.reason_code
    entry.returned_on = match.booked_on
    if kind == ReturnKind.REJECT:
        tally.rejected += 1
    else:
        tally.returned += 1
    session.execute(
        update(SepaMandateUsage)
        .where(
            SepaMandateUsage.batch_reference == match.message_id,
            SepaMandateUsage.mandate_id == entry.mandate_id,
            SepaMandateUsage.invoice_id == entry.invoice_id,
        )
        .values(
            status=UsageStatus.RETURNED if collected else UsageStatus.FAILED,
            return_reason=match.reason_code,
        )
        .execution_options(synchronize_session=False)
    )


def _act_on_mandate(
    session: Session, user: User, match: _Match, decision: RetryDecision, tally: ReturnTally
) -> None:
    action = decision.mandate_action
    if action == MandateAction.NONE:
        return
    mandate = session.get(SepaMandate, match.entry.mandate_id)
    assert mandate is not None
    reason = describe_reason(match.reason_code)
    if action == MandateAction.STOP and mandate.status == MandateStatus.ACTIVE:
        suspend_mandate(session, user, mandate.id, f"{reason}: a new IBAN or mandate is needed")
        tally.mandates_stopped += 1
        _notify_member(
            session,
            match.entry.member_id,
            "Direct debit stopped: new IBAN or mandate needed",
            f"The collection {match.entry.remittance} of {match.entry.amount} on mandate "
            f"{mandate.mandate_reference} was refused by your bank: {reason}. Please give us a "
            "new IBAN or sign a new mandate.",
        )
    elif action == MandateAction.INVALIDATE and mandate.status in (
        MandateStatus.DRAFT,
        MandateStatus.ACTIVE,
        MandateStatus.SUSPENDED,
    ):
        invalidate_mandate(session, user, mandate.id, f"{reason} (reported by the bank)")
        tally.mandates_invalidated += 1
        _notify_member(
            session,
            match.entry.member_id,
            "Direct debit mandate invalid: please sign a new one",
            f"Your bank does not accept mandate {mandate.mandate_reference}: {reason}. "
            "Please sign a new mandate.",
        )


def _notify_member(session: Session, member_id: int, subject: str, message: str) -> None:
    user_id = session.scalar(select(Member.user_id).where(Member.id == member_id))
    if user_id is None:
        return  # no portal account: the treasurer sees it in the retry queue
    session.execute(insert(Notification), [_notification(user_id, subject, message)])


def _notify_treasurers(session: Session, lines: list[str]) -> None:
    """Tell every treasurer (or, without one, every administrator) which invoices are no
    longer collected by direct debit."""
    roles = [Role.TREASURER, Role.ADMINISTRATOR]
    for role in roles:
        user_ids = list(session.scalars(select(User.id).where(User.role == role)))
        if user_ids:
            break
    count = len(lines)
    subject = f"Direct debit: {count} collection(s) failed after every retry"
    message = "No further retry; collect these another way:\n" + "\n".join(lines)
    session.execute(
        insert(Notification), [_notification(user_id, subject, message) for user_id in user_ids]
    )


def _notification(user_id: int, subject: str, message: str) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "subject": subject[:200],
        "message": message,
        "indicator": Indicator.RED.value,
        "job_id": None,
        "created_at": clock.now(),
    }
