"""The ``verenigingen`` command."""

from __future__ import annotations

import typer

from verenigingen.cli import cache, demo, dues, indexes, jobs, perf, serve, setup, users, worker

app = typer.Typer(
    name="verenigingen",
    help="Membership and dues administration for associations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("init")(setup.init)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.command("worker")(worker.worker)
app.add_typer(users.app, name="users")
app.add_typer(dues.app, name="dues")
app.add_typer(jobs.app, name="jobs")
app.add_typer(perf.app, name="perf")
app.add_typer(indexes.app, name="indexes")
app.add_typer(cache.app, name="cache")


def main() -> None:
    app()
