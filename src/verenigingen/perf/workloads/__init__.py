"""Named workloads over the real services, on a seeded demo association.

Importing this package registers the workloads of the built domains; a later issue registers
its own (or refines one of these) with :func:`register` under the same name.
"""

from verenigingen.perf.workloads import billing, history, members, sepa
from verenigingen.perf.workloads.registry import (
    PendingWorkload,
    UnknownWorkload,
    Workload,
    all_workloads,
    get_workload,
    pending_workloads,
    register,
    register_pending,
    select_workloads,
    workload_names,
)

__all__ = [
    "PendingWorkload",
    "UnknownWorkload",
    "Workload",
    "all_workloads",
    "billing",
    "get_workload",
    "history",
    "members",
    "pending_workloads",
    "register",
    "register_pending",
    "select_workloads",
    "sepa",
    "workload_names",
]
