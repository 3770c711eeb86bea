"""Fresh databases for the benchmarks: a SQLite file in a temporary directory, or a throw-away
database on a PostgreSQL server. Both are empty; the benchmark migrates or builds them, in
bulk inserts of :data:`CHUNK` rows (:func:`chunks`)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from verenigingen.db.engine import make_engine
from verenigingen.db.scratch import throwaway_database

CHUNK = 5_000
"""Rows per bulk insert while a benchmark builds its data."""


def chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """``rows`` in slices of :data:`CHUNK`, one executemany each."""
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


@contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'bench.db'}")
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgres_engine(server_url: str, prefix: str = "bench") -> Iterator[Engine]:
    with throwaway_database(server_url, prefix) as url:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
