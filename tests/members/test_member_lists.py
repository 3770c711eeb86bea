"""members.lists on each engine: the open applications oldest first and the terminated members
the latest date first, keyset-paged at one statement a page; the counts; who may read them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from member_factories import make_active_member, make_applicant, make_type
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.db.paging import PageRequest
from verenigingen.errors import PermissionDenied, ValidationFailed
from verenigingen.members.lists import (
    count_applications,
    is_open_application,
    list_applications,
    list_terminations,
)
from verenigingen.members.models import ApplicationStatus, Member
from verenigingen.members.service import reject_member, terminate_member
from verenigingen.perf.capture import capture


@pytest.fixture
def applicants(any_session: Session, admin: User) -> list[Member]:
    """Five applications in the order they came in; the second rejected, the fourth Under
    Review (still open)."""
    make_type(any_session, default=True)
    rows = [make_applicant(any_session, admin, first_name=f"Aanvrager{n}") for n in range(5)]
    reject_member(any_session, admin, rows[1].id, "Dubbel")
    rows[3].application_status = ApplicationStatus.UNDER_REVIEW
    any_session.flush()
    return rows


def test_the_open_applications_oldest_first_by_keyset(any_session, admin, applicants) -> None:
    wanted = [applicants[n].id for n in (0, 2, 3, 4)]
    with capture() as queries:
        first = list_applications(any_session, admin, PageRequest(3))
    assert [member.id for member in first.items] == wanted[:3]
    assert first.next_cursor is not None
    with capture() as next_queries:
        second = list_applications(any_session, admin, PageRequest(3, after=first.next_cursor))
    assert [member.id for member in second.items] == wanted[3:]
    assert second.next_cursor is None
    assert queries.count == next_queries.count == 1
    assert count_applications(any_session, admin) == 4
    counted = list_applications(any_session, admin, PageRequest(3, count=True))
    assert counted.total == 4
    assert [is_open_application(member) for member in applicants] == [
        True, False, True, True, True,
    ]  # fmt: skip


def test_the_terminations_latest_date_first(any_session, admin) -> None:
    monthly = make_type(any_session)
    members = [
        make_active_member(any_session, admin, monthly, start=dt.date(2026, 1, 1))[0]
        for _ in range(4)
    ]
    days = [dt.date(2026, 2, 1), dt.date(2026, 4, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]
    for member, day in zip(members[:4], days, strict=True):
        terminate_member(any_session, admin, member.id, termination_date=day)
    first = list_terminations(any_session, admin, PageRequest(2, count=True))
    assert [member.id for member in first.items] == [members[1].id, members[3].id]
    assert first.total == 4
    second = list_terminations(any_session, admin, PageRequest(2, after=first.next_cursor))
    # The same date: the later id first.
    assert [member.id for member in second.items] == [members[2].id, members[0].id]
    assert second.next_cursor is None


def test_a_member_reads_only_itself(any_session, admin, applicants) -> None:
    login = create_user(any_session, "aanvrager@example.org", Role.MEMBER)
    applicants[2].user_id = login.id
    any_session.flush()
    assert [m.id for m in list_applications(any_session, login).items] == [applicants[2].id]
    assert count_applications(any_session, login) == 1


def test_a_forged_cursor_is_refused(any_session, admin) -> None:
    with pytest.raises(ValidationFailed):
        list_applications(any_session, admin, PageRequest(3, after="bm90LWEtY3Vyc29y"))
    terminations_cursor = list_terminations(any_session, admin, PageRequest(1)).next_cursor
    assert terminations_cursor is None
    with pytest.raises(ValidationFailed):
        list_terminations(any_session, admin, PageRequest(3, after="eHl6"))


def test_a_disabled_login_reads_nothing(any_session) -> None:
    login = create_user(any_session, "oud@example.org", Role.MEMBERSHIP_SECRETARY)
    login.enabled = False
    with pytest.raises(PermissionDenied):
        list_applications(any_session, login)
    with pytest.raises(PermissionDenied):
        list_terminations(any_session, login)


def test_a_terminations_page_reads_its_index_without_sorting_on_sqlite(any_session, admin) -> None:
    """The page is a range of ix_member_status_termination_date_id, however many terminated."""
    connection = any_session.connection()
    if connection.dialect.name != "sqlite":
        pytest.skip("the plan is read on SQLite")
    sent: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        sent.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", keep)
    try:
        list_terminations(any_session, admin, PageRequest(10))
    finally:
        event.remove(connection, "before_cursor_execute", keep)
    ((statement, parameters),) = sent
    plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    details = " | ".join(str(row[-1]) for row in plan)
    assert "ix_member_status_termination_date_id" in details, details
    assert "TEMP B-TREE" not in details, details
