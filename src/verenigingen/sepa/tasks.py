"""SEPA work that runs as a tracked job."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.jobs import commit_chunk, enqueue, job, report_progress
from verenigingen.jobs.models import Job
from verenigingen.sepa.batches import get_batch, process_batch
from verenigingen.sepa.checks import CHECK_BATCH, check_batch
from verenigingen.sepa.errors import BatchTransitionNotAllowed
from verenigingen.sepa.mandates import expire_mandates
from verenigingen.sepa.models import BatchStatus, DirectDebitEntry, EntryStatus
from verenigingen.sepa.usage import record_usage, record_usages

RECORD_MANDATE_USAGE = "sepa.record_mandate_usage"
RECORD_MANDATE_USAGES = "sepa.record_mandate_usages"
PROCESS_BATCH = "sepa.process_batch"
USAGES_CHUNK = 200
"""Payments whose usages one transaction records (set-based: seven statements a chunk)."""


@job(RECORD_MANDATE_USAGE, queue="default", timeout_setting="job_timeout_mandate_usage_seconds")
def record_mandate_usage(
    session: Session, user: User, *, payment_id: int, cancelled: bool = False
) -> dict[str, Any]:
    """The usage row of a submitted (or cancelled) direct-debit payment on its mandate."""
    require(user, Permission.BILLING_WRITE)
    usage = record_usage(session, payment_id, cancelled=cancelled)
    if usage is None:
        return {"payment_id": payment_id, "mandate_id": None}
    return {
        "payment_id": payment_id,
        "mandate_id": usage.mandate_id,
        "sequence_type": usage.sequence_type,
        "status": usage.status,
    }


@job(RECORD_MANDATE_USAGES, queue="default", timeout_setting="job_timeout_mandate_usage_seconds")
def record_mandate_usages(
    session: Session, user: User, *, payment_ids: list[int]
) -> dict[str, Any]:
    """The usages of direct-debit payments recorded in bulk (the demo, a statement import), in
    the payments' order, a commit after each chunk (jobs.chunks): a payment with its usage is
    skipped, so a chunk done is not done twice."""
    require(user, Permission.BILLING_WRITE)
    ids = sorted(set(payment_ids))
    added = 0
    for start in range(0, len(ids), USAGES_CHUNK):
        if start:
            commit_chunk(session)
        added += record_usages(session, ids[start : start + USAGES_CHUNK])
        report_progress(min(start + USAGES_CHUNK, len(ids)), len(ids))
    return {"payments": len(payment_ids), "usages_added": added}


def start_processing(session: Session, user: User, batch_id: int) -> Job:
    """Queue the processing of a Submitted batch as a tracked job (its progress visible at
    ``GET /api/v1/jobs/{id}``); 404 for an unknown batch, 409 unless it is Submitted. Asked
    twice while the job waits or runs: the same job."""
    require(user, Permission.BILLING_WRITE)
    batch = get_batch(session, user, batch_id)
    if batch.status != BatchStatus.SUBMITTED:
        raise BatchTransitionNotAllowed(
            f"batch {batch_id} is {batch.status}; only a Submitted batch can be processed"
        )
    return enqueue(
        session,
        PROCESS_BATCH,
        user=user,
        dedup_key=f"{PROCESS_BATCH}:{batch_id}",
        max_retries=0,
        batch_id=batch_id,
    )


@job(PROCESS_BATCH, queue="long")
def process_direct_debit_batch(session: Session, user: User, *, batch_id: int) -> dict[str, Any]:
    """Process a submitted batch (the bank collected): payments through billing, with the
    job's progress per chunk of entries."""
    batch = process_batch(session, user, batch_id)
    collected = session.scalar(
        select(func.count(DirectDebitEntry.id)).where(
            DirectDebitEntry.batch_id == batch.id,
            DirectDebitEntry.status == EntryStatus.COLLECTED,
        )
    )
    return {"batch_id": batch.id, "status": batch.status, "collected": collected or 0}


@job("sepa.expire_mandates", queue="default", daily=True)
def expire_unused_mandates(session: Session, user: User) -> dict[str, Any]:
    """Expire the mandates without a collection for 36 months (EPC rulebook)."""
    require(user, Permission.BILLING_WRITE)
    return {"mandates_expired": expire_mandates(session, user, clock.today())}


@job(CHECK_BATCH, queue="default")
def check_direct_debit_batch(session: Session, user: User, *, batch_id: int) -> dict[str, Any]:
    """The batch's file built and validated against the XSD and the EPC rules, the outcome
    stored on the batch (``sepa.checks``) for the desk to show."""
    checks = check_batch(session, user, batch_id)
    return {"batch_id": batch_id, "errors": checks.error_count}
