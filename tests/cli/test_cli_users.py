"""``verenigingen users``: passwords, tokens, disabling, listing; every error writes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from verenigingen import clock
from verenigingen.auth.models import ApiToken, User
from verenigingen.auth.passwords import verify_password
from verenigingen.cli.app import app
from verenigingen.config import get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory

runner = CliRunner()
GOOD_PASSWORD = "paard-batterij-niet"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An initialised embedded installation with one administrator, admin@example.org."""
    monkeypatch.setenv("VERENIGINGEN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VERENIGINGEN_DATABASE_URL", raising=False)
    monkeypatch.delenv("VERENIGINGEN_REDIS_URL", raising=False)
    get_settings.cache_clear()
    assert runner.invoke(app, ["init"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def read(data_dir: Path) -> Iterator[Session]:
    """A session on the installation's database, for reading what the commands wrote; its
    transactions are DEFERRED, so that they never hold the write lock the commands need."""
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    deferred = engine.execution_options(sqlite_begin="DEFERRED")
    with make_session_factory(deferred)() as session:
        yield session
    engine.dispose()


def invoke(*arguments: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    # Wide enough that tables print whole cells.
    return runner.invoke(app, ["users", *arguments], input=stdin, env={"COLUMNS": "200"})


def user_row(session: Session, email: str) -> User:
    session.rollback()  # a new snapshot: what the commands committed since
    user = session.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


def create(email: str, role: str = "Treasurer") -> None:
    result = invoke("create", email, "--role", role)
    assert result.exit_code == 0, result.output


# Passwords


def test_password_from_stdin_is_set(data_dir: Path, read: Session) -> None:
    result = invoke("password", "Admin@Example.org", "--password-stdin", stdin=GOOD_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Password of admin@example.org set." in result.output
    assert verify_password(GOOD_PASSWORD, user_row(read, "admin@example.org").password_hash)


def test_password_asked_twice_without_stdin_flag(data_dir: Path, read: Session) -> None:
    result = invoke("password", "admin@example.org", stdin=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert verify_password(GOOD_PASSWORD, user_row(read, "admin@example.org").password_hash)


@pytest.mark.parametrize(
    ("arguments", "stdin", "message"),
    [
        (["nobody@example.org", "--password-stdin"], GOOD_PASSWORD, "no user with email"),
        (["admin@example.org", "--password-stdin"], "elf-tekens!", "at least 12 characters"),
        (["admin@example.org", "--password-stdin"], "Qwerty123456", "most common passwords"),
        (["admin@example.org", "--password-stdin"], "", "stdin held no password"),
    ],
)
def test_a_refused_password_changes_nothing(
    data_dir: Path, read: Session, arguments: list[str], stdin: str, message: str
) -> None:
    result = invoke("password", *arguments, stdin=stdin + "\n")
    assert result.exit_code == 1
    assert message in result.output
    assert user_row(read, "admin@example.org").password_hash is None


def test_create_refuses_a_common_password(data_dir: Path, read: Session) -> None:
    result = invoke(
        "create", "x@example.org", "--role", "Member", "--password-stdin", stdin="qwerty123456\n"
    )
    assert result.exit_code == 1
    assert "most common passwords" in result.output
    read.rollback()
    assert read.scalar(select(User).where(User.email == "x@example.org")) is None


# Tokens


def token_rows(session: Session, email: str) -> list[ApiToken]:
    user = user_row(session, email)
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)))


def test_token_with_label_and_expiry(data_dir: Path, read: Session) -> None:
    result = invoke(
        "token", "admin@example.org", "--label", "boekhouding", "--expires-in-days", "30"
    )
    assert result.exit_code == 0, result.output
    printed = result.output.strip()
    assert printed.startswith("vrg_")
    [row] = token_rows(read, "admin@example.org")
    assert (row.label, row.prefix, row.revoked_at) == ("boekhouding", printed[:12], None)
    assert row.expires_at is not None
    assert abs(row.expires_at - (clock.now() + dt.timedelta(days=30))) < dt.timedelta(minutes=1)


def test_token_without_options_never_expires(data_dir: Path, read: Session) -> None:
    assert invoke("token", "admin@example.org").exit_code == 0
    [row] = token_rows(read, "admin@example.org")
    assert (row.label, row.expires_at) == ("", None)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nobody@example.org"], "no user with email"),
        (["admin@example.org", "--expires-in-days", "0"], "expires after 1 to 3650 days"),
        (["admin@example.org", "--expires-in-days", "3651"], "expires after 1 to 3650 days"),
        (["admin@example.org", "--label", "x" * 101], "at most 100 characters"),
    ],
)
def test_a_refused_token_is_not_stored(
    data_dir: Path, read: Session, arguments: list[str], message: str
) -> None:
    result = invoke("token", *arguments)
    assert result.exit_code == 1
    assert message in result.output
    assert token_rows(read, "admin@example.org") == []


