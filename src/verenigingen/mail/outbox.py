"""Writing a mail: a row in ``mail_outbox`` in the caller's transaction, a line in the log, and,
when a mail server is configured, a ``mail.deliver`` job that is dispatched when that commits.

Without a mail server (``smtp_host`` unset: a development machine, the demo) the log line
carries the whole mail, links included, so that whoever runs the server can follow a password
reset link. With one, the log names only the recipient and the subject: the log is read by
more people than a mailbox.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.app_context import settings_of
from verenigingen.auth.models import User
from verenigingen.jobs import enqueue
from verenigingen.mail.models import OutboxMail

log = logging.getLogger(__name__)

DELIVER = "mail.deliver"


def queue_mail(session: Session, *, user: User, to: str, subject: str, body: str) -> OutboxMail:
    """Put a plain-text mail for ``user`` (at ``to``) in the outbox; sent after the caller's
    commit when a mail server is configured. Nothing is sent if the transaction rolls back."""
    mail = OutboxMail(
        to_address=to, subject=subject, body=body, user_id=user.id, created_at=clock.now()
    )
    session.add(mail)
    session.flush()
    if settings_of(session).smtp_host:
        enqueue(session, DELIVER, user=user, mail_id=mail.id)
        log.info("mail %d to %s queued for delivery: %s", mail.id, to, subject)
    else:
        log.warning("mail %d to %s (no mail server configured): %s\n%s", mail.id, to, subject, body)
    return mail
