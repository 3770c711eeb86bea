"""Query capture: every statement on every engine, with its fingerprint, time, rows and call site.

Listeners are installed once on the ``Engine`` class (SQLAlchemy's event API, no patching) and do
nothing unless a :func:`capture` block is active in the current context. Captures nest: an outer
capture (a request's Server-Timing) and an inner one (a test's ``assert_queries``) both see the
statement. Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is counted apart.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection, ExecutionContext
from sqlalchemy.orm import ORMExecuteState, Session

from verenigingen.perf.fingerprint import fingerprint_id, mask_literals, normalise

# A cached statement hands the cursor the same string object every time; memoising its
# normalised form saves a regex pass over the SQL per query (the largest part of capture's
# overhead on short reads, bench/capture_overhead.py).
_normalised = functools.lru_cache(maxsize=1024)(normalise)

# ``insert().values([...])`` compiles to one statement per number of rows; like an IN list, the
# number of rows must not split a fingerprint, so the rows collapse to the first one.
_ROW = r"\((?:[^()]|%\(\w+\)s)*\)"  # a row of placeholders: ?, :name or %(name)s
_VALUES_ROWS = re.compile(rf"(VALUES {_ROW})(?:, {_ROW})+")


@functools.lru_cache(maxsize=1024)
def _compiled_shape(sql: str) -> str:
    return _VALUES_ROWS.sub(r"\1", normalise(sql))


MAX_SQL_LENGTH = 2000
CALL_SITE_DEPTH = 3
_TRANSACTION_WORDS = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "START TRANSACTION")
_PERF_DIR = str(Path(__file__).resolve().parent)
_STDLIB_DIR = str(Path(contextlib.__file__).resolve().parent)


@dataclass(frozen=True, slots=True)
class Frame:
    path: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.function}"


@dataclass(slots=True)
class CapturedQuery:
    fingerprint: str
    """The statement's shape: compiled SQL before IN expansion, or raw SQL with literals masked."""
    sql: str
    """The SQL as sent (IN lists expanded); values are never recorded, only placeholders."""
    duration_ns: int
    rows: int | None
    """Rows returned or affected; None when the driver cannot tell (SQLite SELECT unless the
    capture counts rows)."""
    executemany: int
    """Parameter sets sent in one call (1 for a single execution)."""
    parameters_key: int | None
    """A hash of the parameter values (not the values), to tell repeated calls with other values."""
    call_site: tuple[Frame, ...]
    dialect: str

    @property
    def fingerprint_id(self) -> str:
        return fingerprint_id(self.fingerprint)

    @property
    def duration_ms(self) -> float:
        return self.duration_ns / 1e6


@dataclass(frozen=True, slots=True)
class LazyLoad:
    """A relationship loaded lazily for one parent object; read by ``perf.nplusone``."""

    relationship: str
    """``Parent.attribute``, e.g. ``Invoice.lines``."""
    parent: str
    """The parent's identity (class and primary key), to count distinct parents."""
    parent_table: str
    """The parent's table, to find the query that loaded the parents."""
    uselist: bool
    """A collection (one-to-many) rather than a single object (many-to-one)."""
    query_index: int
    """Index in ``QueryLog.queries`` of the SELECT the load emits."""
    call_site: tuple[Frame, ...]


@dataclass
class QueryLog:
    """What one capture saw."""

    count_rows: bool = False
    detail: bool = True
    """Call sites, parameter keys and lazy loads; off for the Server-Timing header."""
    queries: list[CapturedQuery] = field(default_factory=list)
    lazy_loads: list[LazyLoad] = field(default_factory=list)
    transactions: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def count(self) -> int:
        return len(self.queries)

    @property
    def duration_ms(self) -> float:
        return sum(query.duration_ns for query in self.queries) / 1e6

    @property
    def rows(self) -> int:
        return sum(query.rows or 0 for query in self.queries)

    def by_fingerprint(self) -> Counter[str]:
        return Counter(query.fingerprint for query in self.queries)

    def describe(self) -> str:
        """Numbered queries with their call sites, for assertion messages."""
        lines = []
        for number, query in enumerate(self.queries, 1):
            lines.append(f"{number}. {query.sql[:300]}")
            lines.extend(f"     at {frame}" for frame in query.call_site)
        return "\n".join(lines) or "(no queries)"

    def _add(self, query: CapturedQuery) -> None:
        with self._lock:
            self.queries.append(query)


_active: contextvars.ContextVar[tuple[QueryLog, ...]] = contextvars.ContextVar(
    "verenigingen_query_captures", default=()
)
_installed = False
_install_lock = threading.Lock()


@contextlib.contextmanager
def capture(*, count_rows: bool = False, detail: bool = True) -> Iterator[QueryLog]:
    """Record every statement sent in this context (and threads started with a copy of it).

    ``count_rows`` also counts the rows of ORM SELECTs on drivers that do not report them
    (SQLite); it buffers each ORM result once, so it is meant for profiling, not for requests.
    ``detail=False`` records only what a request's Server-Timing header needs (statement,
    duration, rows): walking the stack for call sites and watching ORM lazy loads are most of
    the capture's cost per statement, and only the detectors and assertion messages use them.
    """
    install()
    log = QueryLog(count_rows=count_rows, detail=detail)
    token = _active.set((*_active.get(), log))
    try:
        yield log
    finally:
        _active.reset(token)


