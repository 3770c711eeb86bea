"""Every module that registers tasks, imported by the entry points (API, worker, CLI).

The jobs platform never imports a domain; it learns the tasks from this list, plus the modules
named in ``VERENIGINGEN_JOB_TASK_MODULES``.
"""

from __future__ import annotations

from verenigingen.config import Settings, get_settings
from verenigingen.jobs.registry import load_task_modules

TASK_MODULES = (
    "verenigingen.billing.tasks",
    "verenigingen.dues.tasks",
    "verenigingen.history.tasks",
    "verenigingen.members.tasks",
    "verenigingen.sepa.tasks",
)


def load_all(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    load_task_modules((*TASK_MODULES, *settings.job_task_modules.split(",")))
