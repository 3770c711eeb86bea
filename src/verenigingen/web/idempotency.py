"""``Idempotency-Key`` handling: a retried create returns the first response, writes nothing new."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.db.idempotency import IdempotencyRecord
from verenigingen.errors import ValidationFailed
from verenigingen.web.errors import IdempotencyKeyInProgress, IdempotencyKeyReused

MAX_KEY_LENGTH = 200


def _request_hash(body: Any) -> str:
    canonical = json.dumps(jsonable_encoder(body), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_idempotent(
    session: Session,
    user: User,
    scope: str,
    key: str | None,
    body: Any,
    create: Callable[[], Any],
    *,
    status_code: int = 201,
) -> JSONResponse:
    """Run ``create`` once per (user, scope, key); later calls with the key replay its response.

    The record is written in the same transaction as what ``create`` writes, so a create that
    fails leaves no record and may be retried. Two concurrent first calls: the unique key makes
    the loser's transaction fail at flush instead of creating a second document.
    """
    if key is None:
        return JSONResponse(jsonable_encoder(create()), status_code=status_code)
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    request_hash = _request_hash(body)
    previous = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user.id,
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.key == key,
        )
    )
    if previous is not None:
        if previous.request_hash != request_hash:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used before with a different request body"
            )
        return JSONResponse(
            json.loads(previous.response_body),
            status_code=previous.response_status,
            headers={"Idempotent-Replayed": "true"},
        )
    content = jsonable_encoder(create())
    session.add(
        IdempotencyRecord(
            user_id=user.id,
            scope=scope,
            key=key,
            request_hash=request_hash,
            response_status=status_code,
            response_body=json.dumps(content),
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise IdempotencyKeyInProgress(
            "a request with this Idempotency-Key is already being processed"
        ) from None
    return JSONResponse(content, status_code=status_code)
