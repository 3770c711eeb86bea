"""Handing an outbox mail to the mail server (SMTP, STARTTLS unless switched off)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.config import Settings
from verenigingen.errors import NotFound
from verenigingen.mail.models import OutboxMail

SMTP_TIMEOUT_SECONDS = 20


def deliver(session: Session, mail_id: int, settings: Settings) -> bool:
    """Send the mail unless it was sent before; True when it was sent now. A refusal of the
    server raises (``smtplib.SMTPException``, ``OSError``), so the job is retried."""
    mail = session.get(OutboxMail, mail_id, with_for_update=True)
    if mail is None:
        raise NotFound(f"no mail with id {mail_id}")
    if mail.sent_at is not None or not settings.smtp_host:
        return False
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message.set_content(mail.body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(message)
    mail.sent_at = clock.now()
    session.flush()
    return True
