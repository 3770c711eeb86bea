"""The desk's notifications: the staff user's own inbox by cursor at the same cost whatever its
size, marking read, the menu's unread count, and the notification a dues run ends with."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import MEMBER, SECRETARY, TREASURER, staff
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen.app_context import context_of
from verenigingen.auth.models import User
from verenigingen.jobs.models import Job, Notification
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today")

SHOWN = re.compile(r'data-notification="(\d+)"')
NEXT = re.compile(r'href="(/desk/notifications\?after=[^"]+)" rel="next"')


@pytest.fixture
def logins(session: Session) -> dict[str, User]:
    return staff(session)


def notify(session: Session, user: User, count: int, *, read: bool = False) -> None:
    """``count`` notifications for ``user``, a minute apart, in one INSERT."""
    start = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
    rows = [
        {
            "user_id": user.id,
            "subject": f"Job completed: test.{number}",
            "message": f"Job 'test.{number}' completed successfully",
            "indicator": "green",
            "created_at": start + dt.timedelta(minutes=number),
            "read_at": start if read else None,
        }
        for number in range(count)
    ]
    session.execute(insert(Notification), rows)


def pages_of(web: TestClient) -> list[tuple[int, int]]:
    """Each page's notifications and statements, following "Next" to the end."""
    found = []
    path: str | None = "/desk/notifications"
    while path is not None:
        with capture() as queries:
            page = web.get(path)
        assert page.status_code == 200
        found.append((len(SHOWN.findall(page.text)), queries.count))
        link = NEXT.search(page.text)
        path = link.group(1).replace("&amp;", "&") if link else None
    return found


@pytest.mark.parametrize(("size", "pages"), [(3, [3]), (60, [25, 25, 10])])
def test_the_inbox_costs_the_same_at_any_size(web, logins, session, size, pages) -> None:
    notify(session, logins[TREASURER], size)
    notify(session, logins[SECRETARY], 5)  # not the treasurer's
    signed_in(web, TREASURER)
    found = pages_of(web)
    assert [shown for shown, _count in found] == pages
    assert {count for _shown, count in found} == {3}  # the sign-in, the page, the unread count
    text = text_of(web.get("/desk/notifications").text)
    assert f"{size} unread notifications" in text
    assert f"Job completed: test.{size - 1}" in text  # newest first


def test_mark_one_read_then_all(web, logins, session) -> None:
    treasurer = logins[TREASURER]
    notify(session, treasurer, 2)
    first, second = session.scalars(
        select(Notification.id).where(Notification.user_id == treasurer.id)
    ).all()
    signed_in(web, TREASURER)
    token = form_token(web, "/desk/notifications")
    response = web.post(f"/desk/notifications/{first}/read", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/desk/notifications"
    session.expire_all()
    assert session.get(Notification, first).read_at is not None  # type: ignore[union-attr]
    assert session.get(Notification, second).read_at is None  # type: ignore[union-attr]
    assert "1 unread notification" in text_of(web.get("/desk/notifications").text)
    response = web.post("/desk/notifications/read", data={"csrf_token": token})
    assert response.status_code == 303
    page = text_of(web.get("/desk/notifications").text)
    assert "All notifications are marked read." in page
    assert "0 unread notifications" in page


def test_the_menu_counts_the_unread(web, browser, logins, session) -> None:
    notify(session, logins[TREASURER], 4)
    notify(session, logins[TREASURER], 3, read=True)
    signed_in(web, TREASURER)
    desk = web.get("/desk").text
    assert '<li><a href="/desk/notifications">Notifications</a>' in desk
    assert 'hx-get="/desk/notifications/unread"' in desk
    with capture() as queries:
        fragment = web.get("/desk/notifications/unread")
    assert queries.count == 2  # the sign-in and the count
    assert 'data-unread="4"' in fragment.text
    assert "4 unread" in text_of(fragment.text)
    secretary = signed_in(browser(), SECRETARY)
    assert 'data-unread="0"' in secretary.get("/desk/notifications/unread").text


def test_another_users_notification_and_bad_input(web, logins, session) -> None:
    notify(session, logins[SECRETARY], 1)
    theirs = session.scalars(select(Notification.id)).one()
    signed_in(web, TREASURER)
    token = form_token(web, "/desk/notifications")
    refused = web.post(f"/desk/notifications/{theirs}/read", data={"csrf_token": token})
    assert refused.status_code == 403
    missing = web.post("/desk/notifications/987654/read", data={"csrf_token": token})
    assert missing.status_code == 404
    assert web.post("/desk/notifications/x/read", data={"csrf_token": token}).status_code == 422
    assert web.get("/desk/notifications?after=bm90LWEtY3Vyc29y").status_code == 422
    forged = web.post(f"/desk/notifications/{theirs}/read", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert web.post("/desk/notifications/read").status_code == 403  # no form token
    session.expire_all()
    assert session.get(Notification, theirs).read_at is None  # type: ignore[union-attr]


def test_a_member_gets_the_403_page(web, logins) -> None:
    signed_in(web, MEMBER)
    assert web.get("/desk/notifications").status_code == 403
    assert web.get("/desk/notifications/unread").status_code == 403


@pytest.mark.usefixtures("job_engine")
def test_a_dues_run_ends_with_a_notification_the_desk_shows(web, logins, session) -> None:
    signed_in(web, TREASURER)
    token = form_token(web, "/desk/dues")
    queued = web.post("/desk/dues", data={"csrf_token": token, "day": "", "batch_size": "500"})
    assert queued.status_code == 303
    job = session.scalars(select(Job).where(Job.name == "dues.generate")).one()
    context = context_of(session)
    runtime = Runtime(savepoint_sessions(session), context.settings, worker_id="test:1")
    run_job(runtime, job.id)
    session.expire_all()
    assert session.get(Job, job.id).status == "Completed"  # type: ignore[union-attr]
    page = web.get("/desk/notifications")
    text = text_of(page.text)
    assert "1 unread notification" in text
    assert "Job completed: dues.generate" in text
    assert 'data-unread="1"' in web.get("/desk/notifications/unread").text
