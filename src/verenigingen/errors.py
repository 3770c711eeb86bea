"""Domain errors. Each carries its error code and HTTP status; one handler in ``web`` maps them."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    code = "not_found"
    status_code = 404


class ValidationFailed(DomainError):
    code = "validation_failed"
    status_code = 422


class Conflict(DomainError):
    """The request is valid but the record's state forbids it (cancel twice, approve rejected)."""

    code = "conflict"
    status_code = 409


class PermissionDenied(DomainError):
    code = "forbidden"
    status_code = 403


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status_code = 401
