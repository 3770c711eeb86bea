"""/api/v1/memberships"""

from __future__ import annotations

from fastapi import APIRouter

from verenigingen.db.ids import RecordId
from verenigingen.members import queries
from verenigingen.members.models import MembershipStatus
from verenigingen.members.schemas import CancellationRequest, MembershipOut
from verenigingen.members.service import cancel_membership, renew_membership
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody, Page, PageParams

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/memberships",
    tags=["memberships"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)


@router.get("")
def list_memberships(
    session: SessionDep,
    user: CurrentUser,
    page: PageParams,
    member_id: RecordId | None = None,
    status: MembershipStatus | None = None,
) -> Page[MembershipOut]:
    """Memberships, newest first, a page at a time; a portal member sees only its own."""
    found = queries.list_memberships(session, user, member_id, status=status, page=page)
    return Page[MembershipOut].of(found, MembershipOut.of)


@router.get("/{membership_id}")
def get_membership(
    session: SessionDep, user: CurrentUser, membership_id: RecordId
) -> MembershipOut:
    return MembershipOut.of(queries.get_membership(session, user, membership_id))


@router.post("/{membership_id}/renew")
def renew(session: SessionDep, user: CurrentUser, membership_id: RecordId) -> MembershipOut:
    """Extend by one term and bill every period that starts before the new renewal date."""
    return MembershipOut.of(renew_membership(session, user, membership_id))


@router.post("/{membership_id}/cancel")
def cancel(
    session: SessionDep, user: CurrentUser, membership_id: RecordId, body: CancellationRequest
) -> MembershipOut:
    """Cancel now (Immediate) or at the renewal date (End of Period)."""
    return MembershipOut.of(cancel_membership(session, user, membership_id, body.cancellation_type))
