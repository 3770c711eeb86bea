"""Tag versions: one upsert statement per bump on each engine, one query per read, no deadlocks."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from verenigingen.cache import bump_tags, current_versions
from verenigingen.cache.models import CacheTag
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.perf.assertions import assert_queries


def test_bump_is_one_statement_and_creates_missing_tags(any_session: Session) -> None:
    with assert_queries(1) as log:
        bump_tags(any_session, ["member:2", "customer:1", "member:2"])
    sql = log.queries[0].sql.upper()
    assert "ON CONFLICT" in sql or "ON DUPLICATE KEY UPDATE" in sql
    with assert_queries(1):
        bump_tags(any_session, ["member:2", "invoice:9"])
    with assert_queries(1):
        versions = current_versions(any_session, ["customer:1", "member:2", "invoice:9", "x:0"])
    assert versions == {"customer:1": 1, "member:2": 2, "invoice:9": 1, "x:0": 0}


def test_many_tags_are_still_one_statement(any_session: Session) -> None:
    tags = [f"invoice:{number}" for number in range(200)]
    with assert_queries(1):
        bump_tags(any_session, tags)
    with assert_queries(1):
        assert set(current_versions(any_session, tags).values()) == {1}


def test_tags_are_case_sensitive_on_every_engine(any_session: Session) -> None:
    bump_tags(any_session, ["member:Assoc-A"])
    assert current_versions(any_session, ["member:Assoc-A", "member:assoc-a"]) == {
        "member:Assoc-A": 1,
        "member:assoc-a": 0,
    }
    bump_tags(any_session, ["member:assoc-a"])
    rows = any_session.execute(select(CacheTag.tag, CacheTag.version).order_by(CacheTag.tag))
    assert sorted((tag, version) for tag, version in rows if tag.lower() == "member:assoc-a") == [
        ("member:Assoc-A", 1),
        ("member:assoc-a", 1),
    ]


def test_no_tags_no_statement(session: Session) -> None:
    with assert_queries(0):
        bump_tags(session, [])
        assert current_versions(session, []) == {}


@pytest.mark.parametrize("tag", ["", "x" * 121])
def test_a_bad_tag_is_refused(session: Session, tag: str) -> None:
    with pytest.raises(ValueError, match="1 to 120 characters"):
        bump_tags(session, [tag])


def _concurrent_bumps(engine: Engine) -> None:
    """Writers bump overlapping tags given in different orders: none deadlocks, none is lost."""
    factory = make_session_factory(engine)
    tags = [f"member:{n}" for n in range(6)]
    failures: list[BaseException] = []
    rounds, writers = 15, 6
    start = threading.Barrier(writers)

    def writer(seed: int) -> None:
        shuffled = random.Random(seed)
        start.wait()
        try:
            for _ in range(rounds):
                mine = shuffled.sample(tags, 4)
                with unit_of_work(factory) as session:
                    bump_tags(session, mine)
                    bump_tags(session, mine[:1])  # a second bump in the same transaction
                    counted[seed].extend(mine)
                    counted[seed].append(mine[0])
        except BaseException as error:  # reported below with the test's assertion
            failures.append(error)

    counted: dict[int, list[str]] = {seed: [] for seed in range(writers)}
    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    expected = {tag: sum(bumps.count(tag) for bumps in counted.values()) for tag in tags}
    with unit_of_work(factory) as session:
        assert current_versions(session, tags) == expected
    assert sum(expected.values()) == rounds * writers * 5


def test_concurrent_bumps_sqlite(fresh_sqlite: Engine) -> None:
    _concurrent_bumps(fresh_sqlite)


def test_concurrent_bumps_server(committed_server_engine: Engine) -> None:
    _concurrent_bumps(committed_server_engine)
