"""Real servers for tests: their URLs (skip, or fail when services are required) and
throw-away databases on them. Used by conftest's fixtures and by tests that need a database
of their own."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import upgrade
from verenigingen.db.scratch import throwaway_database

REQUIRE_SERVICES = os.environ.get("VERENIGINGEN_REQUIRE_SERVICES") == "1"


def service_url(variable: str) -> str:
    """The URL of a real service for this test, or skip (fail when services are required)."""
    url = os.environ.get(variable)
    if not url:
        message = f"{variable} is not set"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message} and VERENIGINGEN_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(f"{message}; set it to run this test against the real server")
    return url


def server_database(variable: str) -> Iterator[str]:
    """Create a throw-away database on the server named by ``variable``; drop it afterwards."""
    server = service_url(variable)
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(throwaway_database(server, f"vt_{os.getpid()}"))
        except SQLAlchemyError as error:
            if REQUIRE_SERVICES:
                pytest.fail(f"cannot use the server at {variable}: {error}", pytrace=False)
            pytest.skip(f"cannot use the server at {variable}: {error}")
        yield url


def committed_engine_on(variable: str) -> Iterator[Engine]:
    """A migrated throw-away database on the server named by ``variable``, as an engine."""
    for url in server_database(variable):
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()
