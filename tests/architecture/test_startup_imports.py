"""The API process loads what requests need and leaves the rest for first use.

An API process's memory is mostly its imports (docs/benchmarks.md, "Memory"). The packages
below serve the command line, the instruments or one rare request (a statement file, a SEPA
calendar, a creditor identifier): each is imported where it is used, so that a process that
serves requests (``python -m verenigingen.web.server``, what ``verenigingen serve`` becomes)
never holds them. Checked in a fresh interpreter, since this one has imported everything.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = Path(sys.executable).with_name("verenigingen")
NOT_IN_THE_API_PROCESS = frozenset(
    {
        "sqlglot",  # statement fingerprints of raw SQL, the index advisor
        "pyinstrument",  # the profiler
        "mt940",  # MT940 statement files
        "holidays",  # the TARGET2 calendar of SEPA collection dates
        "stdnum",  # SEPA creditor identifiers
        "lxml",  # SEPA files: pain.008's schema check, status reports, camt.053 statements
        "sqlalchemy.dialects.postgresql",  # the PostgreSQL engine's upserts and bulk inserts
        "alembic",  # the schema check and migrations: `verenigingen serve` checks before
        "mako",
        "typer",  # the command line
        "rich",
    }
)

# What ``python -m verenigingen.web.server --job-consumer`` loads before it serves: the app, and
# the task modules that its job consumer loads for the embedded shape.
API_PROCESS_START = """
from verenigingen.config import get_settings
from verenigingen.startup import load_all
from verenigingen.web.server import app_from_environment
app_from_environment()
load_all(get_settings())
"""

LIST_MODULES_AFTER = """
import sys
{statement}
print("\\n".join(sorted(sys.modules)))
"""


def embedded_environment(data_dir: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("VERENIGINGEN_DATABASE_URL", "VERENIGINGEN_REDIS_URL")
    }
    env["VERENIGINGEN_DATA_DIR"] = str(data_dir)
    return env


def modules_loaded_by(statement: str, env: dict[str, str]) -> set[str]:
    """The names in ``sys.modules`` after ``statement``, in a fresh interpreter (a package is
    there when any of its modules is)."""
    result = subprocess.run(  # noqa: S603  (this interpreter, a fixed script)
        [sys.executable, "-c", LIST_MODULES_AFTER.format(statement=statement)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(result.stdout.split())


def test_the_api_process_leaves_out_what_requests_never_need(tmp_path: Path) -> None:
    env = embedded_environment(tmp_path)
    subprocess.run(  # noqa: S603  (the project's own command, fixed arguments)
        [str(CLI), "init", "--admin-email", "admin@example.org"],
        env=env,
        capture_output=True,
        timeout=120,
        check=True,
    )
    loaded = modules_loaded_by(API_PROCESS_START, env)
    assert {"fastapi", "verenigingen"} <= loaded
    assert sorted(loaded & NOT_IN_THE_API_PROCESS) == []


def test_the_check_sees_a_package_that_is_loaded(tmp_path: Path) -> None:
    """The negative control: the command line loads Alembic, Typer and Rich at start-up."""
    loaded = modules_loaded_by("import verenigingen.cli.app", embedded_environment(tmp_path))
    assert {"alembic", "typer", "rich"} <= loaded
