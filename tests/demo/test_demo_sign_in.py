"""The demo's users get the documented demo password, and only those that have none."""

from __future__ import annotations

from verenigingen.auth.models import Role
from verenigingen.auth.passwords import verify_password
from verenigingen.auth.service import create_user
from verenigingen.demo.sign_in import DEMO_PASSWORD, give_demo_passwords


def test_demo_users_without_a_password_get_the_demo_password(session) -> None:
    admin = create_user(
        session, "admin@example.org", Role.ADMINISTRATOR, password="eigen-wachtwoord-x"
    )
    member = create_user(session, "lid@example.org", Role.MEMBER)
    stranger = create_user(session, "iemand@example.org", Role.MEMBER)
    assert give_demo_passwords(session) == ["lid@example.org"]
    assert verify_password(DEMO_PASSWORD, member.password_hash)
    assert verify_password("eigen-wachtwoord-x", admin.password_hash)  # never overwritten
    assert stranger.password_hash is None  # not a demo user
    assert give_demo_passwords(session) == []
