"""The desk's administrator pages: the runtime settings (a change confirmed before it is made,
a refused value re-rendered, nothing written) and the safety checks (the latest run, its
rollback steps, the runs before it)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import ADMINISTRATOR, SECRETARY, TREASURER, staff
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.perf.capture import capture
from verenigingen.safety.models import SafetyRollbackStep, SafetyRun
from verenigingen.settings.models import RuntimeSetting, RuntimeSettingChange

pytestmark = pytest.mark.usefixtures("frozen_today")

SECONDS = "history_cache_ttl_settled_seconds"


@pytest.fixture
def logins(session: Session) -> dict[str, User]:
    return staff(session)


def changes(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(RuntimeSettingChange)) or 0)


def stored(session: Session, name: str) -> str | None:
    session.expire_all()
    row = session.get(RuntimeSetting, name)
    return row.value if row else None


def post_setting(web: TestClient, name: str, **data: str) -> object:
    token = form_token(web, "/desk/settings")
    return web.post(f"/desk/settings/{name}", data={"csrf_token": token, **data})


def test_the_settings_page(web, logins) -> None:
    signed_in(web, ADMINISTRATOR)
    with capture() as queries:
        page = web.get("/desk/settings")
    assert page.status_code == 200
    assert 'data-setting="payment_history_cache"' in page.text
    assert 'data-value="payment_history_cache">true' in page.text
    assert "/desk/settings" in re.findall(r'<li><a href="([^"]+)"', page.text)
    assert queries.count == 3  # the sign-in, the stored settings, the latest changes


@pytest.mark.parametrize("email", [TREASURER, SECRETARY])
def test_only_an_administrator_sees_the_settings_and_safety(web, logins, email) -> None:
    signed_in(web, email)
    menu = re.findall(r'<li><a href="([^"]+)"', web.get("/desk").text)
    assert "/desk/settings" not in menu
    assert "/desk/safety" not in menu
    assert web.get("/desk/settings").status_code == 403
    assert web.get("/desk/safety").status_code == 403
    token = form_token(web, "/desk")
    response = web.post(
        "/desk/settings/payment_history_cache",
        data={"csrf_token": token, "value": "false", "confirmed": "yes"},
    )
    assert response.status_code == 403


def test_a_flag_is_turned_off_after_a_confirmation(web, logins, session) -> None:
    signed_in(web, ADMINISTRATOR)
    asked = post_setting(web, "payment_history_cache", value="false")
    assert asked.status_code == 200  # type: ignore[attr-defined]
    assert "Change payment_history_cache from true to false?" in text_of(asked.text)  # type: ignore[attr-defined]
    assert stored(session, "payment_history_cache") is None  # nothing written yet
    done = post_setting(web, "payment_history_cache", value="false", confirmed="yes")
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert stored(session, "payment_history_cache") == "false"
    page = web.get("/desk/settings")
    assert "The setting is changed." in page.text
    assert 'data-value="payment_history_cache">false' in page.text
    assert ">Turn on<" in page.text
    post_setting(web, "payment_history_cache", value="true", confirmed="yes")
    assert stored(session, "payment_history_cache") == "true"


def test_the_same_value_again_changes_nothing(web, logins, session) -> None:
    signed_in(web, ADMINISTRATOR)
    post_setting(web, SECONDS, value="600", confirmed="yes")
    before = changes(session)
    post_setting(web, SECONDS, value="600", confirmed="yes")
    assert "already had this value" in web.get("/desk/settings").text
    assert changes(session) == before


@pytest.mark.parametrize(
    ("value", "reason"),
    [("0", "must be 1 to 604800"), ("ten", "takes a whole number"), ("1.5", "whole"),
     ("", "whole")],
)  # fmt: skip
def test_a_refused_value_is_shown_beside_the_setting(web, logins, session, value, reason) -> None:
    before = changes(session)
    signed_in(web, ADMINISTRATOR)
    response = post_setting(web, SECONDS, value=value, confirmed="yes")
    assert response.status_code == 422  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    assert f'id="error-{SECONDS}"' in html
    assert reason in text_of(html)
    assert f'value="{value}" aria-invalid="true"' in html
    assert changes(session) == before
    assert stored(session, SECONDS) is None


def test_an_unknown_setting_is_the_404_page(web, logins) -> None:
    signed_in(web, ADMINISTRATOR)
    assert post_setting(web, "no_such_setting", value="1").status_code == 404  # type: ignore[attr-defined]


def test_the_safety_page_before_the_first_run(web, logins) -> None:
    signed_in(web, ADMINISTRATOR)
    page = web.get("/desk/safety")
    assert page.status_code == 200
    assert "The safety checks have never run." in text_of(page.text)


def test_the_safety_page_shows_the_latest_run_and_its_rollback(web, logins, session) -> None:
    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    check = {"name": "cache consistency", "passed": False, "critical": True,
             "message": "2 of 50 cached histories differ", "figures": {}}  # fmt: skip
    earlier = SafetyRun(
        trigger="cli", requested_by="admin", started_at=at, finished_at=at, passed=True,
        critical_failed=False, checks=[{**check, "passed": True, "message": "all match"}],
        rolled_back=False,
    )  # fmt: skip
    latest = SafetyRun(
        trigger="api", requested_by="admin", started_at=at, finished_at=at, passed=False,
        critical_failed=True, checks=[check], rolled_back=True,
    )  # fmt: skip
    session.add_all([earlier, latest])
    session.flush()
    session.add(
        SafetyRollbackStep(
            run_id=latest.id,
            action="rollback",
            position=1,
            name="caches",
            outcome="done",
            detail="cleared the payment history cache",
            undo=None,
            started_at=at,
            finished_at=at,
        )
    )
    session.flush()
    signed_in(web, ADMINISTRATOR)
    with capture() as queries:
        page = web.get("/desk/safety")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "2 of 50 cached histories differ" in text
    assert "cleared the payment history cache" in text
    assert re.findall(r'<tr data-run="(\d+)"', page.text) == [str(latest.id), str(earlier.id)]
    assert queries.count == 5  # the sign-in, the run, its steps, the runs' count and page
