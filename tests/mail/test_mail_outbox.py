"""The mail outbox: a row in the sender's transaction, a job when a mail server is configured,
delivered once."""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.app_context import context_of
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.config import Settings
from verenigingen.jobs.models import Job
from verenigingen.mail import delivery
from verenigingen.mail.delivery import deliver
from verenigingen.mail.models import OutboxMail
from verenigingen.mail.outbox import queue_mail
from verenigingen.startup import load_all

pytestmark = pytest.mark.usefixtures("frozen_today")


@pytest.fixture(autouse=True)
def _tasks_loaded() -> None:
    """As every entry point does at start-up: the job names ``enqueue`` accepts."""
    load_all(Settings())


def with_settings(session: Session, **values: Any) -> Session:
    context = context_of(session)
    changed = dataclasses.replace(context, settings=context.settings.model_copy(update=values))
    changed.attach(session)
    return session


class FakeSmtp:
    """Stands in for the mail server (none runs on the test machines): records what it got."""

    sent: list[EmailMessage] = []  # noqa: RUF012

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.address = (host, port)

    def __enter__(self) -> FakeSmtp:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def starttls(self) -> None:
        pass

    def login(self, user: str, password: str) -> None:
        pass

    def send_message(self, message: EmailMessage) -> None:
        FakeSmtp.sent.append(message)


def test_without_a_mail_server_the_mail_is_a_row_and_a_log_line(session, caplog) -> None:
    user = create_user(session, "lid@example.org", Role.MEMBER)
    with caplog.at_level("WARNING", logger="verenigingen.mail.outbox"):
        mail = queue_mail(session, user=user, to=user.email, subject="Hallo", body="Een link")
    assert mail.sent_at is None
    assert "Een link" in caplog.text
    assert session.scalars(select(Job).where(Job.name == "mail.deliver")).first() is None


def test_with_a_mail_server_a_job_delivers_it_once(session, monkeypatch, caplog) -> None:
    with_settings(session, smtp_host="mail.example.org", mail_from="bestuur@example.org")
    user = create_user(session, "lid@example.org", Role.MEMBER)
    with caplog.at_level("INFO", logger="verenigingen.mail.outbox"):
        mail = queue_mail(session, user=user, to=user.email, subject="Hallo", body="Geheime link")
    assert "Geheime link" not in caplog.text  # the log names recipient and subject only
    job = session.scalars(select(Job).where(Job.name == "mail.deliver")).one()
    assert job.params == {"mail_id": mail.id}  # no body, no link in the job's parameters
    monkeypatch.setattr(delivery.smtplib, "SMTP", FakeSmtp)
    FakeSmtp.sent = []
    settings = context_of(session).settings
    assert deliver(session, mail.id, settings) is True
    assert deliver(session, mail.id, settings) is False  # a retry after success sends nothing
    assert len(FakeSmtp.sent) == 1
    sent = FakeSmtp.sent[0]
    assert (sent["To"], sent["From"], sent["Subject"]) == (
        "lid@example.org",
        "bestuur@example.org",
        "Hallo",
    )
    assert mail.sent_at is not None
    session.expire_all()
    assert session.get(OutboxMail, mail.id).sent_at is not None  # type: ignore[union-attr]
