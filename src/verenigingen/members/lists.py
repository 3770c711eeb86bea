"""The membership secretary's work lists: the applications waiting for a decision, oldest
first, and the members who were terminated, the latest termination date first.

Both start from :func:`~verenigingen.members.queries.readable_members` (a Member reads only
itself) and page by keyset. Each narrows on ``member.status`` first, the leading column of the
index ``ix_member_status_last_name``, so a page reads the waiting (or terminated) members only,
never the whole table; their order is a sort of those rows (there is no index on the date), so a
page's cost grows with the number of open applications or of terminated members, not with the
association.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.db.paging import Keyset, KeysetPage, PageRequest, count_rows, keyset_page
from verenigingen.members.models import ApplicationStatus, Member, MembershipType, MemberStatus
from verenigingen.members.queries import readable_members
from verenigingen.members.scope import read_scope

OPEN_APPLICATIONS = (ApplicationStatus.PENDING, ApplicationStatus.UNDER_REVIEW)
"""An application in one of these is still to be decided (as ``approve_member`` checks)."""

APPLICATION_ORDER = Keyset("applications", (Member.id,))
"""Oldest application first, in the order they came in (ids are given in that order): the one
that has waited longest is decided first."""

TERMINATION_ORDER = Keyset("terminations", (Member.termination_date, Member.id), descending=True)
"""The latest termination date first: a termination dated ahead (still to take effect) on top."""


def is_open_application(member: Member) -> bool:
    """The member's application is still to be approved or rejected."""
    return member.status == MemberStatus.PENDING and member.application_status in OPEN_APPLICATIONS


def _open_applications(session: Session, user: User) -> Select[Member]:
    require(user, Permission.MEMBERS_READ)
    return readable_members(read_scope(session, user)).where(
        Member.status == MemberStatus.PENDING,
        Member.application_status.in_([status.value for status in OPEN_APPLICATIONS]),
    )


def list_applications(
    session: Session, user: User, page: PageRequest = PageRequest()
) -> KeysetPage[Member]:
    """A page of the applications to approve or reject, oldest first; the count when asked.

    One statement (two with ``page.count``); 422 for a bad page size or cursor.
    """
    return keyset_page(session, _open_applications(session, user), APPLICATION_ORDER, page)


def count_applications(session: Session, user: User) -> int:
    """How many applications wait for a decision: one statement, counted on the status index."""
    return count_rows(session, _open_applications(session, user))


def list_terminations(
    session: Session, user: User, page: PageRequest = PageRequest()
) -> KeysetPage[Member]:
    """A page of the terminated members, the latest termination date first; the count when
    asked. One statement (two with ``page.count``); 422 for a bad page size or cursor."""
    require(user, Permission.MEMBERS_READ)
    statement = readable_members(read_scope(session, user)).where(
        Member.status == MemberStatus.TERMINATED, Member.termination_date.is_not(None)
    )
    return keyset_page(session, statement, TERMINATION_ORDER, page)


def membership_types(
    session: Session, ids: Iterable[int | None] | None = None
) -> list[MembershipType]:
    """The membership types by name: those with ``ids``, or every type when ``ids`` is None
    (what an approval may choose from). One statement; none for an empty ``ids``."""
    statement = select(MembershipType).order_by(MembershipType.name, MembershipType.id)
    if ids is not None:
        wanted = sorted({type_id for type_id in ids if type_id is not None})
        if not wanted:
            return []
        statement = statement.where(MembershipType.id.in_(wanted))
    return list(session.scalars(statement))
