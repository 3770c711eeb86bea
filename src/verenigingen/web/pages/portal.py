"""The member portal: a Member's own membership, invoices and payments.

Every page reads through the same services and permissions as the API (a Member sees only its
own records: ``members.scope``). Other roles opening a portal page get the 403 page, which
points them to their desk. The portal's pages are listed in :data:`PORTAL_NAV`.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.errors import LoginNotLinkedToMember
from verenigingen.auth.models import User
from verenigingen.auth.permissions import is_member_role
from verenigingen.errors import PermissionDenied
from verenigingen.history.overview import member_overview
from verenigingen.members.models import BillingPeriod, Member, MembershipStatus, MemberStatus
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.forms import N_
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

PORTAL_NAV = (
    ("/portal", N_("Overview")),
    ("/portal/history", N_("Payment history")),
    ("/portal/invoices", N_("Invoices")),
    ("/portal/mandates", N_("Direct debit")),
    ("/portal/jobs", N_("My background jobs")),
    ("/portal/notifications", N_("Notifications")),
    ("/portal/profile", N_("Profile")),
)
"""The portal's menu: (path, label) in the order shown."""

STATUS_LABELS = {
    # The statuses a page shows, for the catalog (translated where shown: _(status)).
    MemberStatus.PENDING: N_("Pending"),
    MemberStatus.ACTIVE: N_("Active"),
    MemberStatus.REJECTED: N_("Rejected"),
    MemberStatus.EXPIRED: N_("Expired"),
    MemberStatus.SUSPENDED: N_("Suspended"),
    MemberStatus.BANNED: N_("Banned"),
    MemberStatus.DECEASED: N_("Deceased"),
    MemberStatus.TERMINATED: N_("Terminated"),
    MembershipStatus.DRAFT: N_("Draft"),
    MembershipStatus.INACTIVE: N_("Inactive"),
    MembershipStatus.CANCELLED: N_("Cancelled"),
}

PERIOD_LABELS = {
    BillingPeriod.MONTHLY: N_("per month"),
    BillingPeriod.QUARTERLY: N_("per quarter"),
    BillingPeriod.SEMI_ANNUAL: N_("per half year"),
    BillingPeriod.ANNUAL: N_("per year"),
    BillingPeriod.LIFETIME: N_("once, for life"),
    BillingPeriod.CUSTOM: N_("per period"),
}


def require_portal_role(viewer: User) -> None:
    """The portal is a Member's; the other roles get the 403 page (which points to the desk)."""
    if not is_member_role(viewer):
        raise PermissionDenied("the portal is for members; staff work at the desk")


def own_member(session: Session, viewer: User) -> Member:
    """The signed-in Member's own member record, for a page that changes it (the 403 page for a
    login without one: ``login_not_linked_to_member``, as ``members.scope`` answers)."""
    member = session.scalar(select(Member).where(Member.user_id == viewer.id))
    if member is None:
        raise LoginNotLinkedToMember("this login is not linked to a member")
    return member


@router.get("/portal")
def dashboard(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """Status, membership and fee, the next invoice, and what is outstanding (overdue badge):
    two statements after the sign-in's one (``history.overview``)."""
    overview = member_overview(session, viewer)
    return render(
        request,
        "portal/dashboard.html",
        {"overview": overview, "period_labels": PERIOD_LABELS, "nav": PORTAL_NAV},
    )
