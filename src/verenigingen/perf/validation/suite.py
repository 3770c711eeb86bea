"""``perf validate``: build a fresh demo association, run the workloads with the optimizations
off and on, and judge the plan's criteria.

The order of a run: build the association; open both sides; the payment POSTs, the mixed portal
workload and the lists, each interleaved between the sides; the ``on`` side's jobs with injected
failures; the strategic indexes bare against indexed; the smoke suite; the ``serve`` process's
memory; the committed baseline. Every figure comes from this run.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from verenigingen import __version__
from verenigingen.config import get_settings
from verenigingen.demo.generator import DemoOptions
from verenigingen.perf.validation import criteria
from verenigingen.perf.validation.association import Face, build_association, open_side
from verenigingen.perf.validation.baseline_run import BaselineFigures, check_baseline
from verenigingen.perf.validation.criteria import Criterion, Thresholds
from verenigingen.perf.validation.index_runs import StatementFigures, measure_strategic_indexes
from verenigingen.perf.validation.jobs import JobFigures, last_job_id, run_jobs_with_failures
from verenigingen.perf.validation.memory import (
    DEFAULT_REQUESTS,
    MemoryFigures,
    measure_serve_memory,
    request_paths,
)
from verenigingen.perf.validation.runs import (
    Figures,
    choose_inputs,
    list_run,
    payment_run,
    portal_run,
)
from verenigingen.perf.validation.smoke import SmokeCheck, smoke_suite
from verenigingen.perf.workloads.history import PAYMENT_SHARE

Progress = Callable[[str], None]


class TooFewInvoices(ValueError):
    """The association holds fewer open invoices than the runs pay."""


@dataclass(frozen=True)
class ValidationOptions:
    members: int = 300
    months: int = 12
    payments: int = 60
    """Payment POSTs per side in the payment run."""
    portal_units: int = 2000
    list_requests: int = 80
    requests: int = DEFAULT_REQUESTS
    """Requests to the ``serve`` process before its RSS is judged."""
    index_runs: int = 7
    baseline: Path = Path("perf/baseline.json")
    tolerance: float = 0.05
    baseline_workloads: tuple[str, ...] | None = None
    """None: every workload, as ``perf check`` runs them."""
    thresholds: Thresholds | None = None
    """None: the plan's (:data:`criteria.PLAN`, read when the run is judged)."""

    def quick(self) -> ValidationOptions:
        """Enough of each run to produce every figure, not enough to trust the timings (a first
        look, the tests); the report states the sizes."""
        return replace(self, payments=12, portal_units=150, list_requests=20, index_runs=3)


@dataclass
class ValidationResult:
    options: ValidationOptions
    started_at: dt.datetime
    figures: Figures
    jobs: JobFigures
    indexes: list[StatementFigures]
    memory: MemoryFigures
    smoke: list[SmokeCheck]
    baseline: BaselineFigures
    criteria: list[Criterion] = field(default_factory=list)
    thresholds: Thresholds = field(default_factory=Thresholds)
    """The thresholds the criteria were judged by."""
    seconds: float = 0.0
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(criterion.passed for criterion in self.criteria)

    @property
    def failed(self) -> list[Criterion]:
        return [criterion for criterion in self.criteria if not criterion.passed]


STAGES = ("association", "payments", "portal", "lists", "jobs", "indexes", "smoke", "memory")


def run_validation(
    options: ValidationOptions,
    directory: Path,
    face: Face,
    progress: Progress = lambda _stage: None,
) -> ValidationResult:
    """One validation in ``directory`` (its databases are written there); nothing else is
    touched but the gate's cached demo templates (``<data dir>/perf``)."""
    started, clock_start = dt.datetime.now(dt.UTC), time.perf_counter()
    # Timings move with the machine's load: the report says what it was.
    load_at_start = f"{os.getloadavg()[0]:.1f}"
    face.load_all(get_settings())  # the demo generator's services record events
    progress("building the demo association")
    association = build_association(
        directory / "association", DemoOptions(members=options.members, months=options.months)
    )
    figures = Figures()
    with (
        open_side(association, "off", directory, face) as off,
        open_side(association, "on", directory, face) as on,
    ):
        sides = (off, on)
        inputs = choose_inputs(on.engine)
        # About one portal unit in ten pays; a fifth more kept aside than that.
        portal_payments = int(options.portal_units * PAYMENT_SHARE * 1.2) + 1
        needed = options.payments + portal_payments + 1
        if len(inputs.invoices) < needed:
            raise TooFewInvoices(
                f"the demo association of {options.members} members holds "
                f"{len(inputs.invoices)} open invoices; the runs need {needed}: "
                "use more --members or fewer payments"
            )
        smoke_invoice = inputs.take(1)[0]
        first_job = last_job_id(on.engine)
        progress("payment POSTs, off and on")
        payment_run(sides, inputs.take(options.payments), figures)
        progress("mixed portal workload, started cold")
        portal_run(
            sides, inputs.members, inputs.take(portal_payments), options.portal_units, figures
        )
        progress("lists")
        list_run(sides, on.engine, options.list_requests, figures)
        progress("jobs with 5 % injected failures")
        jobs = run_jobs_with_failures(on, first_job)
        progress("strategic indexes, bare against indexed")
        indexes = measure_strategic_indexes(off.engine, on.engine, options.index_runs)
        progress("smoke suite")
        checks = smoke_suite(on, smoke_invoice)
    progress(f"memory of verenigingen serve, {options.requests:,} requests")
    customers = sorted({invoice.customer_id for invoice in inputs.invoices})
    serve = measure_serve_memory(
        association, directory, request_paths(inputs.members, customers, options.requests)
    )
    progress("the committed baseline")
    gate = check_baseline(options.baseline, options.tolerance, options.baseline_workloads)
    environment = {**_environment(), "load (1 min) at the start": load_at_start}
    environment["load (1 min) at the end"] = f"{os.getloadavg()[0]:.1f}"
    result = ValidationResult(
        options, started, figures, jobs, indexes, serve, checks, gate, environment=environment
    )
    result.thresholds = options.thresholds or criteria.PLAN
    result.criteria = criteria.judge(figures, jobs, indexes, serve, checks, gate, result.thresholds)
    result.seconds = time.perf_counter() - clock_start
    return result


def _environment() -> dict[str, str]:
    return {
        "verenigingen": __version__,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "machine": f"{platform.system()} {platform.machine()}",
        "database": "SQLite (embedded shape), one file per side",
    }
