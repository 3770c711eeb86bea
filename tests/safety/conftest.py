"""Fixtures of the safety monitor's tests: a committed installation on a fresh SQLite file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from safety_factories import Installation, install
from sqlalchemy import Engine

from contexts import context_on
from verenigingen.app_context import AppContext


@pytest.fixture(autouse=True)
def _a_probe_limit_no_busy_machine_reaches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The performance check times real payment submits; a shared CI machine can make one take
    a second. Tests that want the check to fail set a low limit and a handler slower than it."""
    monkeypatch.setenv("VERENIGINGEN_SAFETY_PAYMENT_SUBMIT_P95_MS", "60000")


@pytest.fixture
def context(fresh_sqlite: Engine) -> Iterator[AppContext]:
    context = context_on(fresh_sqlite)
    yield context
    context.jobs.close()


@pytest.fixture
def installation(context: AppContext) -> Installation:
    return install(context)
