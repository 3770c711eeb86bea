"""Sessions and the unit of work. Only boundaries (web, cli, jobs) open and commit them (rule 1)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_session_factory(
    engine: Engine, *, info: dict[str, object] | None = None
) -> sessionmaker[Session]:
    """Sessions on ``engine``; each starts with a copy of ``info`` (what the application context
    gives its sessions, see :mod:`verenigingen.app_context`)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True, info=info)


@contextlib.contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit when the block ends normally, roll back when it raises."""
    with factory() as session, session.begin():
        yield session


@contextlib.contextmanager
def read_only(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads; on SQLite it does not take the write lock."""
    engine = factory.kw["bind"]
    with Session(bind=engine.execution_options(sqlite_begin="DEFERRED")) as session:
        try:
            yield session
        finally:
            session.rollback()
