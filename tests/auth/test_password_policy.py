"""The password policy: 12 characters at least, 1,024 at most, and not a common password."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.errors import PasswordTooCommon, PasswordTooLong, PasswordTooShort
from verenigingen.auth.models import Role, User
from verenigingen.auth.password_policy import check_new_password, is_common_password
from verenigingen.auth.passwords import verify_password
from verenigingen.auth.service import authenticate_password, create_user, set_password
from verenigingen.errors import ValidationFailed

ACCEPTABLE = "kamer-fiets-ui"  # 14 characters, on no list


def _user_count(session: Session) -> int:
    return session.scalar(select(func.count(User.id))) or 0


def test_twelve_characters_pass_and_eleven_do_not() -> None:
    check_new_password("a" * 5 + "b" * 7)  # 12
    with pytest.raises(PasswordTooShort, match="at least 12 characters"):
        check_new_password("a" * 5 + "b" * 6)  # 11


def test_length_counts_characters_not_bytes() -> None:
    check_new_password("ëëëëëëxyzxyz")  # 12 characters, 18 bytes in UTF-8
    with pytest.raises(PasswordTooShort):
        check_new_password("ëëëëëëëëëëë")  # 11 characters, 22 bytes


def test_more_than_1024_characters_are_refused() -> None:
    check_new_password("lang-" * 204 + "abcd")  # 1,024
    with pytest.raises(PasswordTooLong, match="at most 1024"):
        check_new_password("lang-" * 205)  # 1,025


@pytest.mark.parametrize("common", ["qwerty123456", "QWERTY123456", "1q2w3e4r5t6y", "Qazwsxedcrfv"])
def test_common_passwords_are_refused_whatever_their_case(common: str) -> None:
    assert is_common_password(common)
    with pytest.raises(PasswordTooCommon, match="most common passwords"):
        check_new_password(common)


def test_the_list_is_the_long_one_and_not_just_a_few_entries() -> None:
    assert is_common_password("password")
    assert is_common_password("dragon")
    assert not is_common_password(ACCEPTABLE)


@pytest.mark.parametrize(
    ("password", "error"),
    [
        ("elf-tekens!", PasswordTooShort),
        ("qwerty123456", PasswordTooCommon),
        ("x" * 1025, PasswordTooLong),
    ],
)
def test_create_user_refuses_a_bad_password_and_writes_nothing(
    session: Session, password: str, error: type[ValidationFailed]
) -> None:
    before = _user_count(session)
    with pytest.raises(error) as raised:
        create_user(session, "nieuw@example.org", Role.TREASURER, password=password)
    assert raised.value.status_code == 422
    assert _user_count(session) == before


def test_create_user_with_a_good_password_can_log_in(session: Session) -> None:
    user = create_user(session, "nieuw@example.org", Role.TREASURER, password=ACCEPTABLE)
    assert authenticate_password(session, "Nieuw@Example.org", ACCEPTABLE).id == user.id


def test_set_password_applies_the_policy_and_keeps_the_old_one_on_refusal(
    session: Session,
) -> None:
    user = create_user(session, "nieuw@example.org", Role.TREASURER, password=ACCEPTABLE)
    for bad in ("te-kort-nog", "Qwerty123456"):
        with pytest.raises(ValidationFailed):
            set_password(session, user, bad)
    session.expire_all()
    assert verify_password(ACCEPTABLE, session.get(User, user.id).password_hash)  # type: ignore[union-attr]

    set_password(session, user, "een-ander-lang-wachtwoord")
    session.expire_all()
    stored = session.get(User, user.id).password_hash  # type: ignore[union-attr]
    assert verify_password("een-ander-lang-wachtwoord", stored)
    assert not verify_password(ACCEPTABLE, stored)
