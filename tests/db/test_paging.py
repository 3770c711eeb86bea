"""Keyset paging (db/paging.py): a walk by cursor visits every row once, in order; a forged
cursor is a 422; a page costs the same statements at two table sizes; the first page of an
unfiltered list is read from an index, without a temporary sort, on SQLite and PostgreSQL, and
the next page starts at its cursor's row of the index on PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from list_factories import FIRST_DAY, add_invoices, add_members
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing import queries
from verenigingen.billing.models import Invoice
from verenigingen.db.paging import PageRequest
from verenigingen.errors import ValidationFailed
from verenigingen.members import queries as member_queries
from verenigingen.members.models import Member
from verenigingen.perf.capture import capture


@pytest.fixture
def treasurer_user(session: Session) -> User:
    return create_user(session, f"t-{uuid.uuid4().hex[:6]}@example.org", Role.TREASURER)


def test_a_walk_by_cursor_visits_every_invoice_once_newest_first(any_session: Session) -> None:
    # On each engine: the cursor's row-value comparison across the ties of a posting date.
    session = any_session
    treasurer_user = create_user(session, f"t-{uuid.uuid4().hex[:6]}@example.org", Role.TREASURER)
    customer = add_invoices(session, 23)
    seen: list[Invoice] = []
    after: str | None = None
    pages = 0
    while True:
        page = queries.list_invoices(
            session, treasurer_user, customer_id=customer.id, page=PageRequest(5, after=after)
        )
        seen.extend(page.items)
        pages += 1
        if page.next_cursor is None:
            break
        after = page.next_cursor
    expected = session.scalars(
        select(Invoice.id)
        .where(Invoice.customer_id == customer.id)
        .order_by(Invoice.posting_date.desc(), Invoice.id.desc())
    ).all()
    assert [invoice.id for invoice in seen] == list(expected)
    assert (pages, len(seen)) == (5, 23)


def test_members_by_name_across_ties(session: Session, treasurer_user: User) -> None:
    add_members(session, 17)
    walked: list[int] = []
    after: str | None = None
    while True:
        page = member_queries.list_members(
            session, treasurer_user, page=PageRequest(4, after=after)
        )
        walked.extend(member.id for member in page.items)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    expected = session.scalars(
        select(Member.id).order_by(Member.last_name, Member.first_name, Member.id)
    ).all()
    assert walked == list(expected)


def test_total_only_when_asked_and_offset_still_pages(
    session: Session, treasurer_user: User
) -> None:
    customer = add_invoices(session, 6)
    plain = queries.list_invoices(session, treasurer_user, customer_id=customer.id)
    counted = queries.list_invoices(
        session, treasurer_user, customer_id=customer.id, page=PageRequest(4, count=True)
    )
    by_number = queries.list_invoices(
        session, treasurer_user, customer_id=customer.id, page=PageRequest(4, offset=4)
    )
    assert (plain.total, plain.next_cursor, len(plain.items)) == (None, None, 6)
    assert (counted.total, len(counted.items)) == (6, 4)
    assert counted.next_cursor is not None
    assert [i.id for i in by_number.items] == [i.id for i in plain.items[4:]]
    assert (by_number.offset, by_number.next_cursor) == (4, None)


def _cursor(*values: object) -> str:
    raw = json.dumps(list(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        "",
        _cursor("members", "Jansen", "Els", 1),  # another list's
        _cursor("invoices", "2026-13-01", 5),  # no such date
        _cursor("invoices", "2026-01-01"),  # a value short
        _cursor("invoices", "2026-01-01", "5"),  # an id as text
        _cursor("invoices", "2026-01-01", True),
        _cursor("invoices", "2026-01-01", 2**63),  # past BIGINT
        _cursor("invoices", "2026-01-01", -1),
        _cursor("invoices", None, 5),
        _cursor({"invoices": 1}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_forged_cursor_is_refused_before_anything_is_read(
    session: Session, treasurer_user: User, cursor: str
) -> None:
    with capture() as log, pytest.raises(ValidationFailed, match="not a cursor of this list"):
        queries.list_invoices(session, treasurer_user, page=PageRequest(after=cursor))
    assert log.count <= 1  # at most the read scope's statement, never the page


def test_a_cursor_and_an_offset_exclude_each_other(session: Session, treasurer_user: User) -> None:
    with pytest.raises(ValidationFailed, match="either after"):
        queries.list_invoices(session, treasurer_user, page=PageRequest(after="x", offset=3))


def _page_statements(session: Session, user: User) -> tuple[int, int]:
    """Statements and rows of the second page of every invoice, as a client walks the list."""
    first = queries.list_invoices(session, user, page=PageRequest(20))
    session.expire_all()
    with capture(count_rows=True) as log:
        second = queries.list_invoices(session, user, page=PageRequest(20, after=first.next_cursor))
    assert len(second.items) == 20
    return log.count, log.rows


def test_a_page_costs_the_same_at_two_table_sizes(session: Session, treasurer_user: User) -> None:
    add_invoices(session, 60)
    small = _page_statements(session, treasurer_user)
    add_invoices(session, 1_500)
    large = _page_statements(session, treasurer_user)
    # the acting user (expired, as in a new request), the page (21 rows: one more than it
    # shows) and the lines of its 20 invoices (none here)
    assert small == large == (3, 22)


def test_the_first_page_reads_an_index_without_sorting_on_sqlite(session: Session) -> None:
    plan = session.execute(
        text(
            "EXPLAIN QUERY PLAN SELECT * FROM invoice ORDER BY posting_date DESC, id DESC LIMIT 51"
        )
    ).all()
    details = " | ".join(str(row[-1]) for row in plan)
    assert "ix_invoice_posting_date_id" in details, details
    assert "TEMP B-TREE" not in details, details


def test_the_next_page_is_a_range_of_the_index_on_sqlite(
    session: Session, treasurer_user: User
) -> None:
    add_invoices(session, 30)
    first = queries.list_invoices(session, treasurer_user, page=PageRequest(10))
    statement = (
        select(Invoice)
        .where(queries.INVOICE_ORDER.after(queries.INVOICE_ORDER.decode(first.next_cursor or "")))
        .order_by(*queries.INVOICE_ORDER.order_by())
        .limit(11)
    )
    compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    details = " | ".join(str(row[-1]) for row in plan)
    assert "SEARCH invoice USING INDEX ix_invoice_posting_date_id (posting_date<" in details, (
        details
    )
    assert "TEMP B-TREE" not in details, details


def test_the_next_page_starts_at_the_cursors_row_in_the_index_on_postgresql(
    postgres_engine: Engine,
) -> None:
    """The row value is the index scan's condition, not a filter: a page after a cursor does not
    read the rows of the cursor's posting date that come before it in the order."""
    cursor = queries.INVOICE_ORDER.encode([dt.date(2026, 5, 2), 1_363_298])
    statement = (
        select(Invoice)
        .where(queries.INVOICE_ORDER.after(queries.INVOICE_ORDER.decode(cursor)))
        .order_by(*queries.INVOICE_ORDER.order_by())
        .limit(51)
    )
    compiled = statement.compile(postgres_engine, compile_kwargs={"literal_binds": True})
    with postgres_engine.connect() as connection:
        # As below: the planner saw an empty table, where a bitmap and a sort cost nothing.
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        connection.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = connection.execute(text(f"EXPLAIN {compiled}")).scalars().all()
        connection.rollback()
    details = "\n".join(plan)
    assert "Index Scan Backward using ix_invoice_posting_date_id" in details, details
    assert (
        "Index Cond: ((posting_date <= '2026-05-02'::date) AND (ROW(posting_date, id) < ROW("
        in (details)
    ), details
    # the expanded form (for MariaDB) is checked on the rows the index range gives, no others
    assert "Rows Removed" not in details, details


