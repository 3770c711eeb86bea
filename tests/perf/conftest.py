"""Fixtures of the perf tests: the demo associations, built once per test session, and a data dir
that points the ``perf`` commands at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from verenigingen.config import get_settings
from verenigingen.perf.workloads.database import LARGE, SMALL, DemoDatabase


@pytest.fixture(scope="session")
def perf_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("perf-data")
    # Build both templates once; every run copies them.
    DemoDatabase(LARGE, directory / "perf").ensure_template()
    DemoDatabase(SMALL, directory / "perf").ensure_template()
    return directory


@pytest.fixture
def large_demo(perf_data_dir: Path) -> DemoDatabase:
    return DemoDatabase(LARGE, perf_data_dir / "perf")


@pytest.fixture
def small_demo(perf_data_dir: Path) -> DemoDatabase:
    return DemoDatabase(SMALL, perf_data_dir / "perf")


@pytest.fixture
def perf_settings(perf_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI's settings point at the session's data dir (and never at a configured database)."""
    monkeypatch.setenv("VERENIGINGEN_DATA_DIR", str(perf_data_dir))
    monkeypatch.delenv("VERENIGINGEN_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield perf_data_dir
    get_settings.cache_clear()
