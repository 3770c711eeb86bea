"""The user's side of deferral: a payment's answer says its follow-up work is running and lists
the job ids; once it has run, the treasurer has one notification for the payment."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.billing.schemas import FollowUpOut, PaymentCreate
from verenigingen.billing.service.payments import create_payment, submit_payment
from verenigingen.config import Settings
from verenigingen.events import follow_up_of
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Notification, Queue
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.members.models import Customer, Member
from verenigingen.settings.service import set_setting

URL = "/api/v1/payments"
RUNNING = "Payment processed; updates running in the background"

pytestmark = pytest.mark.usefixtures("frozen_today")


def customer_with_member(session: Session) -> Customer:
    customer = Customer(debtor_number=f"DEB-{uuid.uuid4().hex[:8]}", name="Familie de Vries")
    session.add(customer)
    session.flush()
    tag = uuid.uuid4().hex[:6]
    session.add(
        Member(
            member_id=f"Assoc-Member-2026-01-{tag}",
            first_name="Anna",
            last_name="de Vries",
            email=f"{tag}@example.org",
            customer_id=customer.id,
        )
    )
    session.flush()
    return customer


def test_a_submitted_payment_lists_its_follow_up_jobs_and_notifies_once(
    api: Any, session: Session, job_engine: JobEngine, tmp_path: Path
) -> None:
    user = create_user(session, f"kas-{uuid.uuid4().hex[:6]}@example.org", Role.TREASURER)
    client = api(user)
    customer = customer_with_member(session)
    body = {"customer_id": customer.id, "paid_amount": "25.00", "submit": True}
    created = client.post(URL, json=body, headers={"Idempotency-Key": "follow-up-1"})
    assert created.status_code == 201, created.text
    follow_up = created.json()["follow_up"]
    assert (follow_up["state"], follow_up["message"], len(follow_up["job_ids"])) == (
        "running",
        RUNNING,
        1,
    )
    (job_id,) = follow_up["job_ids"]
    job = client.get(f"/api/v1/jobs/{job_id}").json()
    assert (job["name"], job["status"]) == ("history.apply_summary_delta", "Queued")
    # A replayed request answers the same, job ids included.
    again = client.post(URL, json=body, headers={"Idempotency-Key": "follow-up-1"})
    assert again.json()["follow_up"] == follow_up
    assert client.get(f"{URL}/{created.json()['id']}").json()["follow_up"] is None

    runtime = Runtime(savepoint_sessions(session), Settings(data_dir=tmp_path), "web-test:1")
    ran = [run_job(runtime, message.args[0]) for message in _taken(job_engine)]
    assert [outcome.value for outcome in ran] == ["completed"]
    notes = session.scalar(
        select(func.count()).select_from(Notification).where(Notification.user_id == user.id)
    )
    assert notes == 1  # one payment, one notification


def _taken(job_engine: JobEngine) -> list[Any]:
    messages = []
    for queue in Queue:
        while (message := job_engine.take(queue)) is not None:
            messages.append(message)
    return messages


def test_a_draft_has_no_follow_up(api: Any, session: Session) -> None:
    client = api(Role.TREASURER)
    customer = customer_with_member(session)
    draft = client.post(URL, json={"customer_id": customer.id, "paid_amount": "10.00"})
    assert (draft.status_code, draft.json()["follow_up"]) == (201, None)


def test_follow_up_work_run_with_the_write_is_done(session: Session) -> None:
    admin = create_user(session, f"admin-{uuid.uuid4().hex[:6]}@example.org", Role.ADMINISTRATOR)
    customer = customer_with_member(session)
    set_setting(session, admin, "defer_heavy_handlers", False)
    draft = create_payment(
        session, admin, PaymentCreate(customer_id=customer.id, paid_amount=Decimal("10.00"))
    )
    assert follow_up_of(session) is None
    submit_payment(session, admin, draft.id)
    assert FollowUpOut.of(follow_up_of(session)) == FollowUpOut(
        state="done", job_ids=[], message="Payment processed; updates done"
    )


def test_a_cancelled_payment_lists_the_jobs_that_take_it_back(api: Any, session: Session) -> None:
    client = api(Role.TREASURER)
    customer = customer_with_member(session)
    created = client.post(
        URL, json={"customer_id": customer.id, "paid_amount": "10.00", "submit": True}
    ).json()
    cancelled = client.post(f"{URL}/{created['id']}/cancel").json()
    assert cancelled["follow_up"]["state"] == "running"
    assert cancelled["follow_up"]["job_ids"] != created["follow_up"]["job_ids"]
