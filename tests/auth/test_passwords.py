"""Password hashes: argon2id for new ones; the older scrypt hashes verify and ask to be replaced."""

from __future__ import annotations

import base64
import hashlib

from verenigingen.auth.passwords import hash_password, needs_rehash, verify_password

PASSWORD = "lang-genoeg-wachtwoord"


def scrypt_hash(password: str) -> str:
    salt = b"fedcba9876543210"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    encoded = [base64.b64encode(salt).decode(), base64.b64encode(digest).decode()]
    return "$".join(["scrypt", "16384", "8", "1", *encoded])


def test_a_new_hash_is_argon2id_and_salted() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert first != second
    assert verify_password(PASSWORD, first)
    assert not verify_password(PASSWORD + "x", first)
    assert not needs_rehash(first)


def test_an_older_scrypt_hash_verifies_and_needs_a_rehash() -> None:
    stored = scrypt_hash(PASSWORD)
    assert verify_password(PASSWORD, stored)
    assert not verify_password("een-ander-wachtwoord", stored)
    assert needs_rehash(stored)


def test_weaker_argon2_parameters_need_a_rehash() -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert verify_password(PASSWORD, weak)
    assert needs_rehash(weak)


def test_nothing_and_malformed_hashes_prove_nothing() -> None:
    for stored in (None, "", "scrypt$1$2", "scrypt$x$8$1$!!$!!", "$argon2id$broken", "plain"):
        assert not verify_password(PASSWORD, stored)
    assert needs_rehash("plain")
