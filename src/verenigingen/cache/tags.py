"""Tag versions: bumped by writers in their own transaction, read first by every lookup (rule 5)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Insert, bindparam, func, literal_column, select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from verenigingen.cache.models import CacheTag
from verenigingen.cache.writes import mark_written

MAX_TAG_LENGTH = 120

_VERSIONS = select(CacheTag.tag, CacheTag.version).where(
    CacheTag.tag.in_(bindparam("tags", expanding=True))
)
_cache_tag = CacheTag.__table__


def checked_tags(tags: Iterable[str]) -> list[str]:
    # Sorted and unique: concurrent writers lock the rows in the same order (no deadlock), and
    # PostgreSQL refuses an upsert that touches the same row twice in one statement.
    unique = sorted(set(tags))
    for tag in unique:
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"a cache tag has 1 to {MAX_TAG_LENGTH} characters, got {tag!r}")
    return unique


@functools.cache
def _upsert(dialect: str) -> Insert:
    """``INSERT (tag, 1)``, or ``version + 1`` when the tag exists, in the dialect's upsert."""
    # The constants are SQL literals, not bound values: the tag is the only parameter, which
    # PyMySQL's executemany needs to fold the rows into one multi-row INSERT.
    one: ColumnElement[int] = literal_column("1")
    values = {"tag": bindparam("tag"), "version": one}
    if dialect in ("mysql", "mariadb"):
        upsert: Any = mysql_insert(CacheTag).values(values)
        statement: Insert = upsert.on_duplicate_key_update(version=CacheTag.version + one)
        return statement
    if dialect == "postgresql":
        # Loaded with PostgreSQL's engine: 2 MB that an embedded API process does not need.
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        upsert = postgresql_insert(CacheTag)
    elif dialect == "sqlite":
        upsert = sqlite_insert(CacheTag)
    else:
        raise NotImplementedError(f"no upsert for the {dialect} dialect")
    statement = upsert.values(values).on_conflict_do_update(
        index_elements=[CacheTag.tag], set_={"version": CacheTag.version + one}
    )
    return statement


def bump_tags(session: Session, tags: Iterable[str]) -> None:
    """Invalidate every entry computed from ``tags``: their versions go up by one.

    Call it in the transaction of the write that changes the data, so the new versions become
    visible exactly when the new data does. One statement whatever the number of tags; a tag
    without a row is created at version 1.
    """
    unique = checked_tags(tags)
    if not unique:
        return
    # One executemany of a statement built once per dialect: a multi-row VALUES list would be
    # compiled afresh for every number of tags (a bulk write bumps hundreds), which cost more
    # than the upsert itself.
    statement = _upsert(session.get_bind().dialect.name)
    session.execute(statement, [{"tag": tag} for tag in unique])
    mark_written(session)


def current_versions(session: Session, tags: Sequence[str]) -> dict[str, int]:
    """The version of each tag (0 for a tag never bumped), in one primary-key query.

    No tags, no query: such an entry is only bounded by its time to live.
    """
    unique = checked_tags(tags)
    if not unique:
        return {}
    found: dict[str, int] = dict.fromkeys(unique, 0)
    # Core on the session's connection: the ORM layer would double the time of a cache hit, and
    # nothing here needs it (no entities, and a session with pending changes does not store).
    rows = session.connection().execute(_VERSIONS, {"tags": unique})
    for tag, version in rows:
        found[tag] = version
    return found


def tag_version(tag: ColumnElement[str]) -> ColumnElement[int]:
    """The current version of ``tag`` (0 for a tag never bumped), as a column to select.

    For a reader that learns its tags from the same row it must check first (a member's
    customer, say): one statement reads the row and the versions together, one snapshot, before
    anything cached is computed, which is what :func:`current_versions` would do in a second
    statement. Pass the result to ``VersionedCache.get_or_fill(..., versions=...)``.
    """
    version = select(_cache_tag.c.version).where(_cache_tag.c.tag == tag).scalar_subquery()
    return func.coalesce(version, 0)
