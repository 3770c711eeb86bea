"""The OpenAPI document, with the answers every operation of a kind may give.

A router lists the errors its own rules give (404, 409, ...). Some answers come from the
platform instead, for every operation of a kind, and are added here so the document lists every
status a client can get: a 400 ``bad_request`` for a body that cannot be read (not JSON, not
UTF-8, nested too deeply) on each operation that takes one, and a 429 ``too_many_attempts``
with ``Retry-After`` on each operation that takes a bearer token (failed authentication from the
client's address is rate-limited, ``auth.throttle``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}
UNREADABLE_BODY = {
    "description": "The body cannot be read (`bad_request`)",
    "content": {"application/json": {"schema": ERROR_BODY}},
}

RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 1},
}
TOO_MANY_ATTEMPTS = {
    "description": "Too many failed authentications from this address or for this account "
    "(`too_many_attempts`); try again after `Retry-After` seconds",
    "headers": {"Retry-After": RETRY_AFTER},
    "content": {"application/json": {"schema": ERROR_BODY}},
}


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the document with the platform's answers added."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            add_platform_answers(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_platform_answers(document: dict[str, Any]) -> None:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if "requestBody" in operation:
                operation["responses"].setdefault("400", UNREADABLE_BODY)
            if operation.get("security"):
                operation["responses"].setdefault("429", TOO_MANY_ATTEMPTS)
