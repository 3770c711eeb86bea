"""What a new password must be: long enough, not absurdly long, and not a common password.

The common passwords are the 30,000 most frequent of Xato's corpus of ten million leaked
passwords, as the maintained ``zxcvbn`` package ships them (``zxcvbn.frequency_lists``, MIT
licence; the list Dropbox's zxcvbn builds since its 4.2.0). They are compared case-insensitively:
``Qwerty123456`` is as common as ``qwerty123456``. With the minimum at 12 characters, the list's
long entries are the ones that still matter (``qwerty123456``, ``1q2w3e4r5t6y``, ...).
"""

from __future__ import annotations

from functools import cache

from verenigingen.auth.errors import PasswordTooCommon, PasswordTooLong, PasswordTooShort

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
"""scrypt hashes what it is given: a megabyte-long password would cost every login check."""


def check_new_password(password: str) -> None:
    """Refuse a password that breaks the policy (422 ``password_too_short``,
    ``password_too_long`` or ``password_too_common``); say nothing of an acceptable one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooLong(f"the password may have at most {MAX_PASSWORD_LENGTH} characters")
    if is_common_password(password):
        raise PasswordTooCommon(
            "the password is one of the most common passwords; choose another (a few unrelated "
            "words make a long password that is easy to remember)"
        )


def is_common_password(password: str) -> bool:
    """Whether ``password`` is on the common-password list, ignoring case."""
    return password.casefold() in _common_passwords()


@cache
def _common_passwords() -> frozenset[str]:
    # Loaded on the first password set, not at import: the module holds zxcvbn's other word lists
    # too (about 12 MB and 0.1 s), which the commands that set no password should not pay for.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    passwords: list[str] = FREQUENCY_LISTS["passwords"]
    return frozenset(entry.casefold() for entry in passwords)
