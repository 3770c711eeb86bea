"""The demo's follow-up work, coalesced: a few jobs at its end instead of one per write.

Building the demo records thousands of ledger events (a dues run and a payment batch a month,
credit notes, cancellations), and each asks for follow-up jobs: the summaries of the customers it
touched, the analytics of its months, the mandate usages of its direct debits. Enqueued as they
come, a 2,000-member demo left about 1,800 jobs, most of them recalculating the same customers
again month after month, that ``serve``'s worker took a quarter of an hour to work off.

The demo collects them instead (``events.collect_follow_ups``) and asks at its end for the work
once: every customer's summary rebuilt from the ledger (which holds every delta the collected
jobs would have added), every month's analytics recomputed, every direct debit's usage
recorded, each task committing its work in chunks. Follow-ups of any other kind are enqueued as
they were asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from verenigingen.history import tasks as history_tasks
from verenigingen.jobs import JobRequest
from verenigingen.sepa import tasks as sepa_tasks

IDS_PER_JOB = 10_000
"""Customers (or payments) named in one coalesced job; the task commits them in chunks."""

_SUMMARIES = (
    history_tasks.APPLY_SUMMARY_DELTA,
    history_tasks.RECALCULATE_SUMMARY,
    history_tasks.RECALCULATE_SUMMARIES,
)


def coalesced(requests: Iterable[JobRequest]) -> list[JobRequest]:
    """The same work as ``requests``, in as few jobs as their kinds allow (in this order):
    summaries, analytics, mandate usages, then the others as they came."""
    customers: set[int] = set()
    months: set[str] = set()
    payments: set[int] = set()
    others: list[JobRequest] = []
    for request in requests:
        params = request.params
        if request.name in _SUMMARIES:
            customers.update(_ids(params, "customer_id", "customer_ids"))
        elif request.name == history_tasks.UPDATE_PAYMENT_ANALYTICS:
            months.update(params["months"])
        elif request.name == sepa_tasks.RECORD_MANDATE_USAGES:
            payments.update(params["payment_ids"])
        else:
            others.append(request)
    jobs = _in_jobs(history_tasks.RECALCULATE_SUMMARIES, "customer_ids", sorted(customers))
    if months:
        # On the default queue with the others, not the long one: it commits month by month,
        # and the embedded consumer takes the long queue only when the others are empty, which
        # they never are while payments keep coming in.
        analytics = {"months": sorted(months)}
        jobs.append(JobRequest(history_tasks.UPDATE_PAYMENT_ANALYTICS, analytics, "default"))
    jobs += _in_jobs(sepa_tasks.RECORD_MANDATE_USAGES, "payment_ids", sorted(payments))
    return [*jobs, *others]


def _ids(params: dict[str, Any], one: str, many: str) -> list[int]:
    return [params[one]] if one in params else list(params[many])


def _in_jobs(name: str, key: str, ids: Sequence[int]) -> list[JobRequest]:
    return [
        JobRequest(name, {key: list(ids[start : start + IDS_PER_JOB])})
        for start in range(0, len(ids), IDS_PER_JOB)
    ]
