"""/api/v1/memberships"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from verenigingen.db.ids import RecordId, RowOffset
from verenigingen.db.paging import MAX_LIMIT
from verenigingen.members import queries
from verenigingen.members.models import MembershipStatus
from verenigingen.members.schemas import CancellationRequest, MembershipOut
from verenigingen.members.service import cancel_membership, renew_membership
from verenigingen.web.deps import CurrentUser, SessionDep
from verenigingen.web.schemas import ErrorBody, Page

router = APIRouter(
    prefix="/memberships",
    tags=["memberships"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.get("")
def list_memberships(
    session: SessionDep,
    user: CurrentUser,
    member_id: RecordId | None = None,
    status: MembershipStatus | None = None,
    limit: Limit = 50,
    offset: RowOffset = 0,
) -> Page[MembershipOut]:
    """Memberships, newest first; a portal member sees only its own."""
    items, total = queries.list_memberships(
        session, user, member_id, status=status, limit=limit, offset=offset
    )
    return Page[MembershipOut](
        items=[MembershipOut.of(item) for item in items], total=total, limit=limit, offset=offset
    )


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