def install() -> None:
    """Attach the listeners to every engine, once per process."""
    global _installed
    with _install_lock:
        if _installed:
            return
        event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
        event.listen(Engine, "after_cursor_execute", _after_cursor_execute)
        for name in (
            "begin",
            "commit",
            "rollback",
            "savepoint",
            "release_savepoint",
            "rollback_savepoint",
        ):
            event.listen(Engine, name, _transaction_listener(name))
        # Before _count_orm_rows: a listener that returns a result ends the chain.
        event.listen(Session, "do_orm_execute", _record_lazy_load)
        event.listen(Session, "do_orm_execute", _count_orm_rows)
        _installed = True


def _transaction_listener(name: str) -> Any:
    def listener(*_args: Any) -> None:
        for log in _active.get():
            log.transactions[name] += 1

    return listener


def _before_cursor_execute(
    _conn: Connection,
    _cursor: Any,
    _statement: str,
    _parameters: Any,
    context: ExecutionContext | None,
    _executemany: bool,
) -> None:
    if _active.get() and context is not None:
        context._verenigingen_started = time.perf_counter_ns()  # type: ignore[attr-defined]


def _after_cursor_execute(
    conn: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: ExecutionContext | None,
    executemany: bool,
) -> None:
    logs = _active.get()
    if not logs or context is None:
        return
    finished = time.perf_counter_ns()
    started = getattr(context, "_verenigingen_started", finished)
    head = statement.lstrip()[:20].upper()
    if head.startswith(_TRANSACTION_WORDS):
        return  # counted by the transaction events
    dialect = conn.dialect.name
    compiled = getattr(context, "compiled", None)
    if compiled is not None and getattr(compiled, "string", None):
        shape = _compiled_shape(compiled.string)
    else:
        shape = mask_literals(statement, dialect)
    rowcount = getattr(cursor, "rowcount", -1)
    rows = rowcount if isinstance(rowcount, int) and rowcount >= 0 else None
    if rows is not None and dialect == "sqlite" and cursor.description is not None:
        rows = None  # sqlite3 counts RETURNING rows only as they are fetched
    batch = len(parameters) if executemany and hasattr(parameters, "__len__") else 1
    detailed = any(log.detail for log in logs)
    query = CapturedQuery(
        fingerprint=shape,
        sql=_normalised(statement)[:MAX_SQL_LENGTH],
        duration_ns=finished - started,
        rows=rows,
        executemany=batch,
        parameters_key=None if executemany or not detailed else _parameters_key(parameters),
        call_site=call_site() if detailed else (),
        dialect=dialect,
    )
    for log in logs:
        log._add(query)


def _parameters_key(parameters: Any) -> int | None:
    try:
        if isinstance(parameters, dict):
            return hash(tuple(sorted((k, repr(v)) for k, v in parameters.items())))
        return hash(tuple(repr(value) for value in parameters))
    except TypeError:
        return None


def _record_lazy_load(state: ORMExecuteState) -> None:
    logs = [log for log in _active.get() if log.detail]
    if not logs or not state.is_select:
        return
    parent = state.lazy_loaded_from
    path = state.loader_strategy_path
    prop = getattr(path, "prop", None)
    if parent is None or prop is None:
        return
    identity = parent.key[1] if parent.key is not None else f"pending@{id(parent)}"
    site = call_site()
    for log in logs:
        with log._lock:
            log.lazy_loads.append(
                LazyLoad(
                    relationship=f"{prop.parent.class_.__name__}.{prop.key}",
                    parent=f"{parent.class_.__name__}{identity}",
                    parent_table=str(getattr(prop.parent.local_table, "name", "")),
                    uselist=bool(getattr(prop, "uselist", True)),
                    query_index=len(log.queries),
                    call_site=site,
                )
            )


def _count_orm_rows(state: ORMExecuteState) -> Any:
    logs = [log for log in _active.get() if log.count_rows]
    if not logs or not state.is_select:
        return None
    marks = [len(log.queries) for log in logs]
    result = state.invoke_statement()
    if getattr(result, "_unique_filter_state", None) is not None:
        # Joined eager loads of a collection: the ORM requires the caller's unique() before
        # any row is read, so buffering here would fail; its rows stay uncounted (None).
        return result
    frozen = result.freeze()
    rows = len(frozen.data)
    for log, mark in zip(logs, marks, strict=True):
        # The statement's own query is the first one after the mark; relationship loads follow.
        if len(log.queries) > mark and log.queries[mark].rows is None:
            log.queries[mark].rows = rows
    return frozen()


_ROOT = Path.cwd().resolve()
_application_paths: dict[CodeType, str | None] = {}


def _application_path(code: CodeType) -> str | None:
    """The display path of application code (the project and its tests); None for libraries."""
    try:
        return _application_paths[code]
    except KeyError:
        pass
    filename = code.co_filename
    path: str | None = None
    if not (
        filename.startswith("<")
        or "site-packages" in filename
        or filename.startswith((_STDLIB_DIR, _PERF_DIR, sys.prefix, sys.base_prefix))
    ):
        try:
            path = str(Path(filename).resolve().relative_to(_ROOT))
        except ValueError:
            path = filename
    _application_paths[code] = path
    return path


def call_site(depth: int = CALL_SITE_DEPTH) -> tuple[Frame, ...]:
    """The innermost ``depth`` frames of application code, skipping SQLAlchemy, Starlette,
    the standard library and this toolkit."""
    frames: list[Frame] = []
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and len(frames) < depth:
        path = _application_path(frame.f_code)
        if path is not None:
            frames.append(Frame(path, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    return tuple(frames)
