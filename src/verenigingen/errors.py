"""Domain errors. Each carries its error code and HTTP status; one handler in ``web`` maps them.

The five categories below are the platform's base classes: ``except Conflict`` catches every
rule that is a conflict. Their own codes (``not_found``, ``validation_failed``, ``conflict``,
``forbidden``, ``not_authenticated``) are for what is not a business rule: a missing record, a
request of the wrong shape, a role without the permission. A business rule gets a class of its
own, named after the rule, whose ``code`` is the class name in snake_case (``InvoiceNotDraft``
is ``invoice_not_draft``): clients act on the code, people read the detail. The rules live in
their domain's ``errors`` module (``billing/errors.py``, ``members/errors.py``, …); the money
rules, which every domain shares, live here. ``docs/api.md`` lists every code, and a test keeps
it complete.
"""

from __future__ import annotations


class DomainError(Exception):
    """The root of every domain error; raise a category or a rule, never this class itself."""

    code = "domain_error"
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """No record with the given id or name."""

    code = "not_found"
    status_code = 404


class ValidationFailed(DomainError):
    """The request is malformed: a wrong type, an unknown status, a limit out of range."""

    code = "validation_failed"
    status_code = 422


class Conflict(DomainError):
    """The request is valid but the record's state forbids it (cancel twice, approve rejected)."""

    code = "conflict"
    status_code = 409


class PermissionDenied(DomainError):
    """The acting user's role may not do this."""

    code = "forbidden"
    status_code = 403


class NotAuthenticated(DomainError):
    """No token, or a token or password that is unknown or revoked."""

    code = "not_authenticated"
    status_code = 401


# Money (verenigingen.money): every amount that enters the system.


class AmountNotANumber(ValidationFailed):
    """An amount is not a number: a boolean, or text other than plain decimal digits (``12.50``;
    no exponent, separators, spaces or other scripts' digits)."""

    code = "amount_not_a_number"


class AmountNotFinite(ValidationFailed):
    """An amount is infinite or not a number (``NaN``, ``Infinity``)."""

    code = "amount_not_finite"


class AmountTooPrecise(ValidationFailed):
    """An amount has more than two decimals."""

    code = "amount_too_precise"


class AmountNotPositive(ValidationFailed):
    """An amount is negative, or zero where it must be greater than zero."""

    code = "amount_not_positive"


class AmountTooLarge(ValidationFailed):
    """An amount, an invoice line or an invoice total over 9,999,999,999.99 (what a
    ``Numeric(12, 2)`` column holds)."""

    code = "amount_too_large"


# Bank accounts: the IBAN and BIC of members and mandates.


class InvalidIban(ValidationFailed):
    """Not a valid IBAN (wrong length, country or mod-97 checksum)."""

    code = "invalid_iban"


class InvalidBic(ValidationFailed):
    """Not a valid BIC."""

    code = "invalid_bic"


# The database (verenigingen.db.migrate): met by the command line before it starts.


class DatabaseNotReady(DomainError):
    """The database cannot be reached or is not on the current schema (run
    ``verenigingen init``)."""

    code = "database_not_ready"
    status_code = 503
