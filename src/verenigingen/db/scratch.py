"""Throw-away databases on a PostgreSQL or MariaDB server, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from verenigingen.db.engine import normalise_url


@contextlib.contextmanager
def throwaway_database(server_url: str, prefix: str = "vt") -> Iterator[str]:
    """Create an empty database beside the one ``server_url`` names; yield its URL; drop it.

    The name is ``<prefix>_<random>``, so concurrent runs on one server never meet.
    """
    url = make_url(normalise_url(server_url))
    postgres = url.get_backend_name() == "postgresql"
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        url.set(database="postgres") if postgres else url, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            suffix = "" if postgres else " CHARACTER SET utf8mb4"
            connection.execute(text(f"CREATE DATABASE {name}{suffix}"))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                force = " WITH (FORCE)" if postgres else ""
                connection.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
    finally:
        admin.dispose()
