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
:func:`record_return` is the same for one return line of a bank statement (camt.053, MT940),
:func:`record_returns` for many at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.service.bulk_cancellations import cancel_payments
from verenigingen.cache.tags import bump_tags
from verenigingen.db.bulk import insert_rows
from verenigingen.sepa.errors import (
    ReturnAmountMismatch,
    ReturnOfUncollectedEntry,
    StatusReportImportConcurrent,
    UnknownCollection,
)
from verenigingen.sepa.mandate_actions import act_on_mandates
from verenigingen.sepa.models import (
    DirectDebitBatch,
    DirectDebitEntry,
    EntryStatus,
    RetryStatus,
    ReturnKind,
    SepaMandateUsage,
    SepaReturn,
    StatusReport,
    UsageStatus,
)
from verenigingen.sepa.notices import notify_treasurers
from verenigingen.sepa.retries import RetryDecision, decide, describe_reason
from verenigingen.sepa.status_reports import (
    ReportedTransaction,
    ReportFormat,
    parse_status_report,
)

ALREADY_RECORDED = (EntryStatus.REJECTED, EntryStatus.RETURNED)
CHUNK = 500
"""Rejects or returns recorded per round of statements."""


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
    ``return_amount_mismatch``; 409 ``return_of_uncollected_entry``. The entries it names are
    locked: a second import of the same file at the same moment waits and then finds it imported
    (409 ``status_report_import_concurrent`` where it cannot see the first's report yet), and one
    of another file naming the same entries finds them recorded.
    """
    require(user, Permission.BILLING_WRITE)
    digest = file_hash(data)
    seen = session.scalar(select(StatusReport).where(StatusReport.file_hash == digest))
    if seen is not None:
        return ImportOutcome(seen.id, seen.file_format, True, ReturnTally())
    parsed = parse_status_report(data)
    today = today or clock.today()
    kind = ReturnKind.REJECT if parsed.file_format == ReportFormat.PAIN_002 else ReturnKind.RETURN
    matches = _matches(session, parsed.transactions, today)  # the entries locked
    # The same file imported at the same time: its entries made this one wait; now it is there.
    seen = session.scalar(
        select(StatusReport).where(StatusReport.file_hash == digest).with_for_update()
    )
    if seen is not None:
        return ImportOutcome(seen.id, seen.file_format, True, ReturnTally())
    report = StatusReport(
        file_hash=digest,
        file_format=parsed.file_format,
        message_id=(parsed.message_id or "")[:35] or None,
        original_message_id=(parsed.original_message_id or "")[:35] or None,
        line_count=len(matches),
        imported_by=user.email,
        imported_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(report)
            session.flush()
    except IntegrityError:
        raise StatusReportImportConcurrent(
            "the same file is being imported at this moment; try again when it has finished"
        ) from None
    tally = ReturnTally()
    _apply(session, user, matches, kind, report.id, tally)
    return ImportOutcome(report.id, report.file_format, False, tally)


@dataclass(frozen=True)
class StatementReturn:
    """A return line of a bank statement naming one of our collections."""

    end_to_end_id: str
    reason_code: str
    amount: Decimal
    """May be signed (a debit line): its size must be the collection's."""
    booked_on: dt.date


ReturnRefusal = ReturnAmountMismatch | ReturnOfUncollectedEntry
"""Why a return line was not recorded: another amount, or a collection never sent."""


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
    changes nothing. ``amount`` may be signed (a debit line): its size must be the entry's
    (422 ``return_amount_mismatch``); a collection of a cancelled batch is 409
    ``return_of_uncollected_entry``.
    """
    line = StatementReturn(end_to_end_id, reason_code, amount, booked_on)
    (outcome,) = record_returns(session, user, [line])
    if isinstance(outcome, ReturnAmountMismatch | ReturnOfUncollectedEntry):
        raise outcome
    return outcome


def record_returns(
    session: Session, user: User, lines: Sequence[StatementReturn]
) -> list[RecordedReturn | ReturnRefusal | None]:
    """:func:`record_return` for many statement lines at once; each line's outcome, in order.

    A line's outcome is what :func:`record_return` returns, or the refusal it would raise (the
    line changes nothing; the others are recorded). The same collection on two lines is
    recorded once: the second finds it recorded. A constant number of statements per
    :data:`CHUNK` lines: the entries locked in one, their earlier returns read in one, then what
    :func:`import_status_report` does with its rejects.
    """
    require(user, Permission.BILLING_WRITE)
    ids = sorted({line.end_to_end_id for line in lines})
    found: dict[str, tuple[DirectDebitEntry, str]] = {}
    if ids:
        for entry, message_id in session.execute(
            select(DirectDebitEntry, DirectDebitBatch.message_id)
            .join(DirectDebitBatch, DirectDebitBatch.id == DirectDebitEntry.batch_id)
            .where(DirectDebitEntry.end_to_end_id.in_(ids))
            .order_by(DirectDebitEntry.id)
            .with_for_update(of=DirectDebitEntry)
            .execution_options(populate_existing=True)
        ):
            found[entry.end_to_end_id] = (entry, message_id)
    earlier = {
        row.entry_id: row
        for row in session.scalars(
            select(SepaReturn).where(
                SepaReturn.entry_id.in_(sorted(entry.id for entry, _ in found.values()))
            )
        )
    }
    outcomes: list[RecordedReturn | ReturnRefusal | None] = []
    fresh: list[_Match] = []
    first_line: dict[int, int] = {}  # entry id → the line (index) that records it
    for line in lines:
        if line.end_to_end_id not in found:
            outcomes.append(None)
            continue
        entry, message_id = found[line.end_to_end_id]
        code = line.reason_code.strip().upper()[:4]
        recorded = earlier.get(entry.id)
        if abs(line.amount) != entry.amount:
            outcomes.append(
                ReturnAmountMismatch(
                    f"the return of {line.end_to_end_id} is {abs(line.amount)}; the collection "
                    f"was {entry.amount}"
                )
            )
        elif recorded is not None or entry.status in ALREADY_RECORDED:
            outcomes.append(
                RecordedReturn(
                    entry.id,
                    entry.invoice_id,
                    recorded.reason_code if recorded else (entry.return_reason or code),
                    True,
                    recorded.retry_status if recorded else None,
                    recorded.retry_due_on if recorded else None,
                )
            )
        elif entry.id in first_line:
            outcomes.append(None)  # filled in below from the line that records it
        elif entry.status == EntryStatus.CANCELLED:
            outcomes.append(_uncollected(entry, line.end_to_end_id))
        else:
            first_line[entry.id] = len(outcomes)
            fresh.append(_Match(entry, message_id, code, line.booked_on))
            outcomes.append(None)
    if not fresh:
        return outcomes
    done = {
        recorded.entry_id: recorded
        for recorded in _apply(session, user, fresh, ReturnKind.RETURN, None, ReturnTally())
    }
    for entry_id, index in first_line.items():
        outcomes[index] = done[entry_id]
    for index, line in enumerate(lines):
        if outcomes[index] is None and line.end_to_end_id in found:
            first = done[found[line.end_to_end_id][0].id]  # named again: recorded by a line above
            outcomes[index] = dataclasses.replace(first, already_recorded=True)
    return outcomes


def _uncollected(entry: DirectDebitEntry, where: str) -> ReturnOfUncollectedEntry:
    return ReturnOfUncollectedEntry(
        f"{where}: entry {entry.end_to_end_id} belongs to a cancelled batch; "
        "it was never sent to the bank"
    )


def _check_collected(entry: DirectDebitEntry, where: str) -> None:
    if entry.status == EntryStatus.CANCELLED:
        raise _uncollected(entry, where)


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
            .order_by(DirectDebitEntry.id)
            .with_for_update(of=DirectDebitEntry)
            .execution_options(populate_existing=True)
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
    entries = list(
        session.scalars(
            statement.order_by(DirectDebitEntry.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
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
    """Record the rejects and returns of ``matches``: a constant number of statements per
    :data:`CHUNK` of them, and a constant number more when mandates are stopped or invalid."""
    fresh = [match for match in matches if match.entry.status not in ALREADY_RECORDED]
    tally.already_recorded += len(matches) - len(fresh)
    earlier = _earlier_returns(session, fresh)
    decisions: dict[int, tuple[int, RetryDecision]] = {}
    for match in fresh:
        invoice_id = match.entry.invoice_id
        earlier[invoice_id] += 1
        attempt = earlier[invoice_id]
        decisions[match.entry.id] = (attempt, decide(match.reason_code, attempt, match.booked_on))
    for start in range(0, len(fresh), CHUNK):
        _undo_collections(session, user, fresh[start : start + CHUNK], kind, tally)
    if fresh:
        # Core, not the ORM's bulk insert: that leaves out the None values and so splits the
        # rows into one INSERT per change of which are None (a retry date or not, reject by
        # reject when reason codes alternate).
        insert_rows(
            session,
            SepaReturn,
            [
                {
                    "entry_id": match.entry.id,
                    "invoice_id": match.entry.invoice_id,
                    "member_id": match.entry.member_id,
                    "mandate_id": match.entry.mandate_id,
                    "kind": kind,
                    "reason_code": match.reason_code,
                    "amount": match.entry.amount,
                    "booked_on": match.booked_on,
                    "status_report_id": report_id,
                    "attempt": decisions[match.entry.id][0],
                    "retry_status": decisions[match.entry.id][1].retry_status,
                    "retry_due_on": decisions[match.entry.id][1].retry_due_on,
                }
                for match in fresh
            ],
        )
    stopped, invalidated = act_on_mandates(
        session,
        user,
        [
            (match.entry, match.reason_code, decisions[match.entry.id][1].mandate_action)
            for match in fresh
        ],
    )
    tally.mandates_stopped += stopped
    tally.mandates_invalidated += invalidated
    exhausted: list[str] = []
    for match in fresh:
        decision = decisions[match.entry.id][1]
        tally.reason_codes[match.reason_code] += 1
        if decision.retry_status == RetryStatus.WAITING:
            tally.retries_scheduled += 1
        elif decision.retry_status == RetryStatus.EXHAUSTED:
            tally.retries_exhausted += 1
            exhausted.append(
                f"{match.entry.remittance} ({match.entry.end_to_end_id}, {match.entry.amount}): "
                f"{describe_reason(match.reason_code)}"
            )
    if exhausted:
        notify_treasurers(session, exhausted)
    if fresh:
        # The members' histories show their invoices, usages and mandates.
        bump_tags(session, sorted({f"member:{match.entry.member_id}" for match in fresh}))
    session.flush()
    return [
        RecordedReturn(
            match.entry.id,
            match.entry.invoice_id,
            match.reason_code,
            match.entry.id not in decisions,
            decisions[match.entry.id][1].retry_status if match.entry.id in decisions else None,
            decisions[match.entry.id][1].retry_due_on if match.entry.id in decisions else None,
        )
        for match in matches
    ]


def _earlier_returns(session: Session, matches: Sequence[_Match]) -> Counter[int]:
    """How often each invoice of ``matches`` was rejected or returned before."""
    earlier: Counter[int] = Counter()
    invoice_ids = sorted({match.entry.invoice_id for match in matches})
    if invoice_ids:
        for row in session.execute(
            select(SepaReturn.invoice_id, func.count(SepaReturn.id).label("returns"))
            .where(SepaReturn.invoice_id.in_(invoice_ids))
            .group_by(SepaReturn.invoice_id)
        ):
            earlier[row.invoice_id] = row.returns
    return earlier


def _undo_collections(
    session: Session, user: User, matches: Sequence[_Match], kind: ReturnKind, tally: ReturnTally
) -> None:
    """Cancel the payments of the collected ones through billing (one call), and mark the
    entries and their mandate usages with the reason (one executemany each)."""
    collected = {match.entry.id for match in matches if match.entry.status == EntryStatus.COLLECTED}
    payment_ids = [
        match.entry.payment_id
        for match in matches
        if match.entry.id in collected and match.entry.payment_id is not None
    ]
    # A payment cancelled by hand meanwhile is skipped: its invoice owes already.
    tally.invoices_reopened += len(cancel_payments(session, user, payment_ids))
    # Found by mandate: the (mandate, payment) key indexes them, and a mandate has a usage per
    # collection. Usages have no index by batch or invoice; asked for by those, every chunk read
    # every usage ever recorded, so that the time per reject grew with the association's past.
    usage_ids = {
        (row.batch_reference, row.mandate_id, row.invoice_id): row.id
        for row in session.execute(
            select(
                SepaMandateUsage.id,
                SepaMandateUsage.batch_reference,
                SepaMandateUsage.mandate_id,
                SepaMandateUsage.invoice_id,
            ).where(SepaMandateUsage.mandate_id.in_(sorted({m.entry.mandate_id for m in matches})))
        )
    }
    usages: list[dict[str, Any]] = []
    for match in matches:
        entry = match.entry
        was_collected = entry.id in collected
        entry.status = EntryStatus.RETURNED if was_collected else EntryStatus.REJECTED
        entry.return_reason = match.reason_code
        entry.returned_on = match.booked_on
        usage_id = usage_ids.get((match.message_id, entry.mandate_id, entry.invoice_id))
        if usage_id is not None:
            usages.append(
                {
                    "id": usage_id,
                    "status": UsageStatus.RETURNED if was_collected else UsageStatus.FAILED,
                    "return_reason": match.reason_code,
                }
            )
    if usages:
        session.execute(update(SepaMandateUsage), usages)
    if kind == ReturnKind.REJECT:
        tally.rejected += len(matches)
    else:
        tally.returned += len(matches)
    session.flush()  # the entries, one executemany
