"""``verenigingen users``: logins, passwords and API tokens.

Commands that manage other users act as the first enabled administrator (``system_user``).
"""

from __future__ import annotations

import datetime as dt
import sys

import typer
from rich.table import Table

from verenigingen import clock
from verenigingen.auth import queries
from verenigingen.auth.service import (
    create_user,
    disable_user,
    enable_user,
    get_user_by_email,
    issue_token,
    revoke_token,
    revoke_tokens,
    set_password,
)
from verenigingen.cli.context import console, fail, ready_context, system_user, transaction
from verenigingen.db.ids import parse_record_id
from verenigingen.db.paging import MAX_LIMIT, PageRequest

app = typer.Typer(help="Users, roles, passwords and API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    email: str,
    role: str = typer.Option(..., help="Administrator, Treasurer, Membership Secretary or Member."),
    full_name: str = typer.Option("", help="Name shown in the audit trail."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read a password from stdin."
    ),
) -> None:
    """Create a user with a role (and optionally a password read from stdin)."""
    password = _password_from_stdin() if password_stdin else None
    context = ready_context()
    with transaction(context) as session:
        user = create_user(session, email, role, password=password, full_name=full_name)
        console.print(f"Created {user.role} {user.email} (id {user.id}).", highlight=False)


@app.command("list")
def list_users() -> None:
    """Every user: email, role, enabled, and how many tokens work today."""
    context = ready_context()
    table = Table("id", "email", "role", "enabled", "active tokens", title="users")
    with transaction(context) as session:
        actor = system_user(session)
        after: str | None = None
        while True:
            page = queries.list_users(session, actor, page=PageRequest(MAX_LIMIT, after=after))
            for summary in page.items:
                user = summary.user
                enabled = "yes" if user.enabled else "no"
                table.add_row(
                    str(user.id), user.email, user.role, enabled, str(summary.active_tokens)
                )
            if page.next_cursor is None:
                break
            after = page.next_cursor
    console.print(table)


@app.command("token")
def token(
    email: str,
    label: str = typer.Option("", help="What the token is for, shown by `users tokens`."),
    expires_in_days: int | None = typer.Option(
        None, help="Days until the token stops working (1 to 3650); default: until revoked."
    ),
) -> None:
    """Print a new API token for the user on stdout (only its hash is stored)."""
    expires_in = dt.timedelta(days=expires_in_days) if expires_in_days is not None else None
    context = ready_context()
    with transaction(context) as session:
        issued = issue_token(
            session, get_user_by_email(session, email), label=label, expires_in=expires_in
        )
    typer.echo(issued)


@app.command("tokens")
def tokens(email: str) -> None:
    """The user's tokens with their state (active, expired, revoked); never the tokens
    themselves, which only their owner saw when they were issued."""
    context = ready_context()
    with transaction(context) as session:
        user = get_user_by_email(session, email)
        found = queries.list_tokens(session, system_user(session), user.id)
    now = clock.now()
    table = Table("id", "prefix", "label", "created", "expires (UTC)", "state", title=email)
    for item in found:
        table.add_row(
            str(item.id),
            item.prefix,
            item.label,
            f"{item.created_at:%Y-%m-%d}",
            _moment(item.expires_at) if item.expires_at else "never",
            item.state_at(now).value,
        )
    console.print(table)


@app.command("revoke")
def revoke(
    target: str = typer.Argument(..., metavar="TOKEN_ID|EMAIL", help="A token id (see `tokens`)."),
    all_tokens: bool = typer.Option(
        False, "--all", help="Revoke every token of the user whose EMAIL is given."
    ),
) -> None:
    """Revoke one token by its id, or with --all every token of a user; they stop working at
    once."""
    context = ready_context()
    if all_tokens:
        with transaction(context) as session:
            user = get_user_by_email(session, target)
            count = revoke_tokens(session, user)
        console.print(f"Revoked {count} token(s) of {user.email}.", highlight=False)
        return
    token_id = parse_record_id(target)
    if token_id is None:
        raise fail(f"not a token id: {target!r} (to revoke a user's tokens, add --all)")
    with transaction(context) as session:
        revoked = revoke_token(session, system_user(session), token_id)
        revoked_at = _moment(revoked.revoked_at)
    console.print(
        f"Token {token_id} ({revoked.prefix}…) revoked at {revoked_at} UTC.", highlight=False
    )


@app.command("disable")
def disable(email: str) -> None:
    """Disable a user: its password and every one of its tokens stop working at once."""
    context = ready_context()
    with transaction(context) as session:
        user = get_user_by_email(session, email)
        disable_user(session, system_user(session), user.id)
    console.print(f"Disabled {user.email}.", highlight=False)


@app.command("enable")
def enable(email: str) -> None:
    """Enable a disabled user again; its unrevoked, unexpired tokens work again."""
    context = ready_context()
    with transaction(context) as session:
        user = get_user_by_email(session, email)
        enable_user(session, system_user(session), user.id)
    console.print(f"Enabled {user.email}.", highlight=False)


@app.command("password")
def password(
    email: str,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin instead of asking twice."
    ),
) -> None:
    """Set a user's password (at least 12 characters, not a common password)."""
    new_password = (
        _password_from_stdin()
        if password_stdin
        else typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    )
    context = ready_context()
    with transaction(context) as session:
        user = get_user_by_email(session, email)
        set_password(session, user, new_password)
    console.print(f"Password of {user.email} set.", highlight=False)


def _password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise fail("--password-stdin given but stdin held no password")
    return password


def _moment(moment: dt.datetime | None) -> str:
    """A stored UTC timestamp to the minute, or a dash."""
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else "-"
