"""A batch's checks: whether its pain.008 passes the official XSD and the EPC rules, run once and
stored on the batch.

Building and validating the file grows with the batch (1.7 s for 7,793 entries), so it is not
done each time someone looks: the checks run as a tracked job (``sepa.check_batch``) when the
desk makes a batch, or when someone asks, and their outcome is stored on the batch with a digest
of the creditor settings they ran with. A batch's entries do not change once it is made (only
their statuses, which the file does not carry), so the stored outcome holds until the creditor
settings change; then it is stale, and the desk says so and offers to check again. The download
still validates the file itself (``pain008.export_batch``): the stored outcome informs, it
guards nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.jobs import enqueue, report_progress
from verenigingen.jobs.models import Job
from verenigingen.sepa.batches import batch_entries, get_batch
from verenigingen.sepa.creditor import required_creditor
from verenigingen.sepa.errors import BatchInvalid, BatchTransitionNotAllowed
from verenigingen.sepa.models import BatchStatus, DirectDebitBatch, SepaCreditor
from verenigingen.sepa.pain008 import validated_document

CHECK_BATCH = "sepa.check_batch"
KEPT_ERRORS = 100
"""Errors stored per batch; the count says how many there were in all."""


class CheckState(enum.StrEnum):
    CURRENT = "current"
    STALE = "stale"
    """Checked with other creditor settings than the ones the file would carry now."""
    UNCHECKED = "unchecked"


@dataclass(frozen=True)
class StoredChecks:
    """The outcome the batch holds, and whether it still says something of its file."""

    state: CheckState
    checked_at: dt.datetime | None = None
    error_count: int = 0
    errors: tuple[str, ...] = ()

    @property
    def more_errors(self) -> int:
        """Errors found beyond those stored."""
        return max(0, self.error_count - len(self.errors))


def creditor_digest(creditor: SepaCreditor) -> str:
    """What of the creditor settings the file carries (its name, account and identifier)."""
    fields = (creditor.name, creditor.iban, creditor.bic or "", creditor.creditor_identifier)
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def stored_checks(batch: DirectDebitBatch, creditor: SepaCreditor | None) -> StoredChecks:
    """The batch's stored outcome against the creditor settings as they are now: no query."""
    if batch.checked_at is None or creditor is None:
        return StoredChecks(CheckState.UNCHECKED)
    current = batch.checked_creditor == creditor_digest(creditor)
    return StoredChecks(
        CheckState.CURRENT if current else CheckState.STALE,
        batch.checked_at,
        batch.check_error_count or 0,
        tuple(batch.check_errors or ()),
    )


def _checkable(session: Session, user: User, batch_id: int) -> DirectDebitBatch:
    require(user, Permission.BILLING_WRITE)
    batch = get_batch(session, user, batch_id)
    if batch.status == BatchStatus.CANCELLED:
        raise BatchTransitionNotAllowed(f"batch {batch_id} is Cancelled; it is not checked")
    return batch


def check_batch(session: Session, user: User, batch_id: int) -> StoredChecks:
    """Build the batch's file and validate it as the download does, and store the outcome on
    the batch. 404 for an unknown batch, 409 for a cancelled one or without creditor settings.
    Reports its progress (the entries read, the file checked)."""
    batch = _checkable(session, user, batch_id)
    creditor = required_creditor(session)
    report_progress(0, 2)
    entries = batch_entries(session, batch.id)
    report_progress(1, 2)
    try:
        validated_document(batch, entries, creditor, clock.now())
        errors: list[str] = []
    except BatchInvalid as invalid:
        errors = list(invalid.errors)
    batch.checked_at = clock.now()
    batch.check_error_count = len(errors)
    batch.check_errors = errors[:KEPT_ERRORS]
    batch.checked_creditor = creditor_digest(creditor)
    session.flush()
    report_progress(2, 2)
    return stored_checks(batch, creditor)


def check_key(batch_id: int) -> str:
    return f"{CHECK_BATCH}:{batch_id}"


def start_checks(session: Session, user: User, batch_id: int) -> Job:
    """Queue the batch's checks as a tracked job; asked again while it waits or runs, the same
    job. 404 for an unknown batch, 409 for a cancelled one."""
    _checkable(session, user, batch_id)
    return enqueue(
        session,
        CHECK_BATCH,
        user=user,
        dedup_key=check_key(batch_id),
        max_retries=0,
        batch_id=batch_id,
    )


def running_checks(session: Session, batch_id: int) -> Job | None:
    """The batch's checks while they wait or run: one statement on the jobs' unique key."""
    return session.scalar(select(Job).where(Job.active_dedup_key == check_key(batch_id)))
