"""The application context: what a process builds once at start-up and hands to its boundaries.

The settings, the database, the cache and the job engine are built here, from the settings the
entry point read, instead of being looked up in module globals by whoever needs them. The web
app keeps its context on ``app.state`` and hands it to routes as a dependency; the command line
builds one per command; tests build one around their own engine.

Every session a context opens carries the context (``session.info``). That is how the pieces
that only see a unit of work reach it without a global: an event subscriber reads the settings
with :func:`settings_of`, the history service its cache with :func:`context_of`, any code the
runtime settings with :func:`verenigingen.settings.runtime_of` (through the context's live
view), and the outbox hands the jobs of a committed session to that session's job engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.auth.throttle import AuthThrottle
from verenigingen.cache.versioned import VersionedCache, cache_from_settings
from verenigingen.config import Settings, get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.installation import installation_id
from verenigingen.db.session import make_session_factory
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.outbox import JOB_ENGINE_KEY
from verenigingen.settings.live import LIVE_SETTINGS_KEY, LiveSettings
from verenigingen.settings.signal import signal_from_settings

CONTEXT_KEY = "verenigingen.context"


@dataclass
class AppContext:
    """One process's settings, database, cache, job engine and authentication throttle, and the
    sessions that use them."""

    settings: Settings
    database: Engine
    cache: VersionedCache
    jobs: JobEngine
    throttle: AuthThrottle
    """Counts failed authentications; in Redis when the installation has one."""
    runtime: LiveSettings
    """The runtime settings as this process last read them (``verenigingen.settings``)."""
    sessions: sessionmaker[Session] = field(init=False)
    """Sessions for writes; each carries this context."""
    read_sessions: sessionmaker[Session] = field(init=False)
    """Sessions for reads; on SQLite their transaction starts DEFERRED (no write lock)."""

    def __post_init__(self) -> None:
        info = self.session_info()
        self.sessions = make_session_factory(self.database, info=info)
        deferred = self.database.execution_options(sqlite_begin="DEFERRED")
        self.read_sessions = make_session_factory(deferred, info=info)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        database: Engine | None = None,
        cache: VersionedCache | None = None,
        jobs: JobEngine | None = None,
        throttle: AuthThrottle | None = None,
        runtime: LiveSettings | None = None,
    ) -> AppContext:
        """The context of ``settings``; any part given is used instead of one built from them.

        Building the cache, or the throttle on Redis, reads the database's installation id (one
        statement at start-up): their Redis keys carry it. The runtime settings are read once
        too (one statement).
        """
        database = database or make_engine(settings=settings)
        installation = ""  # in-process parts serve one installation by construction
        if cache is None or (throttle is None and settings.redis_url):
            installation = installation_id(database)
        return cls(
            settings=settings,
            database=database,
            cache=cache or cache_from_settings(settings, installation),
            jobs=jobs or JobEngine.from_settings(settings),
            throttle=throttle or AuthThrottle.from_settings(settings, installation),
            runtime=runtime
            or LiveSettings.start(settings, signal_from_settings(settings), database),
        )

    def session_info(self) -> dict[str, object]:
        return {CONTEXT_KEY: self, JOB_ENGINE_KEY: self.jobs, LIVE_SETTINGS_KEY: self.runtime}

    def attach(self, session: Session) -> Session:
        """Make a session opened elsewhere (a test's savepoint session) carry this context."""
        session.info.update(self.session_info())
        return session

    def close(self) -> None:
        self.jobs.close()
        self.runtime.close()
        self.database.dispose()


def settings_of(session: Session) -> Settings:
    """The settings of ``session``'s context; a session opened outside any context (a script, a
    benchmark, a test's own session) has the settings of the environment."""
    context = session.info.get(CONTEXT_KEY)
    return context.settings if isinstance(context, AppContext) else get_settings()


class NoContext(LookupError):
    """A session was opened outside any application context."""


def context_of(session: Session) -> AppContext:
    """The context whose factory opened ``session`` (or that was attached to it)."""
    context = session.info.get(CONTEXT_KEY)
    if not isinstance(context, AppContext):
        raise NoContext(
            "this session was not opened by an application context; open it with "
            "AppContext.sessions or attach one with AppContext.attach"
        )
    return context
