"""Claiming a job and recording its completion: the interface the worker runs on, and the
claimed attempt it hands around. One implementation per database, chosen from its dialect
(:func:`verenigingen.jobs.worker.claim_strategy`).

A claim is a conditional UPDATE from Queued to Running, committed before the task runs; zero
rows means the job is not this worker's to run (a duplicate delivery, a cancelled job, one not
due or another worker's). It counts the attempt, so a job that kills its worker every time
still runs out of retries, and it sets the lease the sweeper watches (:class:`LeaseTerms`; the
worker's heartbeat renews it, jobs.heartbeat). A completion writes the job's result, its status
and its user's notification in the caller's transaction, conditional on the claim (Running at
its attempt) and on no cancel request: if the sweeper took the job back meanwhile, or an
administrator asked to cancel it, nothing of the run may be kept. A job of a job group
(jobs.groups) has no notification of its own: its end is counted on its group, whose last job
notifies the user once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.config import Settings


@dataclass(frozen=True)
class LeaseTerms:
    """How long a claim holds its job: ``seconds`` from the claim or from the last heartbeat,
    and never past its start plus its timeout plus ``grace`` (a job that overran its timeout
    where no signal could stop it loses its lease, even while its worker lives)."""

    seconds: float
    grace: float

    @classmethod
    def of(cls, settings: Settings) -> LeaseTerms:
        return cls(settings.job_lease_seconds, settings.job_lease_grace_seconds)

    def first_seconds(self, timeout: int) -> float:
        """The lease a claim sets, in seconds from the claim."""
        return min(self.seconds, timeout + self.grace)

    def last_moment(self, started_at: dt.datetime, timeout: int) -> dt.datetime:
        """No lease of an attempt that started at ``started_at`` lasts past this moment."""
        return started_at + dt.timedelta(seconds=timeout + self.grace)

    def renewed_until(self, now: dt.datetime, started_at: dt.datetime, timeout: int) -> dt.datetime:
        """The lease a heartbeat at ``now`` gives an attempt."""
        return min(now + dt.timedelta(seconds=self.seconds), self.last_moment(started_at, timeout))


@dataclass(frozen=True)
class Claim:
    """One attempt of a job, claimed by this worker: what it needs to run the task."""

    id: int
    name: str
    params: dict[str, Any]
    user_id: int
    attempt: int
    """The attempt this claim counted (the job's ``attempts`` after the claim)."""
    max_retries: int
    timeout: int
    started_at: dt.datetime
    """When the claim started the attempt (the job's ``started_at``)."""
    group_id: int | None = None
    """The job's group (jobs.groups): its end is counted there, and notified with the group's."""


@dataclass(frozen=True)
class Completion:
    """A claim whose task ran to its end, with the result to store (``jobs.results``)."""

    claim: Claim
    result: Any


class ClaimStrategy(Protocol):
    """How jobs are claimed and completed on one database."""

    def claim(self, session: Session, job_id: int) -> tuple[Claim, User] | None:
        """Queued → Running for ``job_id`` if it is Queued and due, in the session's
        transaction (the caller commits it before the task runs); the claim and the job's user,
        or None when the job is not ours to run."""
        ...

    def complete(self, session: Session, completions: Sequence[Completion]) -> set[int]:
        """Each job Completed with its result, and its user's notification, in the session's
        transaction; conditional on each claim. Returns the ids that were still this run's: a
        job missing from them lost its lease, and its run must not be kept."""
        ...

    def batch_claims(self, engine: Engine) -> BatchClaims | None:
        """Claims for the later jobs of a group (several jobs, one transaction), made on a
        connection of the engine's own; None where the database runs one job per transaction."""
        ...


class BatchClaims(Protocol):
    """A group's claims after its first, on a connection of their own in autocommit: each call
    is committed when it returns, while the group's transaction stays open."""

    def claim(self, job_ids: Sequence[int]) -> dict[int, Claim]:
        """Claim the jobs among ``job_ids`` that are Queued and due, in one statement."""
        ...

    def give_back(self, job_ids: Sequence[int], *, redeliver: bool) -> dict[int, str]:
        """Running → Queued for this worker's claims among ``job_ids``, their attempts not
        counted (the attempt was not made, or not kept); the queue of each job given back.

        ``redeliver``: the caller hands each to the engine again at once (the rows say
        dispatched now); otherwise they wait undispatched for the relay's next round.
        """
        ...

    def close(self) -> None:
        """Hand the connection back (if one was opened), reset for its next user."""
        ...
