"""Changing settings: administrators only, checked before anything is written, each change
audited with who, old, new and when."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.db.paging import PageRequest
from verenigingen.errors import PermissionDenied, ValidationFailed
from verenigingen.settings import runtime_of
from verenigingen.settings.errors import InvalidSettingValue, SettingOutOfRange, UnknownSetting
from verenigingen.settings.models import RuntimeSetting, RuntimeSettingChange
from verenigingen.settings.service import (
    Source,
    get_setting,
    list_settings,
    reset_setting,
    set_setting,
    setting_changes,
)

pytestmark = pytest.mark.usefixtures("frozen_today")


def rows(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(RuntimeSetting)) or 0,
        session.scalar(select(func.count()).select_from(RuntimeSettingChange)) or 0,
    )


def test_set_get_reset_and_the_audit(session: Session, admin: User) -> None:
    changed = set_setting(session, admin, "history_refresh_above", "250")
    assert (changed.value, changed.default, changed.source) == (
        Decimal("250.00"),
        Decimal("100.00"),
        Source.DATABASE,
    )
    assert changed.updated_by == admin.email
    assert changed.updated_at is not None
    assert changed.updated_at.date() == clock.today()
    assert get_setting(session, admin, "history_refresh_above") == changed
    assert runtime_of(session).history_refresh_above == Decimal("250.00")
    again = set_setting(session, admin, "history_refresh_above", Decimal("300.00"))
    assert again.value == Decimal("300.00")
    reset = reset_setting(session, admin, "history_refresh_above")
    assert (reset.value, reset.source, reset.updated_by) == (Decimal("100.00"), Source.ENV, None)
    assert runtime_of(session).history_refresh_above == Decimal("100.00")
    found = setting_changes(session, admin, page=PageRequest(count=True))
    changes, total = found.items, found.total
    assert total == 3
    assert [
        (c.name, c.old_value, c.old_source, c.new_value, c.new_source, c.changed_by)
        for c in changes
    ] == [
        ("history_refresh_above", "300.00", "database", "100.00", "env", admin.email),
        ("history_refresh_above", "250.00", "database", "300.00", "database", admin.email),
        ("history_refresh_above", "100.00", "env", "250.00", "database", admin.email),
    ]
    assert all(isinstance(c.changed_at, dt.datetime) for c in changes)
    assert rows(session) == (0, 3)


def test_what_changes_nothing_is_not_audited(session: Session, admin: User) -> None:
    assert reset_setting(session, admin, "payment_history_cache").source is Source.ENV
    set_setting(session, admin, "payment_history_cache", "false")
    set_setting(session, admin, "payment_history_cache", False)
    assert rows(session) == (1, 1)


def test_a_paged_audit_of_one_setting(session: Session, admin: User) -> None:
    for seconds in (60, 120, 180):
        set_setting(session, admin, "history_cache_ttl_settled_seconds", seconds)
    set_setting(session, admin, "strategic_indexes", True)
    page = setting_changes(
        session,
        admin,
        name="history_cache_ttl_settled_seconds",
        page=PageRequest(2, offset=1, count=True),
    )
    assert page.total == 3
    assert [c.new_value for c in page.items] == ["120", "60"]
    walked = setting_changes(
        session, admin, name="history_cache_ttl_settled_seconds", page=PageRequest(2)
    )
    following = setting_changes(
        session,
        admin,
        name="history_cache_ttl_settled_seconds",
        page=PageRequest(2, after=walked.next_cursor),
    )
    assert [c.new_value for c in walked.items + following.items] == ["180", "120", "60"]
    with pytest.raises(ValidationFailed):
        setting_changes(session, admin, page=PageRequest(limit=501))
    with pytest.raises(UnknownSetting):
        setting_changes(session, admin, name="strategic_index")


def test_the_list_is_every_setting_in_the_registrys_order(session: Session, admin: User) -> None:
    set_setting(session, admin, "strategic_indexes", "on")
    listed = list_settings(session, admin)
    assert [s.definition.name for s in listed][:3] == [
        "defer_heavy_handlers",
        "payment_history_cache",
        "strategic_indexes",
    ]
    assert [(s.definition.name, s.source) for s in listed if s.source is Source.DATABASE] == [
        ("strategic_indexes", Source.DATABASE)
    ]


@pytest.mark.parametrize(
    "call",
    [
        lambda s, u: list_settings(s, u),
        lambda s, u: get_setting(s, u, "payment_history_cache"),
        lambda s, u: set_setting(s, u, "payment_history_cache", False),
        lambda s, u: reset_setting(s, u, "payment_history_cache"),
        lambda s, u: setting_changes(s, u),
    ],
)
@pytest.mark.parametrize("role", [Role.TREASURER, Role.MEMBERSHIP_SECRETARY, Role.MEMBER])
def test_only_administrators(
    session: Session, role: Role, call: Callable[[Session, User], Any]
) -> None:
    user = create_user(session, f"{role.value.replace(' ', '.').lower()}@example.org", role)
    with pytest.raises(PermissionDenied):
        call(session, user)
    assert rows(session) == (0, 0)


def test_a_disabled_administrator_may_not(session: Session, admin: User) -> None:
    admin.enabled = False
    with pytest.raises(PermissionDenied):
        set_setting(session, admin, "payment_history_cache", False)
    assert rows(session) == (0, 0)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("history_cache_ttl_outstanding_seconds", -60, SettingOutOfRange),
        ("history_recalculate_invoices", "five", InvalidSettingValue),
        ("no_such_setting", "1", UnknownSetting),
    ],
)
def test_a_refused_value_writes_nothing_and_changes_no_value(
    session: Session, admin: User, name: str, value: object, error: type[Exception]
) -> None:
    before = runtime_of(session)
    with pytest.raises(error, match=name):
        set_setting(session, admin, name, value)
    assert rows(session) == (0, 0)
    assert runtime_of(session) == before
