"""``verenigingen users``: passwords, tokens, disabling, listing; every error writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from verenigingen.auth.models import User
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
    """A session on the installation's database, for reading what the commands wrote."""
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def invoke(*arguments: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["users", *arguments], input=stdin)


def user_row(session: Session, email: str) -> User:
    session.expire_all()
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
    read.expire_all()
    assert read.scalar(select(User).where(User.email == "x@example.org")) is None
