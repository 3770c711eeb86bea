"""``verenigingen init``: create or upgrade the database and make sure an administrator exists."""

from __future__ import annotations

import typer
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.cli.context import console, fail, transaction
from verenigingen.config import get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import current_revision, head_revision, upgrade

DEFAULT_ADMIN_EMAIL = "admin@example.org"


def init(
    admin_email: str = typer.Option(
        DEFAULT_ADMIN_EMAIL, help="Administrator created when none exists."
    ),
) -> None:
    """Create the database (or upgrade it to the current schema) and an administrator."""
    settings = get_settings()
    engine = make_engine()
    try:
        before = current_revision(engine)
        upgrade(engine)
    except OperationalError as error:
        raise fail(
            f"cannot reach the database: {str(error.orig).splitlines()[0]}. "
            "Check VERENIGINGEN_DATABASE_URL."
        ) from None
    head = head_revision(engine)
    url = engine.url.render_as_string(hide_password=True)
    if before == head:
        console.print(f"Database {url} is up to date (schema {head}).")
    else:
        console.print(f"Database {url} migrated from {before or 'empty'} to schema {head}.")
    with transaction(AppContext.build(settings, database=engine)) as session:
        has_admin = session.scalar(select(User.id).where(User.role == Role.ADMINISTRATOR).limit(1))
        if has_admin is None:
            create_user(session, admin_email, Role.ADMINISTRATOR, full_name="Administrator")
            console.print(
                f"Created administrator {admin_email}; get an API token with "
                f"`verenigingen users token {admin_email}`."
            )
    engine.dispose()
    if settings.database_url is None:
        console.print(f"Data directory: {settings.data_dir.resolve()}")
