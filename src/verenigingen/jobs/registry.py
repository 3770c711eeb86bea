"""The task registry: ``@job("history.refresh_member", queue="default")`` on plain functions.

A task is a function ``(session, user, **params) -> result``: the runner opens the session
(the job is the transaction boundary) and passes the user who started the job, so services
check permissions as they do for a request. Params are ids and plain values; the result is
JSON (a dict of counts, say) or None.

The platform never imports a domain: each domain's ``tasks.py`` registers its tasks when it is
imported, and the entry points import the modules listed in :mod:`verenigingen.startup`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.errors import ValidationFailed
from verenigingen.jobs.errors import UnknownTask
from verenigingen.jobs.models import Queue
from verenigingen.settings.registry import DEFINITIONS, Kind, RuntimeValues

TaskFunction = Callable[..., Any]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    queue: Queue
    function: TaskFunction
    timeout: int | None = None
    """Seconds; None takes the queue's default."""
    daily: bool = False
    """Run once a day without parameters (see :mod:`verenigingen.jobs.daily`)."""
    timeout_setting: str | None = None
    """The runtime setting (of seconds) that gives the task's timeout instead, so that an
    administrator may change it while the processes run (:mod:`verenigingen.settings`)."""
    every_setting: str | None = None
    """The runtime setting (of whole minutes) that makes the workers start the task that often,
    without parameters (:mod:`verenigingen.jobs.periodic`); 0 minutes: never."""

    def default_timeout(self, values: RuntimeValues, queue: Queue) -> int:
        """The timeout of a job of this task on ``queue`` when its caller names none: the
        task's runtime setting, else its own timeout, else the queue's runtime setting."""
        if self.timeout_setting is not None:
            return values.seconds_of(self.timeout_setting)
        return self.timeout or values.queue_timeout(queue.value)

    def run(self, session: Session, user: User, params: dict[str, Any]) -> Any:
        return self.function(session, user, **params)


_tasks: dict[str, TaskSpec] = {}


def job(
    name: str,
    *,
    queue: Queue | str = Queue.DEFAULT,
    timeout: int | None = None,
    daily: bool = False,
    timeout_setting: str | None = None,
    every_setting: str | None = None,
) -> Callable[[TaskFunction], TaskFunction]:
    """Register ``function`` as the task ``name``; the function itself is returned unchanged.

    ``daily``: the workers start it once a day, without parameters, in the name of the first
    administrator (the overdue refresh, the dues run).
    ``timeout_setting``: the runtime setting of seconds that gives its timeout (checked here:
    an unknown name or another kind of setting is an error at import).
    ``every_setting``: the runtime setting of whole minutes after which the workers start it
    again, without parameters (checked the same way).
    """
    resolved = parse_queue(queue)
    if timeout_setting is not None:
        definition = DEFINITIONS.get(timeout_setting)
        if definition is None or definition.kind is not Kind.SECONDS:
            raise ValueError(f"task {name!r}: {timeout_setting} is no runtime setting of seconds")
    if every_setting is not None:
        definition = DEFINITIONS.get(every_setting)
        if definition is None or definition.kind is not Kind.WHOLE:
            raise ValueError(f"task {name!r}: {every_setting} is no runtime setting of minutes")

    def register(function: TaskFunction) -> TaskFunction:
        existing = _tasks.get(name)
        if existing is not None and existing.function is not function:
            # Re-importing a module re-registers its own functions; two different ones is a bug.
            same_place = (existing.function.__module__, existing.function.__qualname__) == (
                function.__module__,
                function.__qualname__,
            )
            if not same_place:
                raise ValueError(f"task {name!r} is already registered")
        _tasks[name] = TaskSpec(
            name, resolved, function, timeout, daily, timeout_setting, every_setting
        )
        return function

    return register


def get_task(name: str) -> TaskSpec:
    spec = _tasks.get(name)
    if spec is None:
        known = ", ".join(sorted(_tasks)) or "none loaded"
        raise UnknownTask(f"unknown task {name!r}; known tasks: {known}")
    return spec


@contextlib.contextmanager
def tasks_wrapped(wrap: Callable[[TaskSpec], TaskFunction]) -> Iterator[None]:
    """Every registered task runs ``wrap(spec)`` instead of its function until the block ends.

    For measuring the runner, not for production: the validation suite (``perf validate``)
    injects transient failures this way. The registry is the process's, so every thread of it
    sees the wrapped tasks while the block lasts.
    """
    originals = dict(_tasks)
    for name, spec in originals.items():
        _tasks[name] = dataclasses.replace(spec, function=wrap(spec))
    try:
        yield
    finally:
        _tasks.update(originals)


def task_names() -> list[str]:
    return sorted(_tasks)


def parse_queue(value: Queue | str) -> Queue:
    try:
        return Queue(value)
    except ValueError:
        valid = ", ".join(q.value for q in Queue)
        raise ValidationFailed(f"unknown queue {value!r}; choose one of: {valid}") from None


def load_task_modules(modules: Iterable[str]) -> None:
    """Import each task module, so that its ``@job`` functions register."""
    for module in modules:
        module = module.strip()
        if module:
            importlib.import_module(module)
