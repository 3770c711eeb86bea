"""members.search on each engine: the desk's one text box over name, member id, email and the
end of an IBAN, by name, keyset-paged; bad input refused before anything is read."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from list_factories import add_members
from member_factories import OTHER_IBAN, VALID_IBAN, make_applicant, make_type
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.db.paging import PageRequest
from verenigingen.errors import ValidationFailed
from verenigingen.members.models import Member
from verenigingen.members.search import MemberSearch, search_members
from verenigingen.perf.capture import capture


@pytest.fixture
def people(any_session: Session, admin: User) -> dict[str, Member]:
    """Three applicants: two share a last name, one has a name with a percent sign."""
    make_type(any_session, default=True)
    rows = {
        "anna": make_applicant(any_session, admin, first_name="Anna", last_name="Jansen",
                               email="anna.jansen@example.org", iban=VALID_IBAN),
        "piet": make_applicant(any_session, admin, first_name="Piet", last_name="Jansen",
                               email="piet@example.org", iban=OTHER_IBAN),
        "odd": make_applicant(any_session, admin, first_name="Honderd%", last_name="Zeker_",
                              email="odd@example.org"),
    }  # fmt: skip
    any_session.flush()
    return rows


def found(session: Session, user: User, text: str = "", status: str | None = None) -> list[int]:
    page = search_members(session, user, MemberSearch(text, status))
    return [member.id for member in page.items]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("jansen", ["anna", "piet"]),
        ("ANNA J", ["anna"]),
        ("anna.jansen@EXAMPLE.org", ["anna"]),
        ("4300", ["anna"]),
        ("0532 0130 00", ["piet"]),
        ("%", ["odd"]),
        ("_", ["odd"]),
        ("nobody", []),
    ],
)
def test_the_text_matches_name_email_or_iban_end(any_session, admin, people, text, names):
    assert found(any_session, admin, text) == [people[name].id for name in names]


def test_the_member_id_ignoring_case(any_session, admin, people) -> None:
    member_id = people["piet"].member_id
    assert found(any_session, admin, member_id.lower()) == [people["piet"].id]


def test_the_status_filter(any_session, admin, people) -> None:
    people["piet"].status = "Suspended"
    any_session.flush()
    assert found(any_session, admin, "jansen", "Suspended") == [people["piet"].id]


def test_pages_follow_the_name_order_with_one_statement_each(any_session, admin) -> None:
    add_members(any_session, 12)
    seen: list[int] = []
    cursor = None
    while True:
        with capture() as log:
            page = search_members(
                any_session, admin, MemberSearch("voornaam"), PageRequest(5, after=cursor)
            )
        assert log.count == 1
        seen += [member.id for member in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 12


@pytest.mark.parametrize(
    "search",
    [MemberSearch("a" * 101), MemberSearch("tab\there"), MemberSearch("", "Retired")],
)
def test_a_bad_search_is_refused(any_session, admin, search) -> None:
    with pytest.raises(ValidationFailed):
        search_members(any_session, admin, search)


def test_a_cursor_of_another_list_is_refused(any_session, admin) -> None:
    add_members(any_session, 3)
    from verenigingen.members.queries import list_members

    other = list_members(any_session, admin, page=PageRequest(1)).next_cursor
    with pytest.raises(ValidationFailed):
        search_members(any_session, admin, MemberSearch(), PageRequest(1, after=other))


MANY_MEMBERS = """
INSERT INTO member (member_id, first_name, last_name, email, status, application_status,
                    payment_method, iban)
SELECT 'Assoc-Member-2026-01-' || n, 'Voornaam' || n, 'Achternaam' || (n % 500),
       'lid' || n || '@example.org', 'Active', 'Approved', 'Bank Transfer',
       'NL' || lpad(n::text, 16, '0')
FROM generate_series(1, 20000) AS n
"""


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("assoc-member-2026-01-12345", "ixs_member_member_id_lower"),
        ("LID777@example.org", "ixs_member_email_lower"),
        ("voornaam4321 ", "ixs_member_full_name_trgm"),
        ("0000000000019876", "ixs_member_iban_trgm"),
    ],
)
def test_a_rare_match_reads_the_search_indexes_on_postgresql(postgres_engine, text, index) -> None:
    """At 20,000 members a search that matches one of them reads the search indexes (migration
    0021) instead of walking every name in order."""
    with postgres_engine.connect() as connection:
        connection.execute(sql_text(MANY_MEMBERS))
        connection.execute(sql_text("ANALYZE member"))
        session = Session(bind=connection)
        admin = create_user(session, "zoek@example.org", Role.ADMINISTRATOR)
        sent: list[tuple[str, object]] = []

        def keep(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
            sent.append((statement, parameters))

        event.listen(connection, "before_cursor_execute", keep)
        found = search_members(session, admin, MemberSearch(text), PageRequest(25))
        event.remove(connection, "before_cursor_execute", keep)
        statement, parameters = sent[-1]
        plan = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars().all()
        connection.rollback()
    assert len(found.items) == 1
    assert index in "\n".join(plan), "\n".join(plan)
