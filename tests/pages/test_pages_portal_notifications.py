"""The portal's notifications page: the user's own inbox, marking read."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest_pages import make_login, signed_in, text_of
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role, User
from verenigingen.jobs.models import Notification
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today")

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def notify(session: Session, user: User, subject: str, *, read: bool = False) -> Notification:
    notification = Notification(
        user_id=user.id,
        subject=subject,
        message=f"{subject}: done.",
        indicator="green",
        read_at=dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC) if read else None,
    )
    session.add(notification)
    session.flush()
    return notification


@pytest.fixture
def lid(session: Session) -> User:
    return make_login(session, "lid@example.org", Role.MEMBER)


def token_of(web: TestClient) -> str:
    match = TOKEN.search(web.get("/portal/notifications").text)
    assert match is not None
    return match.group(1)


def shown(web: TestClient) -> list[str]:
    return re.findall(r'data-notification="(\d+)"', web.get("/portal/notifications").text)


def test_a_member_sees_its_own_notifications(web, session, lid) -> None:
    first = notify(session, lid, "Dues run finished")
    second = notify(session, lid, "Export ready", read=True)
    notify(session, make_login(session, "anna@example.org", Role.MEMBER), "Not yours")
    signed_in(web, "lid@example.org")
    page = web.get("/portal/notifications")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "1 unread notification" in text
    assert "Dues run finished" in text
    assert "Export ready" in text
    assert "Not yours" not in text
    assert sorted(shown(web)) == sorted([str(first.id), str(second.id)])
    assert page.text.count(">Mark as read</button>") == 1
    assert f'action="/portal/notifications/{first.id}/read"' in page.text
    assert '<a href="/portal/notifications" aria-current="page">' in page.text


def test_the_notifications_page_is_dutch(browser, session, lid) -> None:
    notify(session, lid, "Dues run finished")
    notify(session, lid, "Export ready")
    web = signed_in(browser(language="nl"), "lid@example.org")
    text = text_of(web.get("/portal/notifications").text)
    assert "Meldingen" in text
    assert "2 ongelezen meldingen" in text
    assert "Markeren als gelezen" in text


def test_mark_one_read_then_all(web, session, lid) -> None:
    first = notify(session, lid, "One")
    second = notify(session, lid, "Two")
    signed_in(web, "lid@example.org")
    response = web.post(
        f"/portal/notifications/{first.id}/read", data={"csrf_token": token_of(web)}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/notifications"
    session.expire_all()
    assert session.get(Notification, first.id).read_at is not None  # type: ignore[union-attr]
    assert session.get(Notification, second.id).read_at is None  # type: ignore[union-attr]
    assert "1 unread notification" in text_of(web.get("/portal/notifications").text)
    response = web.post("/portal/notifications/read", data={"csrf_token": token_of(web)})
    assert response.status_code == 303
    page = text_of(web.get("/portal/notifications").text)
    assert "All notifications are marked read." in page
    assert "0 unread notifications" in page
    session.expire_all()
    assert session.get(Notification, second.id).read_at is not None  # type: ignore[union-attr]


def test_another_users_notification_is_the_403_page(web, session, lid) -> None:
    theirs = notify(session, make_login(session, "anna@example.org", Role.MEMBER), "Not yours")
    signed_in(web, "lid@example.org")
    token = token_of(web)
    refused = web.post(f"/portal/notifications/{theirs.id}/read", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "You may not see this page" in text_of(refused.text)
    missing = web.post("/portal/notifications/987654321/read", data={"csrf_token": token})
    assert missing.status_code == 404
    bad = web.post("/portal/notifications/x/read", data={"csrf_token": token})
    assert bad.status_code == 422
    session.expire_all()
    assert session.get(Notification, theirs.id).read_at is None  # type: ignore[union-attr]


def test_marking_read_without_the_form_token_is_refused(web, session, lid) -> None:
    mine = notify(session, lid, "Mine")
    signed_in(web, "lid@example.org")
    assert web.post(f"/portal/notifications/{mine.id}/read").status_code == 403
    assert web.post("/portal/notifications/read", data={"csrf_token": "0" * 64}).status_code == 403
    session.expire_all()
    assert session.get(Notification, mine.id).read_at is None  # type: ignore[union-attr]


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.TREASURER])
def test_other_roles_get_the_403_page(web, session, role) -> None:
    make_login(session, "staff@example.org", role)
    signed_in(web, "staff@example.org")
    assert web.get("/portal/notifications").status_code == 403


def test_anonymous_notifications_go_to_sign_in(web) -> None:
    response = web.get("/portal/notifications")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fportal%2Fnotifications"


@pytest.mark.parametrize("count", [1, 80])
def test_the_notifications_cost_the_same_statements_whatever_their_number(
    web, session, lid, count
) -> None:
    """The sign-in's statement, the newest fifty, the unread count."""
    for number in range(count):
        notify(session, lid, f"Notice {number}")
    signed_in(web, "lid@example.org")
    with capture() as log:
        response = web.get("/portal/notifications")
    assert response.status_code == 200
    assert log.count == 3
    assert len(re.findall(r'data-notification="', response.text)) == min(count, 50)
