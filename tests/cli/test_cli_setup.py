from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from verenigingen.auth.models import ApiToken, Role, User
from verenigingen.cli.app import app
from verenigingen.config import get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VERENIGINGEN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VERENIGINGEN_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _users(data_dir: Path) -> list[tuple[str, str]]:
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    with make_session_factory(engine)() as session:
        rows = [(u.email, u.role) for u in session.scalars(select(User).order_by(User.id))]
    engine.dispose()
    return rows


def test_init_creates_schema_and_one_administrator(data_dir: Path) -> None:
    first = runner.invoke(app, ["init"])
    assert first.exit_code == 0, first.output
    assert "migrated from empty" in first.output
    second = runner.invoke(app, ["init"])
    assert second.exit_code == 0
    assert "is up to date" in second.output
    assert _users(data_dir) == [("admin@example.org", Role.ADMINISTRATOR)]


def test_command_on_empty_database_says_what_to_run(data_dir: Path) -> None:
    result = runner.invoke(app, ["users", "token", "admin@example.org"])
    assert result.exit_code == 1
    assert "run `verenigingen init` first" in result.output


def test_users_create_and_token(data_dir: Path) -> None:
    runner.invoke(app, ["init"])
    created = runner.invoke(
        app,
        ["users", "create", "Penning@Example.org", "--role", "Treasurer", "--password-stdin"],
        input="correct horse\n",
    )
    assert created.exit_code == 0, created.output
    token = runner.invoke(app, ["users", "token", "penning@example.org"])
    assert token.exit_code == 0
    assert token.output.strip().startswith("vrg_")
    assert ("penning@example.org", Role.TREASURER) in _users(data_dir)
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    with make_session_factory(engine)() as session:
        assert session.scalar(select(ApiToken.prefix)) == token.output.strip()[:12]
    engine.dispose()


@pytest.mark.parametrize(
    ("arguments", "stdin", "message"),
    [
        (["users", "create", "x@example.org", "--role", "Boss"], None, "unknown role 'Boss'"),
        (["users", "create", "not-an-email", "--role", "Member"], None, "not a valid email"),
        (["users", "create", "admin@example.org", "--role", "Member"], None, "already exists"),
        (
            ["users", "create", "y@example.org", "--role", "Member", "--password-stdin"],
            "elf-tekens!\n",
            "at least 12 characters",
        ),
        (["users", "token", "nobody@example.org"], None, "no user with email"),
    ],
)
def test_bad_user_input_is_refused_and_writes_nothing(
    data_dir: Path, arguments: list[str], stdin: str | None, message: str
) -> None:
    runner.invoke(app, ["init"])
    result = runner.invoke(app, arguments, input=stdin)
    assert result.exit_code == 1
    assert message in result.output
    assert _users(data_dir) == [("admin@example.org", Role.ADMINISTRATOR)]


def test_outdated_schema_says_what_to_run(data_dir: Path) -> None:
    runner.invoke(app, ["init"])
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    engine.dispose()
    result = runner.invoke(app, ["users", "token", "admin@example.org"])
    assert result.exit_code == 1
    assert "run `verenigingen init` to upgrade it" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_unreachable_database_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERENIGINGEN_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    get_settings.cache_clear()
    try:
        for command in (["users", "token", "a@example.org"], ["init"], ["dues", "generate"]):
            result = runner.invoke(app, command)
            assert result.exit_code == 1, command
            assert "Check VERENIGINGEN_DATABASE_URL" in result.output
            assert len(result.output.strip().splitlines()) == 1
    finally:
        get_settings.cache_clear()
