import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from verenigingen.members.models import Customer
from verenigingen.perf.assertions import QueryCountError, assert_max_queries, assert_queries
from verenigingen.perf.capture import capture
from verenigingen.perf.fingerprint import mask_literals


def _customers(session: Session, count: int) -> list[int]:
    rows = [{"debtor_number": f"CAP-{i}", "name": f"Klant {i}"} for i in range(count)]
    session.execute(insert(Customer), rows)
    return list(session.scalars(select(Customer.id).where(Customer.debtor_number.like("CAP-%"))))


def test_in_lists_of_any_length_share_one_fingerprint(session: Session) -> None:
    ids = _customers(session, 6)
    with capture() as log:
        session.scalars(select(Customer).where(Customer.id.in_(ids[:2]))).all()
        session.scalars(select(Customer).where(Customer.id.in_(ids))).all()
    first, second = log.queries
    assert first.fingerprint == second.fingerprint
    assert "IN (…id_1)" in first.fingerprint
    assert first.sql != second.sql  # the SQL as sent has the expanded lists
    assert "CAP-" not in first.sql  # values are never recorded


def test_raw_sql_literals_are_masked() -> None:
    one = mask_literals("SELECT * FROM member WHERE id IN (1, 2, 3) AND city = 'Delft'", "sqlite")
    two = mask_literals("select * from member where id in (7) and city = 'Breda'", "sqlite")
    assert one == two == "SELECT * FROM member WHERE id IN (?) AND city = ?"


def test_transaction_control_is_counted_apart(fresh_sqlite) -> None:
    with capture() as log, Session(fresh_sqlite) as session, session.begin():
        session.execute(text("SELECT 1"))
        with session.begin_nested():
            session.execute(text("SELECT 2"))
    assert log.count == 2
    assert log.transactions == {"begin": 1, "savepoint": 1, "release_savepoint": 1, "commit": 1}


def test_call_site_names_the_calling_code_and_rows_are_counted(session: Session) -> None:
    _customers(session, 4)

    def load_all_customers() -> list[Customer]:
        return list(session.scalars(select(Customer).where(Customer.debtor_number.like("CAP-%"))))

    with capture(count_rows=True) as log:
        load_all_customers()
        session.execute(
            update(Customer)
            .where(Customer.debtor_number.like("CAP-%"))
            .values(city="Delft")
            .execution_options(synchronize_session=False)
        )
    select_query, update_query = log.queries
    assert select_query.rows == 4
    assert update_query.rows == 4
    site = select_query.call_site[0]
    assert site.path == "tests/perf/test_capture.py"
    assert site.function == "load_all_customers"
    assert select_query.call_site[1].function == (
        "test_call_site_names_the_calling_code_and_rows_are_counted"
    )


def test_executemany_size_and_nested_captures(session: Session) -> None:
    with capture() as outer:
        with capture() as inner:
            session.execute(
                insert(Customer), [{"debtor_number": f"EM-{i}", "name": "x"} for i in range(7)]
            )
        session.execute(text("SELECT 1"))
    assert inner.count == 1
    assert outer.count == 2
    assert inner.queries[0].executemany in (1, 7)  # insertmanyvalues sends one multi-row INSERT
    assert inner.queries[0].rows in (None, 7)


def test_assert_queries_lists_the_queries_and_call_sites(session: Session) -> None:
    with assert_queries(1):
        session.execute(text("SELECT 1"))

    def two_queries() -> None:
        session.execute(text("SELECT 1"))
        session.execute(text("SELECT 2"))

    with pytest.raises(QueryCountError) as failure, assert_queries(1):
        two_queries()
    message = str(failure.value)
    assert message.startswith("expected 1 queries, the block sent 2:")
    assert "2. SELECT 2" in message
    assert "at tests/perf/test_capture.py:" in message
    with pytest.raises(QueryCountError, match="at most 0 queries"), assert_max_queries(0):
        session.execute(text("SELECT 1"))


def test_query_log_fixture_sees_the_whole_test(session: Session, query_log) -> None:
    session.execute(text("SELECT 1"))
    session.execute(text("SELECT 1"))
    assert query_log.by_fingerprint() == {"SELECT 1": 2}


def test_server_timing_capture_skips_the_detail(session: Session) -> None:
    with capture(detail=False) as light, capture() as full:
        session.execute(text("SELECT 1"))
    assert light.count == full.count == 1
    # One record serves both logs: detail is taken when any active capture wants it.
    assert full.queries[0].call_site
    with capture(detail=False) as light_only:
        session.execute(text("SELECT 1"))
    assert light_only.queries[0].call_site == ()
    assert light_only.queries[0].parameters_key is None
