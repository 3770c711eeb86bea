"""The live view: what a transaction pays to see the settings, and how a change reaches it.

A transaction reads the change signal (no statement); the table is read once per process and
change (one statement); a rolled-back change tells no one; an unreadable signal costs a
statement per transaction, never a stale value.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from contexts import context_on
from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.config import Settings
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.perf.capture import capture
from verenigingen.settings import LiveSettings, defaults_of, runtime_of
from verenigingen.settings.models import RuntimeSetting
from verenigingen.settings.service import set_setting
from verenigingen.settings.signal import (
    FileSignal,
    MemorySignal,
    RedisSignal,
    SignalUnavailable,
    signal_from_settings,
)


@pytest.fixture
def context(fresh_sqlite: Engine) -> Iterator[AppContext]:
    context = context_on(fresh_sqlite)
    yield context
    context.jobs.close()


@pytest.fixture
def admin_id(fresh_sqlite: Engine) -> int:
    with unit_of_work(make_session_factory(fresh_sqlite)) as session:
        return create_user(session, "beheer@example.org", Role.ADMINISTRATOR).id


def change(context: AppContext, admin_id: int, name: str, value: object) -> None:
    with unit_of_work(context.sessions) as session:
        admin = session.get(User, admin_id)
        assert admin is not None
        set_setting(session, admin, name, value)


def statements_to_read(context: AppContext) -> tuple[bool, int]:
    """A new transaction's ``payment_history_cache``, and the statements it cost."""
    with context.sessions() as session, capture() as log:
        value = runtime_of(session).payment_history_cache
    return value, log.count


def test_a_process_reads_the_table_once_per_change(context: AppContext, admin_id: int) -> None:
    assert statements_to_read(context) == (True, 0)  # read at start-up
    change(context, admin_id, "payment_history_cache", False)
    assert statements_to_read(context) == (False, 1)
    assert statements_to_read(context) == (False, 0)


def test_the_changing_transaction_sees_its_change_at_once_and_others_at_their_next(
    context: AppContext, admin_id: int
) -> None:
    with context.sessions() as other:
        other.begin()
        assert runtime_of(other).payment_history_cache is True  # its transaction's values
        with unit_of_work(context.sessions) as session:
            admin = session.get(User, admin_id)
            assert admin is not None
            assert runtime_of(session).payment_history_cache is True
            set_setting(session, admin, "payment_history_cache", False)
            assert runtime_of(session).payment_history_cache is False
        assert runtime_of(other).payment_history_cache is True  # one set per transaction
        other.rollback()
        other.begin()
        assert runtime_of(other).payment_history_cache is False  # the next transaction


def test_a_rolled_back_change_tells_no_one(context: AppContext, admin_id: int) -> None:
    token = context.runtime.signal.read()

    def fail_after_the_change() -> None:
        with unit_of_work(context.sessions) as session:
            admin = session.get(User, admin_id)
            assert admin is not None
            set_setting(session, admin, "payment_history_cache", False)
            raise RuntimeError("the request failed after the change")

    with pytest.raises(RuntimeError):
        fail_after_the_change()
    assert context.runtime.signal.read() == token
    assert statements_to_read(context) == (True, 0)


class FlakySignal(MemorySignal):
    down = False

    def read(self) -> str | None:
        if self.down:
            raise SignalUnavailable("the signal is down")
        return super().read()


def test_an_unreadable_signal_reads_the_table_every_time_then_once_more(
    fresh_sqlite: Engine, admin_id: int
) -> None:
    signal = FlakySignal()
    context = AppContext.build(
        Settings(),
        database=fresh_sqlite,
        cache=context_on(fresh_sqlite).cache,
        runtime=LiveSettings.start(Settings(), signal, fresh_sqlite),
    )
    assert statements_to_read(context) == (True, 0)
    signal.down = True
    change(context, admin_id, "payment_history_cache", False)  # told no one: the signal is down
    assert statements_to_read(context) == (False, 1)
    assert statements_to_read(context) == (False, 1)
    signal.down = False
    assert statements_to_read(context) == (False, 1)  # the token it now reads is new to it
    assert statements_to_read(context) == (False, 0)
    context.close()


