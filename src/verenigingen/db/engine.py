"""Engines: SQLite with WAL and foreign keys, PostgreSQL on psycopg 3, MariaDB on PyMySQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

from verenigingen.config import Settings, get_settings


def normalise_url(url: str) -> str:
    """Pick our drivers when a URL names only the database (``postgresql://``, ``mysql://``)."""
    parsed = make_url(url)
    driver = {
        "postgresql": "postgresql+psycopg",
        "mysql": "mysql+pymysql",
        "mariadb": "mariadb+pymysql",
    }.get(parsed.drivername)
    if driver:
        parsed = parsed.set(drivername=driver)
    if parsed.get_backend_name() in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str | None = None, *, settings: Settings | None = None, **kwargs: Any
) -> Engine:
    settings = settings or get_settings()
    url = normalise_url(url or settings.resolved_database_url())
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, settings, **kwargs)
    options: dict[str, Any] = {
        "pool_pre_ping": True,
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_pool_size,
        # psycopg and PyMySQL both name it so; without it a host that never answers holds a
        # request (and a pool slot) for as long as TCP retries.
        "connect_args": {"connect_timeout": settings.db_connect_timeout_seconds},
    }
    if backend in ("mysql", "mariadb"):
        # READ COMMITTED like PostgreSQL: locking reads (FOR UPDATE) see the latest committed row
        # and plain reads do not hold gap locks that serialise unrelated inserts.
        options["isolation_level"] = "READ COMMITTED"
        options["pool_recycle"] = 3600
    options.update(kwargs)
    return create_engine(url, **options)


def _sqlite_engine(url: str, settings: Settings, **kwargs: Any) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    busy_timeout = settings.sqlite_busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (the pysqlite driver would defer it past reads).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock at the start, so two writers queue on busy_timeout
        # instead of one failing when it upgrades a stale read snapshot.
        # Read-only sessions bind with execution option sqlite_begin="DEFERRED".
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        statement = "BEGIN DEFERRED" if mode == "DEFERRED" else "BEGIN IMMEDIATE"
        # Sent on the driver's connection: SQLAlchemy's statement path (cursor, events, result)
        # cost half of a cached read's database time, for a statement that returns nothing and
        # that query capture counts apart anyway, by this same begin event. A refusal ("database
        # is locked" after busy_timeout) is raised as SQLAlchemy's OperationalError, as before.
        try:
            connection.connection.dbapi_connection.execute(statement)
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(
                statement, (), error, sqlite3.Error, dialect=connection.dialect
            ) from error

    return engine
