"""Each process's view of the runtime settings, and what one transaction reads from it.

A process keeps the values it last read from the database (:class:`LiveSettings`, one per
application context, read at start-up). The first time a transaction asks for a setting
(:func:`runtime_of`), the view reads the change signal (``settings.signal``: no SQL statement);
when the token is the one it saw at its last read, the kept values serve, else it reads the
settings table again (one statement, on a connection of its own, so that it sees what is
committed rather than what this transaction's snapshot holds) and keeps those. The values then
hold for the rest of the transaction: a request or a job sees one set of settings from start to
end.

So a change reaches every process at its next transaction that reads a setting, at the price of
one statement once per process and change; a transaction that reads no setting pays nothing, one
that does pays a Redis GET or the read of a small file.

A process that cannot read the signal (Redis down) reads the table at every such transaction
(correct, one statement more) and, once the signal answers again, once more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Final

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, SessionTransaction

from verenigingen.config import Settings, get_settings
from verenigingen.errors import ValidationFailed
from verenigingen.settings.models import RuntimeSetting
from verenigingen.settings.registry import DEFINITIONS, RuntimeValues, Value, defaults_of
from verenigingen.settings.signal import ChangeSignal, MemorySignal, SignalUnavailable

log = logging.getLogger(__name__)

LIVE_SETTINGS_KEY = "verenigingen.settings.live"
"""Where a session keeps the live settings of the process that opened it."""
_VALUES_KEY = "verenigingen.settings.values"
_CHANGED_KEY = "verenigingen.settings.changed"


class _Unseen:
    """No token seen yet (or the signal could not be read): the next look reads the table."""


UNSEEN: Final = _Unseen()

_STORED = select(RuntimeSetting.name, RuntimeSetting.value)


class LiveSettings:
    """One process's runtime settings: its defaults, the values it last read, the token seen."""

    def __init__(
        self, defaults: RuntimeValues, signal: ChangeSignal, database: Engine | None
    ) -> None:
        self.defaults = defaults
        """The environment's values (start-up settings): what a setting without a row has."""
        self.signal = signal
        # On SQLite a connection that only reads must not take the write lock (BEGIN IMMEDIATE):
        # the request that asks may hold it already.
        self._database = (
            database.execution_options(sqlite_begin="DEFERRED") if database is not None else None
        )
        self._lock = threading.Lock()
        self._values = defaults
        self._seen: str | _Unseen | None = UNSEEN

    @classmethod
    def start(
        cls, settings: Settings, signal: ChangeSignal, database: Engine | None
    ) -> LiveSettings:
        """The view of a process starting on ``database``: the stored values read once (one
        statement), unless there is no database (the defaults then hold for good)."""
        live = cls(defaults_of(settings), signal, database)
        if database is None:
            live._seen = None  # nothing to read; a MemorySignal stays None until a change
        else:
            live.current()
        return live

    @classmethod
    def of_defaults(cls, settings: Settings) -> LiveSettings:
        """A view that never reads a database: the environment's values, for an app built
        without one (the offline API document)."""
        return cls.start(settings, MemorySignal(), None)

    def current(self) -> RuntimeValues:
        """The values as of now: those kept while the signal is unchanged, else read again."""
        token: str | _Unseen | None
        try:
            token = self.signal.read()
        except SignalUnavailable as error:
            log.warning("runtime settings: %s; reading them from the database", error)
            token = UNSEEN
        with self._lock:
            if token is not UNSEEN and token == self._seen:
                return self._values
        # The token was read before the rows: a change committed after this read announces a
        # token of its own, which the next look sees.
        values = self._read() if self._database is not None else self.defaults
        with self._lock:
            self._values, self._seen = values, token
        return values

    def announce_change(self) -> None:
        """Tell every process (this one too) to read the settings again; after a commit."""
        with self._lock:
            self._seen = UNSEEN  # this process reads them again even if the signal fails
        try:
            self.signal.announce()
        except SignalUnavailable as error:
            log.error(
                "runtime settings: the change is committed but other processes were not told "
                "(%s); they see it after the next change or a restart",
                error,
            )

    def close(self) -> None:
        self.signal.close()

    def _read(self) -> RuntimeValues:
        assert self._database is not None
        with self._database.connect() as connection:
            rows = connection.execute(_STORED).all()
        return self.defaults.with_values(stored_values(rows))


def stored_values(rows: Iterable[tuple[str, str]]) -> dict[str, Value]:
    """The values of the stored rows ``(name, value)`` that the registry still knows and that
    still parse; any other row is left out (and logged), so its setting has its default."""
    values: dict[str, Value] = {}
    for name, text in rows:
        definition = DEFINITIONS.get(name)
        if definition is None:
            log.warning("runtime settings: ignoring the stored %r, which no setting has", name)
            continue
        try:
            values[name] = definition.parse(text)
        except ValidationFailed as error:
            log.warning("runtime settings: ignoring the stored %s: %s", name, error.detail)
    return values


_environment: tuple[Settings, RuntimeValues] | None = None


def environment_defaults() -> RuntimeValues:
    """The defaults of the environment's settings (``config.get_settings``), checked once per
    settings object rather than at every transaction outside a context (about 20 µs each)."""
    global _environment
    settings = get_settings()
    if _environment is None or _environment[0] is not settings:
        _environment = (settings, defaults_of(settings))
    return _environment[1]


def runtime_of(session: Session) -> RuntimeValues:
    """The runtime settings for ``session``'s transaction: read at its first call, the same for
    the rest of it (outside a transaction, read at each call). A session opened outside any
    application context (a script, a benchmark, a perf workload) has the environment's values."""
    values: RuntimeValues | None = session.info.get(_VALUES_KEY)
    if values is None:
        live = session.info.get(LIVE_SETTINGS_KEY)
        values = live.current() if isinstance(live, LiveSettings) else environment_defaults()
        if session.in_transaction():  # kept until the transaction ends (see _forget_values)
            session.info[_VALUES_KEY] = values
    return values


def defaults_for(session: Session) -> RuntimeValues:
    """The defaults ``session``'s process started with (the environment's values)."""
    live = session.info.get(LIVE_SETTINGS_KEY)
    return live.defaults if isinstance(live, LiveSettings) else environment_defaults()


def note_change(session: Session, name: str, value: Value) -> None:
    """A setting changed in ``session``'s transaction: the rest of the transaction sees the new
    value at once, and every process is told when (and only if) the transaction commits."""
    session.info[_VALUES_KEY] = runtime_of(session).with_values({name: value})
    session.info[_CHANGED_KEY] = True


# Listeners on the Session class, registered once; for a session that changed no setting they
# look up a key or two and return.


@event.listens_for(Session, "after_commit")
def _announce_after_commit(session: Session) -> None:
    if _CHANGED_KEY not in session.info or session.get_nested_transaction() is not None:
        return  # nothing changed, or a savepoint was released: wait for the real commit
    del session.info[_CHANGED_KEY]
    live = session.info.get(LIVE_SETTINGS_KEY)
    if isinstance(live, LiveSettings):
        live.announce_change()


@event.listens_for(Session, "after_rollback")
def _forget_change(session: Session) -> None:
    if session.get_nested_transaction() is None:
        session.info.pop(_CHANGED_KEY, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_values(session: Session, transaction: SessionTransaction) -> None:
    # Only the outermost transaction's end: the next transaction reads the settings afresh.
    if transaction.parent is None:
        session.info.pop(_VALUES_KEY, None)
