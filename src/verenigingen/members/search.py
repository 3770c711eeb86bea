"""Finding a member at the desk: by name, member id, email or the last characters of an IBAN.

One text box answers all four, so a treasurer with a bank line in front of them types what the
line shows. The list keeps the members list's order (by name, the index ``ix_member_name``) and
its keyset paging, so the thousandth page costs what the first does: the search narrows the
rows the index walks, it never sorts them.

On PostgreSQL each of the four tests has an index (migration 0021: trigram indexes of the
lower-cased full name and of the IBAN, and the lower-cased member id and email), so a search
that matches few members of a large association reads those few and sorts them instead of
walking every name; the planner chooses between the two from the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, literal_column, or_
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.db.paging import Keyset, KeysetPage, PageRequest, keyset_page
from verenigingen.errors import ValidationFailed
from verenigingen.members.models import Member, MemberStatus
from verenigingen.members.queries import readable_members
from verenigingen.members.scope import read_scope

MAX_SEARCH_LENGTH = 100
"""Longest search text: a full name or an email address fits."""

IBAN_TAIL_LENGTH = 4
"""The shortest run of digits taken as the end of an IBAN (as a bank statement shows it)."""

SEARCH_ORDER = Keyset("member_search", (Member.last_name, Member.first_name, Member.id))
"""By name, as the members list: the index ``ix_member_name`` serves it."""


@dataclass(frozen=True)
class MemberSearch:
    """What the desk's member list is asked: a text and a status, either may be empty."""

    text: str = ""
    status: str | None = None

    def check(self) -> None:
        """422 for a text that is too long or has control characters, or an unknown status."""
        if len(self.text) > MAX_SEARCH_LENGTH:
            raise ValidationFailed(f"the search is longer than {MAX_SEARCH_LENGTH} characters")
        if any(ord(character) < 0x20 or ord(character) == 0x7F for character in self.text):
            raise ValidationFailed("the search may not contain control characters")
        if self.status is not None and self.status not in set(MemberStatus):
            raise ValidationFailed(f"unknown member status {self.status!r}")


def search_members(
    session: Session, user: User, search: MemberSearch, page: PageRequest = PageRequest()
) -> KeysetPage[Member]:
    """A page of the members whose name, member id, email or IBAN end matches ``search.text``
    (all members when empty), of ``search.status`` when given, by name.

    Staff only in practice: a Member's scope narrows the list to itself. 422 for a bad search,
    page size or cursor, before anything is read. One statement (two with ``page.count``).
    """
    require(user, Permission.MEMBERS_READ)
    search.check()
    page.check()
    statement = readable_members(read_scope(session, user))
    if search.status is not None:
        statement = statement.where(Member.status == search.status)
    text = search.text.strip()
    if text:
        statement = statement.where(_matches(text))
    return keyset_page(session, statement, SEARCH_ORDER, page)


def _matches(text: str) -> ColumnElement[bool]:
    """Any of: the name contains the text, the member id or email is it (ignoring case), or the
    IBAN ends with it (spaces ignored, four characters or more)."""
    lowered = text.lower()
    # Written as the PostgreSQL search indexes are (migration 0021), the space as a literal.
    full_name = func.lower(Member.first_name + literal_column("' '") + Member.last_name)
    conditions = [
        full_name.contains(lowered, autoescape=True),
        func.lower(Member.member_id) == lowered,
        func.lower(Member.email) == lowered,
    ]
    compact = "".join(text.split()).upper()
    if len(compact) >= IBAN_TAIL_LENGTH and compact.isascii() and compact.isalnum():
        conditions.append(Member.iban.endswith(compact, autoescape=True))
    return or_(*conditions)
