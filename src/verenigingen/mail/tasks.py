"""Mail delivery as a tracked job: retried by the job runner when the server refuses."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from verenigingen.app_context import settings_of
from verenigingen.auth.models import User
from verenigingen.jobs import job
from verenigingen.mail.delivery import deliver


@job("mail.deliver", queue="short")
def deliver_mail(session: Session, user: User, mail_id: int) -> dict[str, Any]:
    """Send one outbox mail (sent once: a retry after success changes nothing)."""
    return {"sent": deliver(session, mail_id, settings_of(session))}