def test_tokens_lists_every_state_and_no_secret(data_dir: Path, read: Session) -> None:
    active = invoke("token", "admin@example.org", "--label", "ci").output.strip()
    revoked = invoke("token", "admin@example.org", "--label", "oud").output.strip()
    invoke("token", "admin@example.org", "--label", "kort", "--expires-in-days", "1")
    rows = {row.label: row for row in token_rows(read, "admin@example.org")}
    assert invoke("revoke", str(rows["oud"].id)).exit_code == 0
    with clock.frozen(clock.today() + dt.timedelta(days=2)):
        result = invoke("tokens", "admin@example.org")
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[3].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "active" in lines["ci"]
    assert "revoked" in lines["oud"]
    assert "expired" in lines["kort"]
    assert active[:12] in lines["ci"]
    assert active not in result.output
    assert revoked not in result.output
    assert rows["ci"].token_hash not in result.output


def test_tokens_of_an_unknown_user_is_an_error(data_dir: Path) -> None:
    result = invoke("tokens", "nobody@example.org")
    assert result.exit_code == 1
    assert "no user with email" in result.output


def test_revoke_one_token_by_id(data_dir: Path, read: Session) -> None:
    invoke("token", "admin@example.org", "--label", "een")
    invoke("token", "admin@example.org", "--label", "twee")
    rows = {row.label: row for row in token_rows(read, "admin@example.org")}
    result = invoke("revoke", str(rows["een"].id))
    assert result.exit_code == 0, result.output
    assert f"Token {rows['een'].id} ({rows['een'].prefix}…) revoked at" in result.output
    after = {row.label: row.revoked_at for row in token_rows(read, "admin@example.org")}
    assert after["een"] is not None
    assert after["twee"] is None


def test_revoke_all_tokens_of_a_user(data_dir: Path, read: Session) -> None:
    create("penning@example.org")
    for _ in range(3):
        invoke("token", "penning@example.org")
    invoke("token", "admin@example.org")
    result = invoke("revoke", "--all", "Penning@Example.org")
    assert result.exit_code == 0, result.output
    assert "Revoked 3 token(s) of penning@example.org." in result.output
    assert all(row.revoked_at for row in token_rows(read, "penning@example.org"))
    assert [row.revoked_at for row in token_rows(read, "admin@example.org")] == [None]
    again = invoke("revoke", "--all", "penning@example.org")
    assert "Revoked 0 token(s)" in again.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["999999"], "no API token with id 999999"),
        (["abc"], "not a token id: 'abc'"),
        ([str(2**63)], "not a token id"),
        (["--all", "nobody@example.org"], "no user with email"),
    ],
)
def test_revoke_errors_change_nothing(
    data_dir: Path, read: Session, arguments: list[str], message: str
) -> None:
    invoke("token", "admin@example.org")
    result = invoke("revoke", *arguments)
    assert result.exit_code == 1
    assert message in result.output
    assert [row.revoked_at for row in token_rows(read, "admin@example.org")] == [None]


# Disabling and listing


def test_disable_and_enable_a_user(data_dir: Path, read: Session) -> None:
    create("penning@example.org")
    result = invoke("disable", "penning@example.org")
    assert result.exit_code == 0, result.output
    assert "Disabled penning@example.org." in result.output
    assert user_row(read, "penning@example.org").enabled is False
    refused = invoke("token", "penning@example.org")
    assert refused.exit_code == 1
    assert "is disabled" in refused.output
    assert invoke("disable", "penning@example.org").exit_code == 0  # again: nothing changes
    result = invoke("enable", "penning@example.org")
    assert result.exit_code == 0, result.output
    assert "Enabled penning@example.org." in result.output
    assert user_row(read, "penning@example.org").enabled is True


def test_disabling_the_last_enabled_administrator_is_refused(data_dir: Path, read: Session) -> None:
    result = invoke("disable", "admin@example.org")
    assert result.exit_code == 1
    assert "only enabled Administrator" in result.output
    assert user_row(read, "admin@example.org").enabled is True

    create("tweede@example.org", "Administrator")
    assert invoke("disable", "admin@example.org").exit_code == 0
    assert user_row(read, "admin@example.org").enabled is False
    result = invoke("disable", "tweede@example.org")
    assert result.exit_code == 1
    assert "tweede@example.org is the only enabled Administrator" in result.output
    assert user_row(read, "tweede@example.org").enabled is True


@pytest.mark.parametrize("command", ["disable", "enable"])
def test_disable_or_enable_an_unknown_user(data_dir: Path, command: str) -> None:
    result = invoke(command, "nobody@example.org")
    assert result.exit_code == 1
    assert "no user with email" in result.output


def test_list_shows_role_enabled_and_active_tokens(data_dir: Path) -> None:
    create("penning@example.org")
    create("lid@example.org", "Member")
    invoke("token", "penning@example.org")
    invoke("token", "penning@example.org")
    invoke("token", "penning@example.org", "--expires-in-days", "1")
    invoke("disable", "lid@example.org")
    with clock.frozen(clock.today() + dt.timedelta(days=2)):
        result = invoke("list")
    assert result.exit_code == 0, result.output
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in result.output.splitlines()
        if "@example.org" in line
    ]
    assert [row[1:] for row in rows] == [
        ["admin@example.org", "Administrator", "yes", "0"],
        ["lid@example.org", "Member", "no", "0"],
        ["penning@example.org", "Treasurer", "yes", "2"],
    ]
