"""The fresh demo association a validation runs on, and its two sides.

The association is built once through the demo generator (the real services) into a template
file, with a bearer token for its administrator. Each side is a copy of that file with its own
application context, app and in-process ASGI client:

- ``off``: the runtime settings ``defer_heavy_handlers`` and ``payment_history_cache`` off and
  ``strategic_indexes`` false, the strategic indexes and the two history indexes the migrations
  ship dropped (the bare schema: invoices and allocations by primary key only, as the original
  had them);
- ``on``: the flags on and the strategic indexes added by the index manager.

The settings are stored before the side's context starts, so its live view reads them at once,
as a process that starts after an administrator changed them. Jobs go to an in-memory engine
per side: nothing runs them until :mod:`verenigingen.perf.validation.jobs` drains the ``on``
side's queue.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import issue_token
from verenigingen.config import Settings
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import upgrade
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.demo.generator import DemoOptions, load_demo
from verenigingen.indexes import catalog
from verenigingen.indexes.service import add_indexes
from verenigingen.jobs.engine import JobEngine
from verenigingen.settings.service import set_setting

SideName = Literal["off", "on"]
HISTORY_INDEXES = ("ix_invoice_customer_posting", "ix_payment_allocation_invoice_id")
"""Indexes the migrations ship that serve the history reads; the bare schema has neither."""
FLAGS = ("defer_heavy_handlers", "payment_history_cache", "strategic_indexes")


@dataclass(frozen=True)
class Face:
    """What the entry point hands the suite: its start-up and its app factory (an instrument
    imports neither: the face and the start-up sit above it)."""

    load_all: Callable[[Settings], None]
    """Register the tasks and event subscribers (``verenigingen.startup.load_all``)."""
    create_app: Callable[[AppContext], Any]
    """The ASGI app on a context (``verenigingen.web.app.create_app``)."""


@dataclass(frozen=True)
class Association:
    """The template file of the demo association and how to act on it."""

    template: Path
    options: DemoOptions
    token: str
    """A bearer token of the demo's administrator (Server-Timing is shown to administrators)."""


def build_association(directory: Path, options: DemoOptions) -> Association:
    """Migrate a new SQLite file in ``directory``, load the demo association into it and issue
    the administrator's token."""
    directory.mkdir(parents=True, exist_ok=True)
    template = directory / "association.db"
    template.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{template}")
    try:
        upgrade(engine)
        factory = make_session_factory(engine)
        load_demo(factory, options)
        with unit_of_work(factory) as session:
            token = issue_token(session, administrator(session), label="perf validate")
    finally:
        engine.dispose()  # the last connection checkpoints the WAL into the file
    return Association(template, options, token)


def administrator(session: Session) -> User:
    user = session.scalar(
        select(User).where(User.role == Role.ADMINISTRATOR).order_by(User.id).limit(1)
    )
    if user is None:
        raise LookupError("the demo association has no administrator")
    return user


@dataclass(frozen=True)
class Timed:
    """One request as the server answered it."""

    status: int
    server_ms: float
    """The Server-Timing total: database and application time, no transport."""
    statements: int
    body: Any


@dataclass
class Side:
    name: SideName
    context: AppContext
    client: Any
    """Starlette's TestClient on the side's app (the ASGI app called in process)."""
    database_file: Path

    def call(self, method: str, path: str, **kwargs: Any) -> Timed:
        response = self.client.request(method, path, **kwargs)
        server_ms, statements = server_timing(response.headers.get("server-timing", ""))
        body = (
            response.json() if response.headers.get("content-type") == "application/json" else None
        )
        return Timed(response.status_code, server_ms, statements, body)

    @property
    def engine(self) -> Engine:
        return self.context.database


def server_timing(header: str) -> tuple[float, int]:
    """(total ms, statements) of a ``Server-Timing`` header: ``db;dur=..;desc="N queries",
    app;dur=..``."""
    total, statements = 0.0, 0
    for part in header.split(","):
        fields = [field.strip() for field in part.split(";")]
        for field in fields[1:]:
            if field.startswith("dur="):
                total += float(field[4:])
            elif field.startswith('desc="') and field.endswith(' queries"'):
                statements = int(field[6:].split()[0])
    return total, statements


@contextmanager
def open_side(
    association: Association, name: SideName, directory: Path, face: Face
) -> Iterator[Side]:
    """A copy of the association configured as side ``name``, served in process."""
    folder = directory / name
    folder.mkdir(parents=True, exist_ok=True)
    database_file = folder / "verenigingen.db"
    shutil.copyfile(association.template, database_file)
    settings = Settings(data_dir=folder, database_url=None, redis_url=None)
    face.load_all(settings)
    engine = make_engine(settings.resolved_database_url())
    optimized = name == "on"
    configure(engine, optimized=optimized)
    context = AppContext.build(
        settings, database=engine, jobs=JobEngine.memory(f"perf-validate-{name}")
    )
    # Starlette's test client still runs on httpx and says so on import.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

    client = TestClient(
        face.create_app(context), headers={"authorization": f"Bearer {association.token}"}
    )
    try:
        yield Side(name, context, client, database_file)
    finally:
        client.close()
        context.close()


def configure(engine: Engine, *, optimized: bool) -> None:
    """Store the flags of the side (and its indexes: added by the index manager, or dropped)."""
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        user = administrator(session)
        for flag in FLAGS:
            set_setting(session, user, flag, optimized, actor="perf validate")
        session.expunge(user)
    if optimized:
        failed = [o for o in add_indexes(engine, user, catalog.STRATEGIC) if o.failed]
        if failed:
            raise RuntimeError(
                f"strategic index not built: {failed[0].spec.name}: {failed[0].detail}"
            )
        return
    inspector = inspect(engine)
    present: set[str] = set()
    for table in inspector.get_table_names():
        present.update(str(index["name"]) for index in inspector.get_indexes(table))
    bare = sorted(present & {*catalog.strategic_names(), *HISTORY_INDEXES})
    with engine.begin() as connection:
        for index_name in bare:
            connection.exec_driver_sql(f'DROP INDEX "{index_name}"')
