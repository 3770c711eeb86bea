"""``verenigingen perf``: profile the workloads, the regression gate that CI runs, and the
validation of the optimizations against the plan's criteria.

Both commands run on their own SQLite copies of a seeded demo association under
``<data dir>/perf``; they never write to the configured database. ``check`` reads one thing from
it, when it is ready: the runtime setting ``perf_regression_tolerance_percent``, its tolerance
unless ``--tolerance`` is given.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import make_url

from verenigingen.cli.context import fail
from verenigingen.config import get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import check_schema
from verenigingen.errors import DatabaseNotReady
from verenigingen.perf import gate, profiler, report, report_markdown
from verenigingen.perf.baseline import BaselineError, load_baseline, write_json
from verenigingen.perf.validation import html as validation_html
from verenigingen.perf.validation import report as validation_report
from verenigingen.perf.validation.association import Face
from verenigingen.perf.validation.memory import DEFAULT_REQUESTS
from verenigingen.perf.validation.suite import TooFewInvoices, ValidationOptions, run_validation
from verenigingen.perf.workloads import (
    UnknownWorkload,
    Workload,
    pending_workloads,
    select_workloads,
    workload_names,
)
from verenigingen.perf.workloads.database import LARGE, SMALL, DemoDatabase, cache_dir
from verenigingen.perf.workloads.runner import WorkloadInputError
from verenigingen.settings import LiveSettings, defaults_of
from verenigingen.settings.signal import MemorySignal
from verenigingen.startup import load_all
from verenigingen.web.app import create_app

# CI logs are not terminals: Rich would fold the tables to 80 columns and split every statement
# over a dozen lines, so a non-terminal gets a wide console.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)

app = typer.Typer(
    help="Performance: workloads, profiles and the regression gate.", no_args_is_help=True
)

WORKLOAD_OPTION = typer.Option(
    None, "--workload", "-w", help="A workload to run (repeatable; default all)."
)
ITERATIONS_OPTION = typer.Option(
    None, min=1, help="Units of work per run instead of each workload's own size (quick looks)."
)


def _workloads(names: Sequence[str] | None) -> list[Workload[Any]]:
    try:
        return select_workloads(names)
    except UnknownWorkload as error:
        pending = {p.name: p for p in pending_workloads()}
        if error.name in pending:
            raise fail(
                f"workload {error.name!r} is not built yet (comes with "
                f"{pending[error.name].brought_by}); valid names: {', '.join(workload_names())}",
                2,
            ) from None
        raise fail(
            f"unknown workload {error.name!r}; valid names: {', '.join(workload_names())}", 2
        ) from None


@contextmanager
def _progress(title: str, total: int) -> Iterator[Any]:
    with Progress(
        TextColumn(f"[bold]{title}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=total)

        def advance(label: str) -> None:
            progress.update(task, advance=1, description=label)

        yield advance


def regression_tolerance() -> tuple[float, str]:
    """The gate's tolerance (0.05 = 5 %) and where it came from: the runtime setting
    ``perf_regression_tolerance_percent`` of the configured installation when its database is
    ready, else that setting's default from the environment. Nothing is created or written: a
    SQLite file that does not exist is not opened."""
    settings = get_settings()
    url = make_url(settings.resolved_database_url())
    percent = defaults_of(settings).perf_regression_tolerance_percent
    source = "the default"
    missing_file = url.get_backend_name() == "sqlite" and not (
        url.database and url.database != ":memory:" and Path(url.database).is_file()
    )
    if not missing_file:
        try:
            engine = make_engine(settings=settings)
        except Exception:  # a malformed URL or a missing driver: the commands that use it say so
            return float(percent) / 100, source
        try:
            check_schema(engine)
            live = LiveSettings.start(settings, MemorySignal(), engine)
            percent, source = live.current().perf_regression_tolerance_percent, "the setting"
        except DatabaseNotReady:
            pass  # no installation to ask: the default
        finally:
            engine.dispose()
    return float(percent) / 100, source


def _databases() -> tuple[DemoDatabase, DemoDatabase]:
    directory = cache_dir()
    return DemoDatabase(LARGE, directory), DemoDatabase(SMALL, directory)


@app.command("profile")
def profile(
    workload: list[str] | None = WORKLOAD_OPTION,
    out: Path = typer.Option(Path("perf-out"), "--out", help="Directory for the reports."),
    repeat: int = typer.Option(5, min=1, max=50, help="Measured runs per workload."),
    iterations: int | None = ITERATIONS_OPTION,
) -> None:
    """Run the workloads under capture, cProfile, tracemalloc and pyinstrument; write the
    baseline, the priority matrix, the bottleneck report and one HTML profile per workload."""
    chosen = _workloads(workload)
    large, _small = _databases()
    started = time.perf_counter()
    try:
        with console.status("Building the demo association (cached after the first time)"):
            large.ensure_template()
        total = len(chosen) * profiler.runs_per_workload(repeat)
        with _progress("Profiling", total) as advance:
            profiles = profiler.profile_workloads(
                chosen, large, out, repeat=repeat, iterations=iterations, advance=advance
            )
    except WorkloadInputError as error:
        raise fail(str(error), 2) from None
    baseline = report.performance_baseline(profiles, large, repeat)
    write_json(out / "performance_baseline.json", baseline)
    write_json(out / "optimization_priority_matrix.json", report.priority_matrix(profiles))
    (out / "bottleneck_analysis_report.md").write_text(
        report_markdown.render(profiles, baseline), encoding="utf-8"
    )
    table = Table(title="Workloads (medians)")
    for column in ("workload", "actions", "time", "CPU", "statements", "rows", "N+1"):
        table.add_column(column, justify="left" if column == "workload" else "right")
    for p in profiles:
        table.add_row(
            p.workload.name,
            str(p.iterations),
            f"{p.wall_ms_median:.1f} ms",
            f"{p.cpu_ms_median:.1f} ms",
            str(p.metrics.queries),
            str(p.metrics.rows),
            str(len(p.findings)),
        )
    console.print(table)
    console.print(f"Wrote {out}/ in {time.perf_counter() - started:.1f} s.")


@app.command("check")
def check(
    baseline_path: Path = typer.Option(
        Path("perf/baseline.json"), "--baseline", help="The committed baseline."
    ),
    tolerance: float | None = typer.Option(
        None,
        min=0.0,
        max=10.0,
        help="Allowed growth of a count (0.05 = 5 %); default: the runtime setting "
        "perf_regression_tolerance_percent (5 %).",
    ),
    timing: bool = typer.Option(False, "--timing", help="Also fail when a time ratio regresses."),
    timing_tolerance: float = typer.Option(
        0.25, min=0.0, max=10.0, help="Allowed growth of a time ratio with --timing."
    ),
    update: bool = typer.Option(False, "--update", help="Rewrite the baseline from this run."),
    repeat: int = typer.Option(3, min=1, max=50, help="Interleaved runs per workload."),
    workload: list[str] | None = WORKLOAD_OPTION,
    iterations: int | None = ITERATIONS_OPTION,
) -> None:
    """Re-run the workloads and compare statement counts and rows with the baseline (exit 1 on a
    regression, 2 when the baseline is missing, corrupt or from another environment)."""
    chosen = _workloads(workload)
    if tolerance is None:
        tolerance, source = regression_tolerance()
        console.print(
            f"Tolerance {tolerance * 100:g} % ({source} perf_regression_tolerance_percent)."
        )
    large, small = _databases()
    recorded: dict[str, Any] | None = None
    try:
        recorded = load_baseline(baseline_path)
    except BaselineError as error:
        if not update:
            raise fail(str(error), 2) from None
    if recorded is not None and not update:
        try:
            gate.check_comparable(recorded, large, small)
        except gate.GateRefusal as error:
            raise fail(str(error), 2) from None
    started = time.perf_counter()
    try:
        with console.status("Building the demo associations (cached after the first time)"):
            large.ensure_template()
            small.ensure_template()
        with _progress("Checking", len(chosen) * (repeat + 1)) as advance:
            measurements = gate.measure(
                chosen, large, small, repeat=repeat, iterations=iterations, advance=advance
            )
    except WorkloadInputError as error:
        raise fail(str(error), 2) from None
    elapsed = time.perf_counter() - started
    if update:
        document = gate.merge_baseline(recorded, gate.baseline_document(measurements, large, small))
        write_json(baseline_path, document)
        console.print(
            f"Wrote {baseline_path}: {len(document['workloads'])} workloads ({elapsed:.1f} s)."
        )
        return
    assert recorded is not None
    try:
        verdict = gate.compare(
            recorded,
            measurements,
            tolerance=tolerance,
            timing=timing,
            timing_tolerance=timing_tolerance,
            all_workloads=not workload,
        )
    except gate.GateRefusal as error:
        raise fail(str(error), 2) from None
    _print_timings(verdict, timing)
    for note in verdict.notes:
        console.print(f"note: {note}")
    if verdict.improvements:
        console.print(f"{len(verdict.improvements)} metrics improved; record them with `--update`.")
    if verdict.passed:
        console.print(
            f"[green]perf check passed[/]: {len(measurements)} workloads within "
            f"{tolerance:.0%} of {baseline_path} ({elapsed:.1f} s)."
        )
        return
    _print_regressions(verdict, tolerance)
    raise typer.Exit(1)


def _print_timings(verdict: gate.Verdict, timing: bool) -> None:
    table = Table(
        title="Time ratios (workload median / calibration median)"
        + ("" if timing else ", informative"),
    )
    for column in ("workload", "baseline", "now", "change"):
        table.add_column(column, justify="left" if column == "workload" else "right")
    for change in verdict.timings:
        moved = change.change
        table.add_row(
            change.workload,
            "-" if change.baseline is None else f"{change.baseline:.3f}",
            f"{change.current:.3f}",
            "-" if moved is None else f"{moved:+.0%}",
        )
    console.print(table)


def _print_regressions(verdict: gate.Verdict, tolerance: float) -> None:
    table = Table(title=f"perf check failed: worse than the baseline by more than {tolerance:.0%}")
    for column in ("workload", "metric", "baseline", "now", "change", "statement", "call site"):
        table.add_column(column, overflow="fold")
    for change in verdict.regressions:
        moved = change.change
        table.add_row(
            change.workload,
            change.metric,
            "-" if change.baseline is None else f"{change.baseline:g}",
            f"{change.current:g}",
            "new" if moved is None else f"{moved:+.1%}",
            change.fingerprint[:200],
            "\n".join(change.call_site),
        )
    console.print(table)


@app.command("validate")
def validate(
    out: Path = typer.Option(Path("validation-out"), "--out", help="Directory for the reports."),
    members: int = typer.Option(
        300, min=20, max=5000, help="Members of the fresh demo association."
    ),
    requests: int = typer.Option(
        DEFAULT_REQUESTS,
        min=1,
        max=1_000_000,
        help="Requests to the `verenigingen serve` process before its RSS is judged.",
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Small runs (a first look, the tests); the sizes are reported."
    ),
    baseline_path: Path = typer.Option(
        Path("perf/baseline.json"), "--baseline", help="The committed baseline."
    ),
    baseline_workload: list[str] | None = typer.Option(
        None, "--baseline-workload", help="Gate only this workload (repeatable; default all)."
    ),
) -> None:
    """Build a fresh demo association, run the workloads with the optimizations off and on,
    inject 5 % job failures and judge the plan's criteria; write validation_report.json, .md
    and .html (exit 1 when a criterion fails)."""
    if baseline_workload:
        _workloads(baseline_workload)  # an unknown name is refused before the long run
    tolerance, _source = regression_tolerance()
    options = ValidationOptions(
        members=members,
        requests=requests,
        baseline=baseline_path,
        tolerance=tolerance,
        baseline_workloads=tuple(baseline_workload) if baseline_workload else None,
    )
    if quick:
        options = options.quick()
    command = " ".join(
        ["verenigingen perf validate", f"--members {members}", f"--requests {requests}"]
        + (["--quick"] if quick else [])
        + [f"--baseline-workload {name}" for name in baseline_workload or ()]
    )
    with (
        tempfile.TemporaryDirectory(prefix="verenigingen-validate-") as work,
        console.status("Validating") as status,
    ):
        try:
            result = run_validation(
                options,
                Path(work),
                Face(load_all, create_app),
                lambda stage: status.update(f"Validating: {stage}"),
            )
        except TooFewInvoices as error:
            raise fail(str(error), 2) from None
    data = validation_report.document(result, command)
    out.mkdir(parents=True, exist_ok=True)
    validation_report.write_json(out / "validation_report.json", data)
    (out / "validation_report.md").write_text(
        validation_report.render_markdown(data), encoding="utf-8"
    )
    (out / "validation_report.html").write_text(validation_html.render_html(data), encoding="utf-8")
    table = Table(title=f"Validation ({result.seconds:.0f} s)")
    for column in ("criterion", "goal", "measured", "verdict"):
        table.add_column(column)
    for criterion in result.criteria:
        table.add_row(
            criterion.title,
            criterion.goal,
            criterion.measured,
            "[green]pass[/]" if criterion.passed else "[red]FAIL[/]",
        )
    console.print(table)
    console.print(f"Wrote {out}/validation_report.json, .md and .html.")
    if not result.passed:
        failed = ", ".join(criterion.key for criterion in result.failed)
        console.print(f"[red]perf validate failed[/]: {failed}")
        raise typer.Exit(1)
    console.print("[green]perf validate passed[/]: every criterion met.")
