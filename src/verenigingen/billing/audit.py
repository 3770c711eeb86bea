"""The money audit trail: every event that changes what someone owes or paid leaves a row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.models import AuditEvent


def record_money_event(
    session: Session,
    user: User | None,
    event: str,
    entity: str,
    entity_id: int,
    amount: Decimal | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            user_id=user.id if user else None,
            event=event,
            entity=entity,
            entity_id=entity_id,
            amount=amount,
            data=data,
        )
    )


def record_money_events(session: Session, user: User | None, rows: list[dict[str, Any]]) -> None:
    """Bulk variant: ``rows`` hold event, entity, entity_id, amount and optionally data."""
    if not rows:
        return
    user_id = user.id if user else None
    session.execute(
        insert(AuditEvent),
        [{"user_id": user_id, "data": None, "amount": None, **row} for row in rows],
    )
