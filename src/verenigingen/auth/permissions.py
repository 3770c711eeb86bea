"""Who may do what. Services call :func:`require`; the own-record rule lives in each domain."""

from __future__ import annotations

import enum

from verenigingen.auth.models import Role, User
from verenigingen.errors import PermissionDenied


class Permission(enum.StrEnum):
    MEMBERS_READ = "members.read"
    MEMBERS_WRITE = "members.write"
    BILLING_READ = "billing.read"
    BILLING_WRITE = "billing.write"
    USERS_ADMIN = "users.admin"
    BANK_ACCOUNTS_READ = "bank_accounts.read"
    """See whole IBANs: the roles that collect by direct debit. Everyone else sees them masked."""


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMINISTRATOR: frozenset(Permission),
    Role.TREASURER: frozenset(
        {
            Permission.MEMBERS_READ,
            Permission.BILLING_READ,
            Permission.BILLING_WRITE,
            Permission.BANK_ACCOUNTS_READ,
        }
    ),
    Role.MEMBERSHIP_SECRETARY: frozenset(
        {Permission.MEMBERS_READ, Permission.MEMBERS_WRITE, Permission.BILLING_READ}
    ),
    # A Member reads only its own records; the domain query narrows to them (see is_member_role).
    Role.MEMBER: frozenset({Permission.MEMBERS_READ, Permission.BILLING_READ}),
}


def has_permission(user: User, permission: Permission) -> bool:
    return permission in _GRANTS.get(Role(user.role), frozenset())


def require(user: User, permission: Permission) -> None:
    if not user.enabled or not has_permission(user, permission):
        raise PermissionDenied(f"role {user.role} may not do {permission.value}")


def require_any(user: User, *permissions: Permission) -> None:
    """Pass when the user holds at least one of ``permissions`` (work two roles may both do)."""
    if not user.enabled or not any(has_permission(user, p) for p in permissions):
        wanted = " or ".join(p.value for p in permissions)
        raise PermissionDenied(f"role {user.role} may not do {wanted}")


def sees_whole_ibans(user: User) -> bool:
    """True when ``user`` may see whole IBANs (Administrator, Treasurer); others get them masked."""
    return user.enabled and has_permission(user, Permission.BANK_ACCOUNTS_READ)


def is_member_role(user: User) -> bool:
    """True when the user sees only its own records (the portal role)."""
    return user.role == Role.MEMBER
