"""The event platform: subscribers in order, on the writer's session, their jobs in one INSERT."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen import events
from verenigingen.auth.models import User
from verenigingen.billing.events import PaymentSubmitted
from verenigingen.events import DomainEvent, FollowUps, record, subscriber, subscribers_of
from verenigingen.history import tasks as history_tasks
from verenigingen.jobs import JobRequest
from verenigingen.jobs.models import Job
from verenigingen.perf.capture import capture

calls: list[str] = []


@dataclass(frozen=True)
class SomethingHappened(DomainEvent):
    what: str


@dataclass(frozen=True)
class NobodyListens(DomainEvent):
    pass


@subscriber(SomethingHappened)
def first(session: Session, event: SomethingHappened) -> FollowUps:
    calls.append(f"first:{event.what}")
    return [JobRequest(history_tasks.UPDATE_PAYMENT_ANALYTICS, {"months": ["2026-01"]})]


@subscriber(SomethingHappened)
def second(session: Session, event: SomethingHappened) -> FollowUps:
    calls.append(f"second:{event.what}")
    return [JobRequest(history_tasks.RECALCULATE_ALL, {})]


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    calls.clear()


def job_count(session: Session) -> int:
    return session.scalar(select(func.count(Job.id))) or 0


def test_subscribers_run_in_order_and_their_jobs_go_in_one_insert(session: Session, admin: User):
    before = job_count(session)
    with capture() as queries:
        record(session, SomethingHappened(user=admin, what="x"))
    assert calls == ["first:x", "second:x"]
    assert queries.count == 1  # one INSERT of both jobs
    assert job_count(session) == before + 2
    names = session.scalars(select(Job.name).order_by(Job.id.desc()).limit(2)).all()
    assert sorted(names) == sorted(
        [history_tasks.UPDATE_PAYMENT_ANALYTICS, history_tasks.RECALCULATE_ALL]
    )
    assert {
        job.user_id for job in session.scalars(select(Job).order_by(Job.id.desc()).limit(2))
    } == {admin.id}


def test_an_event_nobody_subscribes_to_costs_nothing(session: Session, admin: User):
    with capture() as queries:
        record(session, NobodyListens(user=admin))
    assert queries.count == 0


def test_follow_up_jobs_need_a_user(session: Session):
    before = job_count(session)
    with pytest.raises(ValueError, match="no user to run its follow-up jobs"):
        record(session, SomethingHappened(user=None, what="system"))
    assert job_count(session) == before


def test_recording_before_the_subscribers_are_loaded_fails(
    session: Session, admin: User, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(events, "_loaded_modules", set())
    with pytest.raises(events.SubscribersNotLoaded, match="SomethingHappened"):
        record(session, SomethingHappened(user=admin, what="early"))
    assert calls == []


def test_the_ledger_is_followed_by_the_read_model_and_the_mandate_usage():
    owners = [function.__module__ for function in subscribers_of(PaymentSubmitted)]
    assert owners == ["verenigingen.history.subscribers", "verenigingen.sepa.subscribers"]
