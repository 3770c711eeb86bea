"""What can be read about members and memberships; a portal member reads only its own."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from verenigingen.auth.errors import NotOwnRecord
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.db.paging import Keyset, KeysetPage, PageRequest, keyset_page
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.members.models import Member, Membership, MembershipStatus, MemberStatus
from verenigingen.members.scope import ReadScope, read_scope

MEMBER_ORDER = Keyset("members", (Member.last_name, Member.first_name, Member.id))
"""By name: the index ``ix_member_name`` serves it."""

MEMBERSHIP_ORDER = Keyset("memberships", (Membership.start_date, Membership.id), descending=True)
"""Newest first: the index ``ix_membership_start_date_id`` serves it."""


def readable_members(scope: ReadScope) -> Select[Member]:
    """Every member the scope may read: all of them, or the Member's own record."""
    statement = select(Member)
    if not scope.everything:
        statement = statement.where(Member.id == scope.member_id)
    return statement


def readable_memberships(scope: ReadScope) -> Select[Membership]:
    """Every membership the scope may read: all of them, or the Member's own."""
    statement = select(Membership)
    if not scope.everything:
        statement = statement.where(Membership.member_id == scope.member_id)
    return statement


def list_members(
    session: Session, user: User, *, status: str | None = None, page: PageRequest = PageRequest()
) -> KeysetPage[Member]:
    """One page of members by name (the total when asked); a portal member gets only itself."""
    require(user, Permission.MEMBERS_READ)
    page.check()
    if status is not None and status not in set(MemberStatus):
        raise ValidationFailed(f"unknown member status {status!r}")
    stmt = readable_members(read_scope(session, user))
    if status is not None:
        stmt = stmt.where(Member.status == status)
    return keyset_page(session, stmt, MEMBER_ORDER, page)


def get_member(session: Session, user: User, member_id: int) -> Member:
    require(user, Permission.MEMBERS_READ)
    if not read_scope(session, user).may_read_member(member_id):
        raise NotOwnRecord("a member may only read its own record")
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member with id {member_id}")
    return member


def list_memberships(
    session: Session,
    user: User,
    member_id: int | None = None,
    *,
    status: str | None = None,
    page: PageRequest = PageRequest(),
) -> KeysetPage[Membership]:
    """One page of memberships (newest first) with their types loaded; the total when asked."""
    require(user, Permission.MEMBERS_READ)
    page.check()
    scope = read_scope(session, user)
    if member_id is not None and not scope.may_read_member(member_id):
        raise NotOwnRecord("a member may only read its own memberships")
    stmt = readable_memberships(scope)
    if member_id is not None and scope.everything:
        stmt = stmt.where(Membership.member_id == member_id)
    if status is not None:
        if status not in set(MembershipStatus):
            raise ValidationFailed(f"unknown membership status {status!r}")
        stmt = stmt.where(Membership.status == status)
    loads = [joinedload(Membership.membership_type, innerjoin=True)]
    return keyset_page(session, stmt, MEMBERSHIP_ORDER, page, loads=loads)


def get_membership(session: Session, user: User, membership_id: int) -> Membership:
    require(user, Permission.MEMBERS_READ)
    membership = session.scalar(
        select(Membership)
        .where(Membership.id == membership_id)
        .options(joinedload(Membership.membership_type, innerjoin=True))
    )
    if membership is None:
        raise NotFound(f"no membership with id {membership_id}")
    if not read_scope(session, user).may_read_member(membership.member_id):
        raise NotOwnRecord("a member may only read its own memberships")
    return membership
