"""The notifications that rejects and returns leave: the member asked for a new IBAN or mandate,
the treasurers told which collections failed after every retry. Each kind in one INSERT."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.jobs.models import Indicator, Notification
from verenigingen.members.models import Member


def notify_members(session: Session, notices: Sequence[tuple[int, str, str]]) -> None:
    """One notification per (member id, subject, message) to the member's portal account; a
    member without one is left out (the treasurer sees it in the retry queue)."""
    member_ids = sorted({member_id for member_id, _, _ in notices})
    if not member_ids:
        return
    accounts = {
        row.id: row.user_id
        for row in session.execute(
            select(Member.id, Member.user_id).where(Member.id.in_(member_ids))
        )
        if row.user_id is not None
    }
    rows = [
        _notification(accounts[member_id], subject, message)
        for member_id, subject, message in notices
        if member_id in accounts
    ]
    if rows:
        session.execute(insert(Notification), rows)


def notify_treasurers(session: Session, lines: list[str]) -> None:
    """Tell every treasurer (or, without one, every administrator) which invoices are no
    longer collected by direct debit."""
    roles = [Role.TREASURER, Role.ADMINISTRATOR]
    for role in roles:
        user_ids = list(session.scalars(select(User.id).where(User.role == role)))
        if user_ids:
            break
    count = len(lines)
    subject = f"Direct debit: {count} collection(s) failed after every retry"
    message = "No further retry; collect these another way:\n" + "\n".join(lines)
    session.execute(
        insert(Notification), [_notification(user_id, subject, message) for user_id in user_ids]
    )


def _notification(user_id: int, subject: str, message: str) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "subject": subject[:200],
        "message": message,
        "indicator": Indicator.RED.value,
        "job_id": None,
        "created_at": clock.now(),
    }
