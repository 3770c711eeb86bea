"""Domain events: what a write service says happened, and who acts on it in the same transaction.

A write service records a typed event on its unit of work once its own rows are written:
``record(session, PaymentSubmitted(...))``. The subscribers registered for that event's type run
at once, in the order they were registered, on the same session: their statements are part of
the writer's transaction, a rollback undoes them with the rest, and query counts see them as the
service's own. Work that can wait is returned by the subscribers as job requests, and the jobs of
all of an event's subscribers are enqueued in one INSERT, in the name of the event's user (or,
with the runtime setting ``defer_heavy_handlers`` off, their tasks run at once in the writer's
transaction, as the original system ran its handlers). This
is how a domain lets others react without importing them: billing records ``PaymentSubmitted``
and never learns that the history read model, the mandate usage and the cache tags follow it.

Subscribers are registered at start-up, as tasks are: each domain's ``subscribers.py`` decorates
plain functions with ``@subscriber(EventType)``, and the entry points import the modules listed
in :mod:`verenigingen.startup`. Recording an event before they are loaded is an error, so that a
boundary that forgot them fails at once instead of quietly leaving the read models behind.
"""

from __future__ import annotations

import importlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.jobs.chunks import chunks_held
from verenigingen.jobs.groups import open_group
from verenigingen.jobs.outbox import JobRequest, enqueue_many
from verenigingen.jobs.registry import get_task
from verenigingen.settings import runtime_of


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event: a frozen dataclass of ids and plain values, named in the past tense.

    ``user`` is who acted (None for the system's own daily work); follow-up jobs run in its name.
    """

    user: User | None

    def follow_up_subject(self) -> str | None:
        """What the event's follow-up jobs are about, as their user's one notification names it
        (``Payment PAY-2026-00042``): its jobs are then one job group (jobs.groups), and the
        user hears once, when the last of them ends. None: each job notifies of its own."""
        return None


E = TypeVar("E", bound=DomainEvent)
FollowUps = Sequence[JobRequest]
"""The jobs a subscriber wants enqueued (an empty sequence when it did all its work inline)."""
Subscriber = Callable[[Session, Any], FollowUps]

_subscribers: defaultdict[type[DomainEvent], list[Subscriber]] = defaultdict(list)
_loaded_modules: set[str] = set()


class SubscribersNotLoaded(RuntimeError):
    """An event was recorded before any subscriber module was loaded."""


def subscriber(
    event_type: type[E],
) -> Callable[[Callable[[Session, E], FollowUps]], Callable[[Session, E], FollowUps]]:
    """Register the decorated function to run whenever an ``event_type`` event is recorded."""

    def register(function: Callable[[Session, E], FollowUps]) -> Callable[[Session, E], FollowUps]:
        if function not in _subscribers[event_type]:
            _subscribers[event_type].append(function)
        return function

    return register


def record(session: Session, event: DomainEvent) -> None:
    """Run the subscribers of ``event``'s type on ``session``, then enqueue their follow-up jobs.

    The jobs of all subscribers go into one INSERT (one statement whatever their number); an
    event without a user may not ask for jobs. With ``defer_heavy_handlers`` off they are not
    enqueued but run here (:func:`run_follow_ups_now`); on a session that collects them
    (:func:`collect_follow_ups`) they are handed to its collector.
    """
    if not _loaded_modules:
        raise SubscribersNotLoaded(
            f"{type(event).__name__} was recorded before the subscribers were loaded; "
            "entry points call verenigingen.startup.load_all() first"
        )
    follow_ups: list[JobRequest] = []
    for function in _subscribers.get(type(event), ()):
        follow_ups.extend(function(session, event))
    if not follow_ups:
        return
    if event.user is None:
        names = ", ".join(request.name for request in follow_ups)
        raise ValueError(f"{type(event).__name__} has no user to run its follow-up jobs: {names}")
    collected: list[JobRequest] | None = session.info.get(_COLLECTED)
    if collected is not None:
        collected.extend(follow_ups)
    elif runtime_of(session).defer_heavy_handlers:
        # Jobs that follow one named thing (a payment) are one group: one notification.
        subject = event.follow_up_subject()
        group_id = None
        if subject is not None:
            group_id = open_group(
                session, user_id=event.user.id, subject=subject, jobs=len(follow_ups)
            )
        job_ids = enqueue_many(session, follow_ups, user=event.user, group_id=group_id)
        session.info.setdefault(_FOLLOW_UP_JOBS, []).extend(job_ids)
    else:
        run_follow_ups_now(session, follow_ups, user=event.user)
        session.info[_FOLLOW_UPS_DONE] = True


_COLLECTED = "verenigingen.events.collected"


def collect_follow_ups(session: Session, into: list[JobRequest]) -> None:
    """From now on the follow-up jobs of the events recorded on ``session`` are added to
    ``into`` instead of enqueued (or run): a bulk loader (the demo) that writes thousands of
    events gathers their follow-ups and asks for the work once, coalesced, at its end."""
    session.info[_COLLECTED] = into


_FOLLOW_UP_JOBS = "verenigingen.events.follow_up_jobs"
_FOLLOW_UPS_DONE = "verenigingen.events.follow_ups_done"


@dataclass(frozen=True)
class FollowUp:
    """What the events recorded on a session left for later: the ids of the jobs enqueued, and
    whether follow-up work ran at once instead (``defer_heavy_handlers`` off)."""

    job_ids: tuple[int, ...]
    ran_inline: bool

    @property
    def running(self) -> bool:
        return bool(self.job_ids)


def follow_up_of(session: Session) -> FollowUp | None:
    """The follow-up work of what ``session`` wrote so far; None when its events asked for none
    (a draft saved, a payment of a customer without members)."""
    job_ids = tuple(session.info.get(_FOLLOW_UP_JOBS, ()))
    ran_inline = bool(session.info.get(_FOLLOW_UPS_DONE))
    if not job_ids and not ran_inline:
        return None
    return FollowUp(job_ids, ran_inline)


_INLINE = "verenigingen.events.inline"


def run_follow_ups_now(session: Session, follow_ups: Sequence[JobRequest], *, user: User) -> None:
    """Run the task of each follow-up job in the writer's transaction, in order, instead of
    enqueuing it: no job row, the work committed or rolled back with the write, and a task that
    fails fails the write. Each task gets its parameters as a worker would, through JSON."""
    session.info[_INLINE] = True
    try:
        # The writer's transaction is not the task's to commit in chunks.
        with chunks_held(session):
            for request in follow_ups:
                get_task(request.name).run(session, user, json.loads(json.dumps(request.params)))
    finally:
        del session.info[_INLINE]


def runs_inline(session: Session) -> bool:
    """True while a follow-up task runs in its writer's transaction (:func:`run_follow_ups_now`)
    rather than as a job: no job row of its own is pending, and the ledger it reads already
    holds the write it follows."""
    return bool(session.info.get(_INLINE))


def subscribers_of(event_type: type[DomainEvent]) -> list[Subscriber]:
    """The registered subscribers of ``event_type``, in the order they run."""
    return list(_subscribers.get(event_type, ()))


def load_subscriber_modules(modules: Iterable[str]) -> None:
    """Import each module, whose ``@subscriber`` decorators register it (twice is harmless)."""
    for module in modules:
        importlib.import_module(module)
        _loaded_modules.add(module)
