"""The version row of each cache tag (DESIGN.md rule 5)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.dialects.mysql import VARCHAR
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base


class CacheTag(Base):
    """One row per tag (``member:42``); its version is bumped in the writer's transaction.

    A cached entry remembers the versions of its tags at the time it was computed; the entry is
    valid exactly while those versions are still the current ones. A tag without a row is at 0.
    """

    __tablename__ = "cache_tag"

    # Binary collation on MariaDB: ``member:A`` and ``member:a`` are two tags, as everywhere else.
    tag: Mapped[str] = mapped_column(
        String(120).with_variant(VARCHAR(120, collation="utf8mb4_bin"), "mysql", "mariadb"),
        primary_key=True,
    )
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
