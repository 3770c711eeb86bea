"""``verenigingen settings``: list, get, set, reset and history on the embedded shape, and the
perf gate's tolerance read from the setting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select
from typer.testing import CliRunner

from verenigingen.cli.app import app
from verenigingen.cli.perf import regression_tolerance
from verenigingen.config import get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory
from verenigingen.settings.models import RuntimeSetting, RuntimeSettingChange

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("VERENIGINGEN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VERENIGINGEN_DATABASE_URL", raising=False)
    monkeypatch.delenv("VERENIGINGEN_REDIS_URL", raising=False)
    # A terminal wide enough for the tables (the runner's is 80 columns).
    monkeypatch.setattr("verenigingen.cli.settings.console", Console(width=250, soft_wrap=True))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args: str) -> str:
    result = runner.invoke(app, ["settings", *args])
    assert result.exit_code == 0, result.output
    return result.output


def rows(data_dir: Path) -> tuple[int, int]:
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    with make_session_factory(engine)() as session:
        counted = (
            session.scalar(select(func.count()).select_from(RuntimeSetting)) or 0,
            session.scalar(select(func.count()).select_from(RuntimeSettingChange)) or 0,
        )
    engine.dispose()
    return counted


def test_set_get_reset_and_history(data_dir: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    listing = run("list")
    assert "payment_history_cache" in listing
    assert "1 to 604800" in listing
    assert run("get", "payment_history_cache").strip() == "payment_history_cache = true (default)"
    changed = run("set", "payment_history_cache", "off")
    assert changed.strip() == "payment_history_cache: true (env) -> false"
    shown = run("get", "payment_history_cache")
    assert "payment_history_cache = false (set by admin@example.org at " in shown
    assert "default true" in shown
    # The change told the other processes of the embedded shape, through the data directory.
    assert (data_dir / "settings-changed").is_file()
    assert run("reset", "payment_history_cache").strip() == (
        "payment_history_cache: false (database) -> true (default)"
    )
    history = run("history")
    assert "2 changes" in history
    assert "false (database)" in history
    assert "true (env)" in history
    assert "admin@example.org" in history
    assert "no runtime setting was changed yet" in run("history", "strategic_indexes")
    assert rows(data_dir) == (0, 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["set", "history_cache_ttl_outstanding_seconds", "--", "-5"],
            "history_cache_ttl_outstanding_seconds must be 1 to 604800 seconds, got -5",
        ),
        (["set", "payment_history_cache", "maybe"], "payment_history_cache is a flag"),
        (["set", "no_such_setting", "1"], "no runtime setting is called 'no_such_setting'"),
        (["get", "no_such_setting"], "no runtime setting is called 'no_such_setting'"),
        (["reset", "no_such_setting"], "no runtime setting is called 'no_such_setting'"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    data_dir: Path, args: list[str], message: str
) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["settings", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert rows(data_dir) == (0, 0)
    assert not (data_dir / "settings-changed").exists()


def test_the_perf_gate_takes_its_tolerance_from_the_setting(data_dir: Path) -> None:
    assert regression_tolerance() == (0.05, "the default")  # no database: nothing is created
    assert not (data_dir / "verenigingen.db").exists()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert regression_tolerance() == (0.05, "the setting")
    run("set", "perf_regression_tolerance_percent", "7.5")
    assert regression_tolerance() == (0.075, "the setting")
