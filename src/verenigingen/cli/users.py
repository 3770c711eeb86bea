"""``verenigingen users``: logins and API tokens."""

from __future__ import annotations

import sys

import typer

from verenigingen.auth.service import create_user, get_user_by_email, issue_token, set_password
from verenigingen.cli.context import console, fail, ready_context, transaction

app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)


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


@app.command("token")
def token(email: str) -> None:
    """Print a new API token for the user on stdout (only its hash is stored)."""
    context = ready_context()
    with transaction(context) as session:
        issued = issue_token(session, get_user_by_email(session, email))
    typer.echo(issued)


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
