"""The seeded demo association the workloads run on: built once, copied for every run.

Building the demo through the services takes seconds; copying the SQLite file takes
milliseconds. The template is cached under a name made of the demo options, the schema head and
a digest of the demo generator, so a change to any of them builds a new one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from verenigingen import __version__
from verenigingen.auth.models import Role, User
from verenigingen.config import get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import head_revision, upgrade
from verenigingen.db.session import make_session_factory
from verenigingen.demo import generator
from verenigingen.demo.generator import DemoOptions, load_demo

DEMO_END = dt.date(2024, 12, 31)
"""A fixed last day, so the association (and every count measured on it) never moves with time."""
DEMO_SEED = 7
LARGE = DemoOptions(members=200, months=12, seed=DEMO_SEED, end=DEMO_END)
"""The association the workloads are measured on."""
SMALL = DemoOptions(members=100, months=6, seed=DEMO_SEED, end=DEMO_END)
"""Half the members and half the history: the second size of the scale check."""
RUN_DAY = DEMO_END + dt.timedelta(days=1)
"""The workloads run on the day after the demo ends (the clock is frozen there)."""


def cache_dir() -> Path:
    """Where templates and per-run copies live: ``<data dir>/perf``."""
    return get_settings().data_dir / "perf"


@functools.lru_cache(maxsize=1)
def _schema_head() -> str:
    return head_revision(make_engine("sqlite://")) or "empty"


@functools.lru_cache(maxsize=1)
def _generator_digest() -> str:
    source = Path(generator.__file__).read_bytes()
    return hashlib.sha256(source).hexdigest()[:8]


@dataclass(frozen=True)
class DemoDatabase:
    """A demo association of the given options, as a template file and fresh copies of it."""

    options: DemoOptions
    directory: Path

    @property
    def size(self) -> int:
        """The N of the scale check: members who applied."""
        return self.options.members

    def template_path(self) -> Path:
        o = self.options
        end = o.end or DEMO_END
        head, digest = _schema_head(), _generator_digest()
        name = f"demo-{o.members}m-{o.months}mo-s{o.seed}-{end:%Y%m%d}-{head}-{digest}"
        return self.directory / f"{name}-v{__version__}.db"

    def ensure_template(self) -> Path:
        """Build the template unless a complete one is cached; return its path."""
        path = self.template_path()
        if path.exists():
            return path
        self.directory.mkdir(parents=True, exist_ok=True)
        # Built under a temporary name and renamed: a crash or a concurrent build never leaves
        # a half-built template under the final name.
        building = path.with_name(f".{path.stem}-{uuid.uuid4().hex[:8]}.db")
        engine = make_engine(f"sqlite:///{building}")
        try:
            upgrade(engine)
            load_demo(make_session_factory(engine), self.options)
        finally:
            engine.dispose()  # the last connection closing checkpoints the WAL into the file
        _drop_wal_files(building)
        os.replace(building, path)
        return path

    @contextlib.contextmanager
    def fresh_copy(self) -> Iterator[Engine]:
        """An engine on a private copy of the template, deleted afterwards."""
        template = self.ensure_template()
        runs = self.directory / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="run-", suffix=".db", dir=runs)
        os.close(handle)
        copy = Path(name)
        shutil.copyfile(template, copy)
        engine = make_engine(f"sqlite:///{copy}")
        try:
            yield engine
        finally:
            engine.dispose()
            for path in (copy, *_wal_files(copy)):
                path.unlink(missing_ok=True)


def _wal_files(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _drop_wal_files(path: Path) -> None:
    # After a clean close the WAL is empty; make sure before copying only the main file.
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for extra in _wal_files(path):
        extra.unlink(missing_ok=True)


def acting_user(session: Session) -> User:
    """The demo's first Administrator: the workloads act in its name, as the CLI does."""
    user = session.scalar(
        select(User).where(User.role == Role.ADMINISTRATOR).order_by(User.id).limit(1)
    )
    if user is None:
        raise LookupError("the demo database has no Administrator")
    return user


def sqlite_version() -> str:
    return sqlite3.sqlite_version
