"""``verenigingen settings``: runtime settings and feature flags, changed without a restart.

Commands act as the first enabled administrator (``system_user``); a change is audited in its
name and reaches every running process at its next request or job.
"""

from __future__ import annotations

import typer
from rich.table import Table

from verenigingen import clock
from verenigingen.cli.context import console, ready_context, system_user, transaction
from verenigingen.db.paging import PageRequest
from verenigingen.settings import service
from verenigingen.settings.service import EffectiveSetting, Source

app = typer.Typer(
    help="Runtime settings and feature flags: list, get, set, reset, history.",
    no_args_is_help=True,
)


def _described(setting: EffectiveSetting) -> str:
    definition = setting.definition
    line = f"{definition.name} = {definition.text(setting.value)}"
    if setting.source is Source.ENV or setting.updated_at is None:
        return f"{line} (default)"
    return (
        f"{line} (set by {setting.updated_by} at "
        f"{clock.as_utc(setting.updated_at):%Y-%m-%d %H:%M} UTC; "
        f"default {definition.text(setting.default)})"
    )


@app.command("list")
def list_settings() -> None:
    """Every runtime setting: value, default, where the value comes from, bounds, meaning."""
    context = ready_context()
    with transaction(context) as session:
        settings = service.list_settings(session, system_user(session))
    table = Table()
    for column in ("name", "value", "default", "source", "kind", "bounds"):
        table.add_column(column, no_wrap=True)
    table.add_column("description")
    for s in settings:
        d = s.definition
        table.add_row(
            d.name,
            d.text(s.value),
            d.text(s.default),
            s.source.value,
            d.kind.value,
            d.bounds,
            d.description,
        )
    console.print(table)


@app.command("get")
def get(name: str) -> None:
    """One setting's value, and who set it when (or that the default holds)."""
    context = ready_context()
    with transaction(context) as session:
        setting = service.get_setting(session, system_user(session), name)
    console.print(_described(setting), highlight=False)


@app.command("set")
def set_value(
    name: str,
    value: str = typer.Argument(
        ..., help="true/false, a whole number or a decimal (a negative one after --)."
    ),
) -> None:
    """Give a setting a value; every running process uses it from its next request or job."""
    context = ready_context()
    with transaction(context) as session:
        user = system_user(session)
        before = service.get_setting(session, user, name)
        after = service.set_setting(session, user, name, value)
    console.print(
        f"{name}: {before.definition.text(before.value)} ({before.source.value}) -> "
        f"{after.definition.text(after.value)}",
        highlight=False,
    )


@app.command("reset")
def reset(name: str) -> None:
    """Give a setting its default (the environment's value) again."""
    context = ready_context()
    with transaction(context) as session:
        user = system_user(session)
        before = service.get_setting(session, user, name)
        after = service.reset_setting(session, user, name)
    console.print(
        f"{name}: {before.definition.text(before.value)} ({before.source.value}) -> "
        f"{after.definition.text(after.value)} (default)",
        highlight=False,
    )


@app.command("history")
def history(
    name: str | None = typer.Argument(None, help="Only this setting's changes."),
    limit: int = typer.Option(50, min=1, max=500, help="Most recent changes to show."),
) -> None:
    """The audit of every change, newest first: when, which setting, old and new, by whom."""
    context = ready_context()
    with transaction(context) as session:
        found = service.setting_changes(
            session, system_user(session), name=name, page=PageRequest(limit, count=True)
        )
    changes, total = found.items, found.total
    if not changes:
        console.print("no runtime setting was changed yet")
        return
    table = Table("when (UTC)", "setting", "old", "new", "by", title=f"{total} changes")
    for change in changes:
        table.add_row(
            f"{clock.as_utc(change.changed_at):%Y-%m-%d %H:%M:%S}",
            change.name,
            f"{change.old_value} ({change.old_source})",
            f"{change.new_value} ({change.new_source})",
            change.changed_by,
        )
    console.print(table)
