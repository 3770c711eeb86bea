"""Tokens and logins at the service level: expiry, revocation, disabling, the lists."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth import queries
from verenigingen.auth.errors import LastEnabledAdministrator, NotOwnRecord, UserDisabled
from verenigingen.auth.models import ApiToken, Role, TokenState, User
from verenigingen.auth.service import (
    authenticate_password,
    authenticate_token,
    create_user,
    disable_user,
    enable_user,
    issue_token,
    new_token,
    revoke_token,
    revoke_tokens,
    revoke_user_tokens,
)
from verenigingen.db.paging import PageRequest
from verenigingen.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from verenigingen.perf.capture import capture

PASSWORD = "lang-genoeg-wachtwoord"


def _token_count(session: Session) -> int:
    return session.scalar(select(func.count(ApiToken.id))) or 0


def test_a_token_works_until_it_expires(any_session: Session, treasurer: User) -> None:
    issued = new_token(any_session, treasurer, label="ci", expires_in=dt.timedelta(days=1))
    assert issued.record.label == "ci"
    assert authenticate_token(any_session, issued.token).id == treasurer.id
    assert issued.record.expires_at is not None
    with clock.frozen(clock.today() + dt.timedelta(days=2)):
        with pytest.raises(NotAuthenticated, match="expired API token"):
            authenticate_token(any_session, issued.token)
        assert issued.record.state_at(clock.now()) is TokenState.EXPIRED


def test_a_token_without_expiry_works_until_revoked(any_session: Session, treasurer: User) -> None:
    token = issue_token(any_session, treasurer)
    with clock.frozen(dt.date(2200, 1, 1)):
        assert authenticate_token(any_session, token).id == treasurer.id
    assert revoke_tokens(any_session, treasurer) == 1
    with pytest.raises(NotAuthenticated, match="invalid or revoked"):
        authenticate_token(any_session, token)
    assert revoke_tokens(any_session, treasurer) == 0


@pytest.mark.parametrize(
    ("label", "days", "message"),
    [
        ("x" * 101, None, "at most 100 characters"),
        ("", 0, "1 to 3650 days"),
        ("", -1, "1 to 3650 days"),
        ("", 3651, "1 to 3650 days"),
    ],
)
def test_a_bad_label_or_lifetime_stores_no_token(
    session: Session, treasurer: User, label: str, days: int | None, message: str
) -> None:
    before = _token_count(session)
    expires_in = dt.timedelta(days=days) if days is not None else None
    with pytest.raises(ValidationFailed, match=message):
        new_token(session, treasurer, label=label, expires_in=expires_in)
    assert _token_count(session) == before


def test_a_disabled_users_tokens_stop_and_come_back_with_it(
    any_session: Session, admin: User, treasurer: User
) -> None:
    token = issue_token(any_session, treasurer)
    disable_user(any_session, admin, treasurer.id)
    with pytest.raises(NotAuthenticated):
        authenticate_token(any_session, token)
    with pytest.raises(UserDisabled):
        new_token(any_session, treasurer)
    enable_user(any_session, admin, treasurer.id)
    assert authenticate_token(any_session, token).id == treasurer.id


def test_the_last_enabled_administrator_cannot_be_disabled(
    any_session: Session, admin: User
) -> None:
    with pytest.raises(LastEnabledAdministrator):
        disable_user(any_session, admin, admin.id)
    assert admin.enabled
    second = create_user(any_session, "tweede@example.org", Role.ADMINISTRATOR)
    disable_user(any_session, second, admin.id)
    with pytest.raises(LastEnabledAdministrator):
        disable_user(any_session, second, second.id)
    # A disabled administrator may be disabled again: it changes nothing.
    assert disable_user(any_session, second, admin.id).enabled is False


def test_only_administrators_manage_users(
    session: Session, admin: User, treasurer: User, member_user: User
) -> None:
    for call in (
        lambda: disable_user(session, treasurer, member_user.id),
        lambda: enable_user(session, treasurer, member_user.id),
        lambda: revoke_user_tokens(session, treasurer, member_user.id),
        lambda: queries.list_users(session, member_user),
    ):
        with pytest.raises(PermissionDenied):
            call()
    with pytest.raises(NotFound):
        disable_user(session, admin, 10**12)


def test_revoking_one_token_owner_or_administrator(
    session: Session, admin: User, treasurer: User, member_user: User
) -> None:
    own = new_token(session, member_user).record
    other = new_token(session, treasurer).record
    with pytest.raises(NotOwnRecord):
        revoke_token(session, member_user, other.id)
    assert other.revoked_at is None
    assert revoke_token(session, member_user, own.id).revoked_at is not None
    assert revoke_token(session, admin, other.id).state_at(clock.now()) is TokenState.REVOKED
    first = other.revoked_at
    assert revoke_token(session, admin, other.id).revoked_at == first  # again: unchanged
    with pytest.raises(NotFound):
        revoke_token(session, admin, 10**12)


def test_token_list_own_or_administrator(
    session: Session, admin: User, treasurer: User, member_user: User
) -> None:
    first = new_token(session, treasurer, label="een").record
    second = new_token(session, treasurer, label="twee").record
    assert queries.list_tokens(session, treasurer, treasurer.id) == [first, second]
    assert queries.list_tokens(session, admin, treasurer.id) == [first, second]
    with pytest.raises(NotOwnRecord):
        queries.list_tokens(session, member_user, treasurer.id)
    with pytest.raises(NotFound):
        queries.list_tokens(session, admin, 10**12)


def test_user_list_counts_active_tokens_in_two_statements(
    any_session: Session, admin: User, treasurer: User, member_user: User
) -> None:
    issue_token(any_session, treasurer)
    new_token(any_session, treasurer, expires_in=dt.timedelta(days=1))
    revoke_token(any_session, admin, new_token(any_session, treasurer).record.id)
    new_token(any_session, member_user, expires_in=dt.timedelta(days=1))
    with clock.frozen(clock.today() + dt.timedelta(days=2)), capture() as captured:
        page = queries.list_users(any_session, admin, page=PageRequest(2, offset=1, count=True))
    assert captured.count == 2, captured.describe()
    assert page.total == 3
    assert [(s.user.email, s.active_tokens) for s in page.items] == [
        ("member@example.org", 0),
        ("treasurer@example.org", 1),
    ]


def test_a_password_authenticates_its_user_whatever_the_email_case(session: Session) -> None:
    user = create_user(session, "lid@example.org", Role.MEMBER, password=PASSWORD)
    assert authenticate_password(session, " Lid@Example.org ", PASSWORD).id == user.id


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("lid@example.org", "niet-het-wachtwoord"),
        ("onbekend@example.org", PASSWORD),
        ("zonder@example.org", PASSWORD),  # a token-only user: no password at all
        ("uit@example.org", PASSWORD),  # disabled
    ],
)
def test_a_failed_password_check_says_the_same_whatever_the_reason(
    session: Session, admin: User, email: str, password: str
) -> None:
    create_user(session, "lid@example.org", Role.MEMBER, password=PASSWORD)
    create_user(session, "zonder@example.org", Role.MEMBER)
    disabled = create_user(session, "uit@example.org", Role.MEMBER, password=PASSWORD)
    disable_user(session, admin, disabled.id)
    with pytest.raises(NotAuthenticated, match="wrong email or password"):
        authenticate_password(session, email, password)