def test_the_next_page_is_a_range_of_both_key_columns_on_mariadb(mariadb_engine: Engine) -> None:
    """MariaDB plans the expanded ``OR`` as two ranges of the index's two columns (the cursor's
    day after its row, the days before), not the first column's range with a filter."""
    with Session(mariadb_engine) as session:
        add_invoices(session, 600, days=3)
        first = queries.INVOICE_ORDER.encode([FIRST_DAY + dt.timedelta(days=1), 10**12])
        statement = (
            select(Invoice.id)
            .where(queries.INVOICE_ORDER.after(queries.INVOICE_ORDER.decode(first)))
            .order_by(*queries.INVOICE_ORDER.order_by())
            .limit(51)
        )
        compiled = statement.compile(mariadb_engine, compile_kwargs={"literal_binds": True})
        plan = json.loads(session.execute(text(f"EXPLAIN FORMAT=JSON {compiled}")).scalar_one())
        session.rollback()
    [step] = plan["query_block"]["nested_loop"]
    table = step["table"]
    assert (table["access_type"], table["key"]) == ("range", "ix_invoice_posting_date_id"), plan
    assert table["used_key_parts"] == ["posting_date", "id"], plan


def test_the_first_page_reads_an_index_without_sorting_on_postgresql(
    postgres_engine: Engine,
) -> None:
    with postgres_engine.connect() as connection:
        # A planner that saw an empty table may prefer a sequential scan and a sort of nothing;
        # a big enough table is what the index is for, which these settings stand in for.
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        plan = (
            connection.execute(
                text("EXPLAIN SELECT * FROM invoice ORDER BY posting_date DESC, id DESC LIMIT 51")
            )
            .scalars()
            .all()
        )
        connection.rollback()
    details = "\n".join(plan)
    assert "Index Scan Backward using ix_invoice_posting_date_id" in details, details
    assert "Sort" not in details, details
