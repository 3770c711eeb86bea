"""What every command needs: the application context on the current schema, a unit of work, the
acting user."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.config import get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import check_schema
from verenigingen.db.session import unit_of_work
from verenigingen.errors import DatabaseNotReady, DomainError
from verenigingen.startup import load_all

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error on stderr and return the exit to raise."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def ready_context() -> AppContext:
    """The command's application context on the configured, migrated database (or exit), with
    every task and event subscriber loaded."""
    settings = get_settings()
    load_all(settings)
    return AppContext.build(settings, database=ready_engine())


def ready_engine() -> Engine:
    """The configured engine, or exit with a one-line message when it is unreachable or outdated."""
    try:
        engine = make_engine()
    except Exception as error:  # a malformed URL or a missing driver: say so in one line
        raise fail(f"cannot use VERENIGINGEN_DATABASE_URL: {error}") from None
    try:
        check_schema(engine)
    except DatabaseNotReady as error:
        engine.dispose()
        raise fail(error.detail) from None
    return engine


@contextlib.contextmanager
def transaction(context: AppContext) -> Iterator[Session]:
    """One command, one transaction; a domain error becomes a one-line error, nothing written."""
    try:
        with unit_of_work(context.sessions) as session:
            yield session
    except DomainError as error:
        raise fail(error.detail) from None
    except OperationalError as error:
        raise fail(f"database error: {str(error.orig).splitlines()[0]}") from None


def system_user(session: Session) -> User:
    """The first Administrator: command-line work is done in its name."""
    user = session.scalar(
        select(User)
        .where(User.role == Role.ADMINISTRATOR, User.enabled.is_(True))
        .order_by(User.id)
    )
    if user is None:
        raise fail("no administrator exists; run `verenigingen init` first")
    return user
