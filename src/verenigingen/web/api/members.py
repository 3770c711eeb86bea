"""/api/v1/members"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from verenigingen.db.ids import RecordId
from verenigingen.members import queries
from verenigingen.members.models import MemberStatus
from verenigingen.members.schemas import (
    ApprovalRequest,
    MemberApplication,
    MemberOut,
    MemberUpdate,
    RejectionRequest,
    TerminationRequest,
)
from verenigingen.members.service import (
    apply_for_membership,
    approve_member,
    reject_member,
    terminate_member,
    update_member,
)
from verenigingen.sepa.schemas import MandateCreate, MandateOut
from verenigingen.sepa.service import create_mandate, list_mandates
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody, Page, PageParams

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/members",
    tags=["members"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)


@router.get("")
def list_members(
    session: SessionDep, user: CurrentUser, page: PageParams, status: MemberStatus | None = None
) -> Page[MemberOut]:
    """Members by name, a page at a time; a portal member sees only itself."""
    found = queries.list_members(session, user, status=status, page=page)
    return Page[MemberOut].of(found, lambda member: MemberOut.of(member, user))


@router.get("/{member_id}")
def get_member(session: SessionDep, user: CurrentUser, member_id: RecordId) -> MemberOut:
    return MemberOut.of(queries.get_member(session, user, member_id), user)


@router.post("", status_code=201)
def apply(session: SessionDep, user: CurrentUser, body: MemberApplication) -> MemberOut:
    """Record an application; the member is Pending until approved."""
    return MemberOut.of(apply_for_membership(session, user, body), user)


@router.patch("/{member_id}")
def update(
    session: SessionDep, user: CurrentUser, member_id: RecordId, body: MemberUpdate
) -> MemberOut:
    """Change the fields sent; a portal member may change only its own contact details."""
    return MemberOut.of(update_member(session, user, member_id, body), user)


@router.post("/{member_id}/approve")
def approve(
    session: SessionDep,
    user: CurrentUser,
    member_id: RecordId,
    body: Annotated[ApprovalRequest | None, Body()] = None,
) -> MemberOut:
    """Approve a pending application: customer, membership and dues schedule."""
    body = body or ApprovalRequest()
    member = approve_member(
        session,
        user,
        member_id,
        membership_type_id=body.membership_type_id,
        dues_rate=body.dues_rate,
        start_date=body.start_date,
    )
    return MemberOut.of(member, user)


@router.post("/{member_id}/reject")
def reject(
    session: SessionDep, user: CurrentUser, member_id: RecordId, body: RejectionRequest
) -> MemberOut:
    return MemberOut.of(reject_member(session, user, member_id, body.reason), user)


@router.post("/{member_id}/terminate")
def terminate(
    session: SessionDep,
    user: CurrentUser,
    member_id: RecordId,
    body: Annotated[TerminationRequest | None, Body()] = None,
) -> MemberOut:
    """Terminate: memberships cancelled immediately, dues schedules stopped."""
    body = body or TerminationRequest()
    member = terminate_member(
        session, user, member_id, termination_date=body.termination_date, reason=body.reason
    )
    return MemberOut.of(member, user)


@router.get("/{member_id}/mandates")
def mandates(session: SessionDep, user: CurrentUser, member_id: RecordId) -> list[MandateOut]:
    return [MandateOut.of(m, user) for m in list_mandates(session, user, member_id)]


@router.post("/{member_id}/mandates", status_code=201)
def add_mandate(
    session: SessionDep, user: CurrentUser, member_id: RecordId, body: MandateCreate
) -> MandateOut:
    """Record a signed SEPA mandate (Active)."""
    return MandateOut.of(create_mandate(session, user, member_id, body), user)
