"""The ``verenigingen`` command."""

from __future__ import annotations

import typer

from verenigingen.cli import (
    bank,
    cache,
    demo,
    dues,
    indexes,
    jobs,
    perf,
    safety,
    sepa,
    serve,
    settings,
    setup,
    users,
    worker,
)
from verenigingen.startup import load_subscribers

app = typer.Typer(
    name="verenigingen",
    help="Membership and dues administration for associations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def start() -> None:
    """Membership and dues administration for associations."""
    # Every command may write through the services, whose events need their subscribers.
    load_subscribers()


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
app.add_typer(settings.app, name="settings")
app.add_typer(bank.app, name="bank")
app.add_typer(safety.app, name="safety")
app.add_typer(sepa.app, name="sepa")


def main() -> None:
    app()
