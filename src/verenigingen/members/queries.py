"""What can be read about members and memberships; a portal member reads only its own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from verenigingen.auth.errors import LoginNotLinkedToMember, NotOwnRecord
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, is_member_role, require
from verenigingen.db.paging import check_page, count_rows
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.members.models import Member, Membership, MembershipStatus, MemberStatus
from verenigingen.members.ownership import own_member_ids


def _page(session: Session, stmt: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    total = count_rows(session, stmt)
    items = list(session.scalars(stmt.limit(limit).offset(offset)).unique())
    return items, total


def _own_member_id(session: Session, user: User) -> int | None:
    """The only member a portal login may read; None for roles that read every member."""
    if not is_member_role(user):
        return None
    own_id, _ = own_member_ids(session, user)
    if own_id is None:
        raise LoginNotLinkedToMember("this login is not linked to a member")
    return own_id


def list_members(
    session: Session, user: User, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Member], int]:
    """One page of members by name, and the total; a portal member gets only itself."""
    require(user, Permission.MEMBERS_READ)
    check_page(limit, offset)
    stmt = select(Member).order_by(Member.last_name, Member.first_name, Member.id)
    if status is not None:
        if status not in set(MemberStatus):
            raise ValidationFailed(f"unknown member status {status!r}")
        stmt = stmt.where(Member.status == status)
    own_id = _own_member_id(session, user)
    if own_id is not None:
        stmt = stmt.where(Member.id == own_id)
    return _page(session, stmt, limit, offset)


def get_member(session: Session, user: User, member_id: int) -> Member:
    require(user, Permission.MEMBERS_READ)
    own_id = _own_member_id(session, user)
    if own_id is not None and own_id != member_id:
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
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Membership], int]:
    """One page of memberships (newest first) with their types loaded, and the total."""
    require(user, Permission.MEMBERS_READ)
    check_page(limit, offset)
    own_id = _own_member_id(session, user)
    if own_id is not None:
        if member_id is not None and member_id != own_id:
            raise NotOwnRecord("a member may only read its own memberships")
        member_id = own_id
    stmt = (
        select(Membership)
        .options(joinedload(Membership.membership_type, innerjoin=True))
        .order_by(Membership.start_date.desc(), Membership.id.desc())
    )
    if member_id is not None:
        stmt = stmt.where(Membership.member_id == member_id)
    if status is not None:
        if status not in set(MembershipStatus):
            raise ValidationFailed(f"unknown membership status {status!r}")
        stmt = stmt.where(Membership.status == status)
    return _page(session, stmt, limit, offset)


def get_membership(session: Session, user: User, membership_id: int) -> Membership:
    require(user, Permission.MEMBERS_READ)
    membership = session.scalar(
        select(Membership)
        .where(Membership.id == membership_id)
        .options(joinedload(Membership.membership_type, innerjoin=True))
    )
    if membership is None:
        raise NotFound(f"no membership with id {membership_id}")
    own_id = _own_member_id(session, user)
    if own_id is not None and membership.member_id != own_id:
        raise NotOwnRecord("a member may only read its own memberships")
    return membership
