"""Rules of users, logins and who may read what (see ``verenigingen.errors`` for the scheme)."""

from __future__ import annotations

from verenigingen.errors import Conflict, DomainError, PermissionDenied, ValidationFailed


class NotOwnRecord(PermissionDenied):
    """A member (or a user) asked for a record that is not its own: another member's invoice,
    payment, mandate or history, another user's job or notification."""

    code = "not_own_record"


class LoginNotLinkedToMember(PermissionDenied):
    """A Member login that is linked to no member record (or to one without a customer)."""

    code = "login_not_linked_to_member"


class PasswordTooShort(ValidationFailed):
    """A new password shorter than the minimum length (12 characters)."""

    code = "password_too_short"


class PasswordTooLong(ValidationFailed):
    """A new password longer than 1,024 characters."""

    code = "password_too_long"


class PasswordTooCommon(ValidationFailed):
    """A new password that is on the list of the most common passwords (case ignored)."""

    code = "password_too_common"


class UserAlreadyExists(Conflict):
    """A user with this email address already exists."""

    code = "user_already_exists"


class UserDisabled(Conflict):
    """Issuing a token for a disabled user (enable it first)."""

    code = "user_disabled"


class LastEnabledAdministrator(Conflict):
    """Disabling the only enabled Administrator: no one could manage users any more."""

    code = "last_enabled_administrator"


class TooManyAttempts(DomainError):
    """Too many failed authentications from this address, or for this account, in the last
    minutes; the ``Retry-After`` header says in how many seconds to try again."""

    code = "too_many_attempts"
    status_code = 429

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class TooManyResetRequests(TooManyAttempts):
    """Too many password reset requests from this address, or for this email, in the window
    (``password_reset_window_seconds``): every request counts, whether the email has a login or
    not, so the answer still never tells who has one."""

    code = "too_many_reset_requests"


class PasswordResetLinkInvalid(ValidationFailed):
    """A password reset link that is unknown, used, superseded by a newer one or expired (the
    pages' password reset; one answer for all, so a link's fate is not told)."""

    code = "password_reset_link_invalid"
