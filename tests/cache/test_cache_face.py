"""GET /api/v1/perf/cache and ``verenigingen cache stats | clear``."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from verenigingen.app_context import context_of
from verenigingen.auth.models import Role
from verenigingen.cache import VersionedCache, bump_tags
from verenigingen.cli import cache as cli_cache
from verenigingen.cli.app import app

runner = CliRunner()


def three_lookups(cache: VersionedCache, session: Session) -> None:
    """history: 1 cold, 1 hit, 1 invalidated; summary: 1 cold."""
    cache.get_or_fill(session, "history", "m1", ["member:1"], lambda: {"n": 1}, ttl=60)
    cache.get_or_fill(session, "history", "m1", ["member:1"], lambda: {"n": 2}, ttl=60)
    cache.get_or_fill(session, "summary", "m1", ["member:1"], lambda: {"n": 3}, ttl=60)
    bump_tags(session, ["member:1"])
    cache.get_or_fill(session, "history", "m1", ["member:1"], lambda: {"n": 4}, ttl=60)


@pytest.fixture
def cache(session: Session) -> VersionedCache:
    cache = context_of(session).cache  # the one the API's routes are given
    three_lookups(cache, session)
    return cache


def test_administrators_read_the_statistics(cache: VersionedCache, api) -> None:  # type: ignore[no-untyped-def]
    response = api(Role.ADMINISTRATOR).get("/api/v1/perf/cache")
    assert response.status_code == 200
    body = response.json()
    assert body["backend"] == "memory"
    history, summary = body["namespaces"]
    assert {key: history[key] for key in ("namespace", "lookups", "hits", "misses")} == {
        "namespace": "history",
        "lookups": 3,
        "hits": 1,
        "misses": 2,
    }
    assert (history["cold"], history["invalidated"], history["expired"]) == (1, 1, 0)
    assert history["hit_rate"] == 0.3333
    assert history["fill_count"] == 2
    assert history["fill_ms_total"] >= 0
    assert (summary["namespace"], summary["lookups"], summary["hit_rate"]) == ("summary", 1, 0.0)


@pytest.mark.parametrize("role", [Role.TREASURER, Role.MEMBERSHIP_SECRETARY, Role.MEMBER])
def test_others_are_refused(cache: VersionedCache, api, role: Role) -> None:  # type: ignore[no-untyped-def]
    response = api(role).get("/api/v1/perf/cache")
    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden",
        "detail": "only an administrator may read the cache statistics",
    }


def test_anonymous_is_refused(cache: VersionedCache, api) -> None:  # type: ignore[no-untyped-def]
    client = api(Role.ADMINISTRATOR)
    del client.headers["Authorization"]
    assert client.get("/api/v1/perf/cache").status_code == 401


def table_rows(output: str) -> dict[str, list[str]]:
    """The rows of the Rich table, by namespace: the other eight columns, stripped."""
    return {
        cells[0]: cells[1:]
        for line in output.splitlines()
        if len(cells := [cell.strip() for cell in line.split("│")[1:-1]]) == 9
    }


def test_cli_shows_the_statistics(cache: VersionedCache, monkeypatch: pytest.MonkeyPatch) -> None:
    # The command's cache is the one its settings build; here, the one the lookups went through.
    monkeypatch.setattr(cli_cache, "command_cache", lambda: cache)
    result = runner.invoke(app, ["cache", "stats"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "cache (memory)" in result.output
    rows = table_rows(result.output)
    assert set(rows) == {"history", "summary"}
    assert "hit rate" in result.output
    assert rows["history"][:7] == ["3", "1", "1", "1", "0", "33.3%", "2"]
    assert rows["summary"][:7] == ["1", "0", "1", "0", "0", "0.0%", "1"]
    assert float(rows["history"][7]) >= 0  # mean fill time in ms


def test_cli_clear_empties_the_cache(
    cache: VersionedCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_cache, "command_cache", lambda: cache)
    result = runner.invoke(app, ["cache", "clear"])
    assert result.exit_code == 0
    assert result.output.strip() == "cache (memory) cleared"
    assert cache.stats() == {}
    assert len(cache.backend) == 0  # type: ignore[arg-type]
    result = runner.invoke(app, ["cache", "stats"])
    assert result.output.strip() == "cache (memory): no lookups yet"


def test_cli_shows_what_other_processes_counted_on_redis(
    redis_url: str, redis_prefix: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verenigingen.cache.redis_backend import RedisBackend

    other_process = VersionedCache(RedisBackend(redis_url, prefix=redis_prefix))
    three_lookups(other_process, session)
    this = VersionedCache(RedisBackend(redis_url, prefix=redis_prefix))
    monkeypatch.setattr(cli_cache, "command_cache", lambda: this)
    result = runner.invoke(app, ["cache", "stats"], env={"COLUMNS": "160"})
    this.clear()
    assert result.exit_code == 0
    assert "cache (redis)" in result.output
    rows = table_rows(result.output)
    assert rows["history"][:7] == ["3", "1", "1", "1", "0", "33.3%", "2"]
    assert rows["summary"][:7] == ["1", "0", "1", "0", "0", "0.0%", "1"]


@pytest.mark.parametrize("command", ["stats", "clear"])
def test_cli_says_when_redis_is_down(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from verenigingen.cache.redis_backend import RedisBackend

    down = VersionedCache(RedisBackend("redis://127.0.0.1:1/0"))
    monkeypatch.setattr(cli_cache, "command_cache", lambda: down)
    result = runner.invoke(app, ["cache", command])
    assert result.exit_code == 1
    assert "cannot reach the cache's Redis (VERENIGINGEN_REDIS_URL)" in result.output
    assert "Traceback" not in result.output
