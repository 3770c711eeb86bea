"""Password hashes: argon2id (argon2-cffi) for every new hash; older scrypt hashes still verify.

A hash made before argon2 reads ``scrypt$n$r$p$salt$hash`` (the standard library's scrypt). It
is checked as it was, and :func:`needs_rehash` says it should be replaced: the sign-in that
proves the password stores an argon2 hash of it (``auth.web.sign_in``). So is an argon2 hash
made with weaker parameters than today's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults (RFC 9106's second recommendation: argon2id, t=3, m=64 MiB, p=4):
# about 50 ms a check on one core, what the scrypt hashes cost before.
_hasher = PasswordHasher()

_SCRYPT = "scrypt$"


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` with a random salt, in the PHC string format."""
    return _hasher.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` is the one ``stored`` was made of (argon2 or the older scrypt)."""
    if not stored:
        return False
    if stored.startswith(_SCRYPT):
        return _verify_scrypt(password, stored)
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """A scrypt hash, or an argon2 hash with other parameters than today's: replace it once the
    password is known (at the next sign-in)."""
    if stored.startswith(_SCRYPT):
        return True
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _scheme, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
        return hmac.compare_digest(candidate, base64.b64decode(digest))
    except ValueError:  # a malformed hash proves nothing
        return False
