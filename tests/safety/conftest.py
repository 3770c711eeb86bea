"""Fixtures of the safety monitor's tests: a committed installation on a fresh SQLite file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from safety_factories import Installation, install
from sqlalchemy import Engine

from contexts import context_on
from verenigingen.app_context import AppContext


@pytest.fixture
def context(fresh_sqlite: Engine) -> Iterator[AppContext]:
    context = context_on(fresh_sqlite)
    yield context
    context.jobs.close()


@pytest.fixture
def installation(context: AppContext) -> Installation:
    return install(context)
