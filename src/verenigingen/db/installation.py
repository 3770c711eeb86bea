"""The installation's identity: a random id written once into its database.

Processes of one installation share its database; two installations may share a Redis (one
server for several associations, or a test and a production database side by side). What one
installation caches in Redis must never be served to another: the cache's keys carry this id
(:func:`verenigingen.cache.versioned.cache_from_settings`), so an entry written for another
database is never found, whatever the two installations' namespaces say.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base
from verenigingen.errors import DatabaseNotReady


class Installation(Base):
    """One row, written by the migration that created the table (``0006``)."""

    __tablename__ = "installation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    """A random UUID (hex with dashes), never changed."""
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())


def installation_id(engine: Engine) -> str:
    """The id of the installation whose database ``engine`` reaches (read once at start-up)."""
    with engine.connect() as connection:
        found = connection.scalar(select(Installation.id).order_by(Installation.created_at))
    if found is None:
        raise DatabaseNotReady("the database has no installation id; run `verenigingen init`")
    return found
