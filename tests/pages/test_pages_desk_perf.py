"""The desk's performance page: the flags as they are, the latest validation report with its
charts (or where to put one), the cache's statistics, the index ledger, the N+1 note, and the
request metrics sampled per view; administrators only."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from conftest_pages import signed_in, text_of
from desk_factories import ADMINISTRATOR, MEMBER, SECRETARY, TREASURER, staff
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.indexes.models import IndexChange
from verenigingen.perf.capture import capture
from verenigingen.settings.service import set_setting
from verenigingen.web import metric_samples
from verenigingen.web.pages import desk_perf

REPORT = Path(__file__).parent / "assets" / "validation_report.json"
"""A real ``perf validate`` report (300 members; it failed two criteria)."""


@pytest.fixture
def logins(session: Session) -> dict[str, User]:
    return staff(session)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(
        desk_perf, "validation_report_path", lambda _data_dir: tmp_path / "validation" / "r.json"
    )
    return tmp_path


def flag_state(html: str, name: str) -> str | None:
    match = re.search(rf'data-flag="{name}" data-state="(on|off)"', html)
    return match.group(1) if match else None


def test_the_dashboard_without_a_report(web, logins, data_dir) -> None:
    signed_in(web, ADMINISTRATOR)
    with capture() as queries:
        page = web.get("/desk/performance")
    assert page.status_code == 200
    text = text_of(page.text)
    assert flag_state(page.text, "payment_history_cache") == "on"
    assert flag_state(page.text, "defer_heavy_handlers") == "on"
    assert "No validation report yet" in text
    assert f"perf validate --out {data_dir / 'validation'}" in text
    assert "N+1 findings" in text
    assert "Not stored" in text
    assert "The index manager has recorded nothing yet." in text
    assert "The first sample is taken" in text
    # The sign-in, the settings, the strategic indexes' latest entries and their jobs, the ledger.
    assert queries.count == 5


def test_a_flag_changed_shows_on_the_dashboard(web, logins, session, data_dir) -> None:
    set_setting(session, logins[ADMINISTRATOR], "payment_history_cache", False)
    signed_in(web, ADMINISTRATOR)
    page = web.get("/desk/performance")
    assert flag_state(page.text, "payment_history_cache") == "off"
    assert ADMINISTRATOR in text_of(page.text)  # who changed it


def test_the_latest_report_with_its_charts(web, logins, data_dir) -> None:
    (data_dir / "validation").mkdir()
    shutil.copy(REPORT, data_dir / "validation" / "r.json")
    signed_in(web, ADMINISTRATOR)
    page = web.get("/desk/performance")
    text = text_of(page.text)
    assert 'data-passed="no"' in page.text
    assert "statements, memory" in text
    assert re.findall(r'data-criterion="(\w+)"', page.text) == [
        "payment_speed", "statements", "cache_hit_rate", "job_success",
        "index_impact", "memory", "smoke", "baseline",
    ]  # fmt: skip
    assert page.text.count("<svg") >= 4
    assert "<script" not in page.text.split("</main>")[0].split("<main")[-1]


def test_the_index_ledger_with_impact(web, logins, session, data_dir) -> None:
    def entry(name: str, before: float | None, after: float | None) -> IndexChange:
        change = IndexChange(
            dialect="sqlite", table_name="payment_entry", index_name=name, columns=["party"],
            ddl="CREATE INDEX ...", inverse_ddl="DROP INDEX ...", state="applied",
            requested_by=ADMINISTRATOR,
            timings_before=None if before is None else {"1. SELECT": before},
            timings_after=None if after is None else {"1. SELECT": after},
        )  # fmt: skip
        session.add(change)
        session.flush()
        return change

    useful, weak, unmeasured = (
        entry("ix_a", 4.0, 1.0),
        entry("ix_b", 2.0, 1.8),
        entry("ix_c", None, None),
    )
    signed_in(web, ADMINISTRATOR)
    page = web.get("/desk/performance")
    rows = re.findall(r'<tr data-change="(\d+)">(.*?)</tr>', page.text, re.S)
    assert [int(key) for key, _row in rows] == [unmeasured.id, weak.id, useful.id]
    cells = {int(key): text_of(row) for key, row in rows}
    assert "75 %" in cells[useful.id]
    assert "below" not in cells[useful.id]
    assert "10 % below 30 %" in cells[weak.id]
    assert "not measured" in cells[unmeasured.id]


def test_a_file_that_is_no_report(web, logins, data_dir) -> None:
    (data_dir / "validation").mkdir()
    (data_dir / "validation" / "r.json").write_text("[1, 2", encoding="utf-8")
    signed_in(web, ADMINISTRATOR)
    page = web.get("/desk/performance")
    assert page.status_code == 200
    assert "is not a validation report" in text_of(page.text)


def test_the_metrics_are_charted_from_the_second_view(web, logins, data_dir, monkeypatch) -> None:
    monkeypatch.setattr(metric_samples, "MIN_SPACING", dt.timedelta(0))
    signed_in(web, ADMINISTRATOR)
    web.get("/desk/performance")
    web.get("/desk/members")
    page = web.get("/desk/performance")
    assert "Requests per interval" in text_of(page.text)
    assert page.text.count("<polyline") == 3


@pytest.mark.parametrize("login", [TREASURER, SECRETARY, MEMBER])
def test_administrators_only(web, logins, data_dir, login) -> None:
    signed_in(web, login)
    assert web.get("/desk/performance").status_code == 403
    assert 'href="/desk/performance"' not in web.get("/desk/jobs").text
