"""The one place that turns errors into HTTP: ``{"error": code, "detail": message}``.

A domain error brings its own code and status (``verenigingen.errors`` and each domain's
``errors`` module). What is not a domain error gets one of :data:`HANDLER_CODES`: the request
failed FastAPI's validation, no route matched, a constraint the services did not foresee, the
database was away. The rules of the HTTP face itself (``Idempotency-Key``) are classes here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from verenigingen.auth.errors import TooManyAttempts
from verenigingen.errors import Conflict, DomainError, ValidationFailed


class IdempotencyKeyReused(Conflict):
    """This ``Idempotency-Key`` was used before with a different request body."""

    code = "idempotency_key_reused"


class IdempotencyKeyInProgress(Conflict):
    """A request with this ``Idempotency-Key`` is still being processed; retry when it is done."""

    code = "idempotency_key_in_progress"


class ControlCharacter(ValidationFailed):
    """Text in the path, the query or the body holds a control character (NUL, ESC, ...; tab
    and line breaks are text): refused before anything is read or written."""

    code = "control_character"


_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "validation_failed",
}
UNMAPPED_HTTP_CODE = "http_error"
"""The code of an HTTP error whose status has no name in ``_HTTP_CODES``."""

HANDLER_CODES: dict[str, tuple[int | None, str | None]] = {
    "bad_request": (
        400,
        "The body could not be read: not UTF-8, not JSON, or nested too deeply.",
    ),
    "not_authenticated": (401, None),
    "forbidden": (403, None),
    "not_found": (404, "No route has this path."),
    "method_not_allowed": (405, "The path exists, but not with this method."),
    "conflict": (409, "A concurrent change won (a constraint caught it); a retry may succeed."),
    "validation_failed": (422, "The body, path or query does not match the API's shapes."),
    "database_unavailable": (
        503,
        "The database could not be reached or a lock wait timed out; a retry may succeed.",
    ),
    UNMAPPED_HTTP_CODE: (None, "Any other HTTP error; the status says which."),
}
"""The codes this module's handlers give to what is not a domain error: code -> (status, when;
None where the error class of the same code says it all). A status of None: the status of the
HTTP error itself."""


def error_response(
    status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    if status_code == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse({"error": code, "detail": detail}, status_code=status_code, headers=headers)


ErrorPage = Callable[[Request, int, str, str, Mapping[str, str] | None], Response | None]
"""``app.state.error_page``: the HTML page for an error on a page request (``web.pages``), or
None to answer with the JSON body."""


def _answer(
    request: Request,
    status_code: int,
    code: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> Response:
    page: ErrorPage | None = getattr(request.app.state, "error_page", None)
    if page is not None:
        shown = page(request, status_code, code, detail, headers)
        if shown is not None:
            return shown
    return error_response(status_code, code, detail, headers)


def _describe_validation(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        parts.append(f"{location}: {item.get('msg', 'invalid')}" if location else item["msg"])
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> Response:
        headers = None
        if isinstance(error, TooManyAttempts):
            headers = {"Retry-After": str(error.retry_after_seconds)}
        return _answer(request, error.status_code, error.code, error.detail, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        if any(item.get("type") == "json_invalid" for item in error.errors()):
            # Unreadable, like a body that is not UTF-8 or nested too deeply: one code for all.
            return _answer(request, 400, "bad_request", "the body is not valid JSON")
        return _answer(request, 422, "validation_failed", _describe_validation(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(error.status_code, UNMAPPED_HTTP_CODE)
        return _answer(request, error.status_code, code, str(error.detail))

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, _error: IntegrityError) -> Response:
        # A constraint the services did not foresee (a concurrent request won a race): nothing
        # was written, and the client may retry.
        return _answer(request, 409, "conflict", "the change conflicts with a concurrent change")

    @app.exception_handler(OperationalError)
    async def _database(request: Request, error: OperationalError) -> Response:
        # Lock timeouts and lost connections: the transaction was rolled back, a retry may succeed.
        return _answer(request, 503, "database_unavailable", str(error.orig).splitlines()[0])
