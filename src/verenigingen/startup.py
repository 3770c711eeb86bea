"""What the entry points (API, worker, CLI) load at start-up: the task and subscriber modules.

The platform never imports a domain. The jobs platform learns the tasks from this list (plus the
modules named in ``VERENIGINGEN_JOB_TASK_MODULES``); the event platform learns who acts on a
domain event from the subscriber modules. Both registries are filled once per process.
"""

from __future__ import annotations

from verenigingen.config import Settings
from verenigingen.events import load_subscriber_modules
from verenigingen.jobs.registry import load_task_modules

TASK_MODULES = (
    "verenigingen.billing.tasks",
    "verenigingen.dues.tasks",
    "verenigingen.history.tasks",
    "verenigingen.indexes.tasks",
    "verenigingen.mail.tasks",
    "verenigingen.members.tasks",
    "verenigingen.safety.tasks",
    "verenigingen.sepa.tasks",
)

SUBSCRIBER_MODULES = (
    # In the order they run for an event both subscribe to: the ledger's own follow-up first
    # (dues stops billing, billing credits), then the read model and the mandate usage.
    "verenigingen.dues.subscribers",
    "verenigingen.billing.subscribers",
    "verenigingen.history.subscribers",
    "verenigingen.sepa.subscribers",
)


def load_subscribers() -> None:
    load_subscriber_modules(SUBSCRIBER_MODULES)


def load_all(settings: Settings) -> None:
    """Register every task and subscriber of the project and of ``settings``' extra task modules."""
    load_subscribers()
    load_task_modules((*TASK_MODULES, *settings.job_task_modules.split(",")))
