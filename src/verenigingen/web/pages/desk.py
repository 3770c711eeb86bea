"""The desk: where the staff roles (Administrator, Treasurer, Membership Secretary) work.

Every desk page starts with :func:`require_desk_role` (a Member gets the 403 page, which points
it to the portal) and shows :func:`desk_nav`, the menu of what the viewer's role may do: a
Membership Secretary reads invoices and payments but gets no payment form, a Treasurer no
administrator's page. The pages read and write through the same services and permissions as
the API, so a page never allows what the API refuses.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, has_permission, is_member_role
from verenigingen.db.paging import MAX_CURSOR_LENGTH
from verenigingen.errors import PermissionDenied
from verenigingen.web.pages.forms import N_

PAGE_SIZE = 25
"""Rows on a page of a desk list."""

Cursor = Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)]
"""``after``: the cursor of the next page, as the previous page's "Next" link gives it."""

NavItem = tuple[str, str]

_NAV: tuple[tuple[Permission | None, NavItem], ...] = (
    (None, ("/desk", N_("Desk"))),
    (Permission.MEMBERS_READ, ("/desk/members", N_("Members"))),
    (Permission.MEMBERS_READ, ("/desk/applications", N_("Applications"))),
    (Permission.BILLING_READ, ("/desk/invoices", N_("Invoices"))),
    (Permission.BILLING_READ, ("/desk/payments", N_("Payments"))),
    (Permission.BILLING_WRITE, ("/desk/payments/new", N_("Register a payment"))),
    (Permission.BILLING_WRITE, ("/desk/dues", N_("Dues run"))),
    (Permission.BILLING_WRITE, ("/desk/sepa/batches", N_("SEPA batches"))),
    (Permission.BILLING_WRITE, ("/desk/bank", N_("Bank"))),
    (None, ("/desk/jobs", N_("Jobs"))),
    (None, ("/desk/notifications", N_("Notifications"))),
    (Permission.USERS_ADMIN, ("/desk/performance", N_("Performance"))),
    (Permission.USERS_ADMIN, ("/desk/settings", N_("Settings"))),
    (Permission.USERS_ADMIN, ("/desk/safety", N_("Safety checks"))),
)


def require_desk_role(viewer: User) -> None:
    """The desk is the staff's; a Member gets the 403 page (its home is the portal)."""
    if is_member_role(viewer):
        raise PermissionDenied("the desk is for staff; members use the portal")


def desk_nav(viewer: User) -> list[NavItem]:
    """The desk's menu for ``viewer``: only the pages its role may use, in the order shown."""
    return [
        item
        for permission, item in _NAV
        if permission is None or has_permission(viewer, permission)
    ]
