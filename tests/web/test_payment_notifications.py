"""One notification per payment: the follow-up jobs of a payment are one job group, and its
treasurer hears once, naming the payment, when the last of them ends (cash: one job; direct
debit: the summary and the mandate's usage)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.config import Settings
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Job, JobGroup, Notification, Queue
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.members.models import Customer, Member

URL = "/api/v1/payments"

pytestmark = pytest.mark.usefixtures("frozen_today")


def customer_with_member(session: Session) -> Customer:
    customer = Customer(debtor_number=f"DEB-{uuid.uuid4().hex[:8]}", name="Familie Jansen")
    session.add(customer)
    session.flush()
    tag = uuid.uuid4().hex[:6]
    session.add(
        Member(
            member_id=f"Assoc-Member-2026-02-{tag}",
            first_name="Piet",
            last_name="Jansen",
            email=f"{tag}@example.org",
            customer_id=customer.id,
        )
    )
    session.flush()
    return customer


def run_all(session: Session, job_engine: JobEngine, tmp_path: Path) -> list[str]:
    runtime = Runtime(savepoint_sessions(session), Settings(data_dir=tmp_path), "web-test:1")
    outcomes = []
    for queue in Queue:
        while (message := job_engine.take(queue)) is not None:
            outcomes.append(run_job(runtime, message.args[0]).value)
    return outcomes


def notes_of(session: Session, user: User) -> list[Notification]:
    session.expire_all()
    return list(
        session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    )


@pytest.mark.parametrize(
    ("mode", "jobs"),
    [
        ("Bank Transfer", ["history.apply_summary_delta"]),
        ("SEPA Direct Debit", ["history.apply_summary_delta", "sepa.record_mandate_usage"]),
    ],
)
def test_a_payment_notifies_its_treasurer_once_whatever_its_follow_up_jobs(
    api: Any, session: Session, job_engine: JobEngine, tmp_path: Path, mode: str, jobs: list[str]
) -> None:
    user = create_user(session, f"kas-{uuid.uuid4().hex[:6]}@example.org", Role.TREASURER)
    client = api(user)
    customer = customer_with_member(session)
    body = {"customer_id": customer.id, "paid_amount": "25.00", "mode_of_payment": mode}
    created = client.post(URL, json={**body, "submit": True})
    assert created.status_code == 201, created.text
    payment = created.json()
    job_ids = payment["follow_up"]["job_ids"]
    followed = session.execute(select(Job.name, Job.group_id).where(Job.id.in_(job_ids))).all()
    assert sorted(name for name, _group in followed) == jobs
    [group_id] = {group for _name, group in followed}  # one group for the payment
    group = session.get_one(JobGroup, group_id)
    assert (group.subject, group.jobs_total, group.user_id) == (
        f"Payment {payment['number']}",
        len(jobs),
        user.id,
    )

    assert run_all(session, job_engine, tmp_path) == ["completed"] * len(jobs)
    [note] = notes_of(session, user)  # one payment, one notification
    what = "its follow-up job" if len(jobs) == 1 else f"its {len(jobs)} follow-up jobs"
    assert (note.subject, note.message, note.indicator) == (
        f"Payment {payment['number']}: done",
        f"Payment {payment['number']}: {what} completed successfully",
        "green",
    )


def test_each_payment_and_its_cancel_notify_once(
    api: Any, session: Session, job_engine: JobEngine, tmp_path: Path
) -> None:
    user = create_user(session, f"kas-{uuid.uuid4().hex[:6]}@example.org", Role.TREASURER)
    client = api(user)
    customer = customer_with_member(session)
    numbers = []
    ids = []
    for mode in ("Bank Transfer", "SEPA Direct Debit"):
        body = {"customer_id": customer.id, "paid_amount": "10.00", "mode_of_payment": mode}
        created = client.post(URL, json={**body, "submit": True}).json()
        numbers.append(created["number"])
        ids.append(created["id"])
    run_all(session, job_engine, tmp_path)
    cancelled = client.post(f"{URL}/{ids[1]}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    run_all(session, job_engine, tmp_path)
    subjects = [note.subject for note in notes_of(session, user)]
    assert sorted(subjects) == sorted(
        [
            f"Payment {numbers[0]}: done",
            f"Payment {numbers[1]}: done",
            f"Payment {numbers[1]} cancelled: done",
        ]
    )