def test_stored_values_no_setting_reads_leave_the_default(
    fresh_sqlite: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    moment = dt.datetime(2026, 3, 2, 10, 0)
    with unit_of_work(make_session_factory(fresh_sqlite)) as session:
        session.execute(
            insert(RuntimeSetting),
            [
                {"name": name, "value": value, "updated_by": "x", "updated_at": moment}
                for name, value in [
                    ("history_cache_ttl_settled_seconds", "-5"),  # out of today's bounds
                    ("a_setting_since_removed", "true"),
                    ("history_recalculate_invoices", "7"),
                ]
            ],
        )
    live = LiveSettings.start(Settings(), MemorySignal(), fresh_sqlite)
    values = live.current()
    assert values.history_cache_ttl_settled_seconds == 3600
    assert values.history_recalculate_invoices == 7
    assert "a_setting_since_removed" in caplog.text
    assert "history_cache_ttl_settled_seconds" in caplog.text


def test_a_session_outside_any_context_has_the_environments_values(
    fresh_sqlite: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERENIGINGEN_DEFER_HEAVY_HANDLERS", "off")
    from verenigingen.config import get_settings

    get_settings.cache_clear()
    try:
        with Session(fresh_sqlite) as session, capture() as log:
            values = runtime_of(session)
        assert values == defaults_of(Settings())
        assert values.defer_heavy_handlers is False
        assert log.count == 0
    finally:
        get_settings.cache_clear()


def test_the_signal_follows_the_shape(tmp_path: Path, redis_url: str) -> None:
    embedded = signal_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(embedded, FileSignal)
    assert embedded.path == tmp_path / "settings-changed"
    distributed = signal_from_settings(Settings(redis_url=redis_url, jobs_namespace="vv"))
    assert isinstance(distributed, RedisSignal)
    assert distributed.key == "vv:settings:changed"
    distributed.close()


def test_a_file_signal_announces_a_new_token_each_time(tmp_path: Path) -> None:
    signal = FileSignal(tmp_path / "data" / "settings-changed")
    assert signal.read() is None
    signal.announce()
    first = signal.read()
    signal.announce()
    assert first is not None
    assert signal.read() not in (None, first)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["settings-changed"]
    (tmp_path / "data" / "settings-changed").unlink()
    (tmp_path / "data" / "settings-changed").mkdir()  # not a file: unreadable, unwritable
    with pytest.raises(SignalUnavailable):
        signal.read()
    with pytest.raises(SignalUnavailable):
        signal.announce()


def test_a_redis_signal_announces_a_new_token_each_time(redis_url: str) -> None:
    signal = RedisSignal(redis_url, f"test-settings-{uuid.uuid4().hex[:8]}:changed")
    try:
        assert signal.read() is None
        signal.announce()
        first = signal.read()
        signal.announce()
        assert first is not None
        assert signal.read() not in (None, first)
    finally:
        signal.client.delete(signal.key)
        signal.close()


def test_a_redis_that_is_down_costs_a_statement_not_a_stale_value(
    fresh_sqlite: Engine, admin_id: int
) -> None:
    # Nothing listens on port 1: every read and write of the signal fails at once.
    down = RedisSignal("redis://127.0.0.1:1/13", "test:settings:changed")
    with pytest.raises(SignalUnavailable):
        down.read()
    with pytest.raises(SignalUnavailable):
        down.announce()
    context = AppContext.build(
        Settings(),
        database=fresh_sqlite,
        cache=context_on(fresh_sqlite).cache,
        runtime=LiveSettings.start(Settings(), down, fresh_sqlite),
    )
    change(context, admin_id, "payment_history_cache", False)  # committed; the signal fails
    assert statements_to_read(context) == (False, 1)
    assert statements_to_read(context) == (False, 1)
    context.close()
