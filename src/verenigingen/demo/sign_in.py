"""Sign-in details for the demo association: one known password for its example.org users.

Only the demo's own users (``admin@example.org`` and the users the demo creates) get it, and
only while they have no password: a real administrator's password is never touched. The
password is documented (README, ``make run`` prints it), so a demo database must never face the
internet.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.auth.service import set_password
from verenigingen.demo.generator import DEMO_USERS

DEMO_PASSWORD = "demo-vereniging-2026"  # noqa: S105 (documented, for the demo's users only)
DEMO_ADMINISTRATOR = "admin@example.org"
DEMO_MEMBER = "lid@example.org"


def give_demo_passwords(session: Session, password: str = DEMO_PASSWORD) -> list[str]:
    """Set ``password`` (it must meet the password policy) on every demo user without one;
    the emails of those that got it."""
    emails = [DEMO_ADMINISTRATOR, *(email for email, _role, _name in DEMO_USERS)]
    users = session.scalars(
        select(User).where(User.email.in_(emails), User.password_hash.is_(None)).order_by(User.id)
    ).all()
    for user in users:
        set_password(session, user, password)
    return [user.email for user in users]
