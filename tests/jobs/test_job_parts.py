"""The worker's small parts, each in its own module: the deadline (jobs.deadline), the error
text of a failed attempt (jobs.error_text), the stored result (jobs.results) and the outcomes
(jobs.outcomes)."""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

import pytest

from verenigingen.errors import ValidationFailed
from verenigingen.jobs.deadline import JobTimeout, can_stop_jobs_here, deadline
from verenigingen.jobs.error_text import MAX_ERROR_LENGTH, describe, error_to_store, source_name
from verenigingen.jobs.outcomes import FailedAttempt, RunOutcome
from verenigingen.jobs.results import as_json, result_to_store

IBAN = "NL91ABNA0417164300"
MASKED = "NL91**********4300"


def test_a_deadline_sets_a_timer_and_restores_the_previous_handler() -> None:
    before = signal.getsignal(signal.SIGALRM)
    with deadline(30):
        remaining, _interval = signal.getitimer(signal.ITIMER_REAL)
        assert 29 < remaining <= 30
        assert signal.getsignal(signal.SIGALRM) is not before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


def test_a_job_past_its_deadline_cannot_swallow_the_timeout() -> None:
    swallowed: list[BaseException] = []

    def careless_task() -> None:
        try:
            time.sleep(5)
        except Exception as error:  # JobTimeout is not an Exception: it passes through
            swallowed.append(error)

    started = time.monotonic()
    with pytest.raises(JobTimeout), deadline(1):
        careless_task()
    assert swallowed == []
    assert time.monotonic() - started < 3


def test_outside_the_main_thread_a_deadline_sets_no_timer() -> None:
    # The in-process consumer's thread: the lease stops an overrunning job there instead.
    seen: dict[str, object] = {}

    def in_a_thread() -> None:
        seen["can_stop"] = can_stop_jobs_here()
        with deadline(30):
            seen["timer"] = signal.getitimer(signal.ITIMER_REAL)

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert seen == {"can_stop": False, "timer": (0.0, 0.0)}
    assert can_stop_jobs_here()


def test_a_domain_error_is_described_by_its_own_message() -> None:
    assert describe(ValidationFailed("member 42 has no IBAN")) == "member 42 has no IBAN"


def test_any_other_error_is_described_by_its_type_message_and_the_line_that_raised_it() -> None:
    try:
        raise RuntimeError("the bank refused")
    except RuntimeError as error:
        text = describe(error)
        line = error.__traceback__.tb_lineno if error.__traceback__ else 0
    assert text == f"RuntimeError: the bank refused (at test_job_parts.py:{line})"
    assert describe(KeyError("member")) == "KeyError: 'member'"  # never raised: no line


def test_a_line_in_the_package_is_named_from_the_package_down() -> None:
    installed = "/srv/app/.venv/lib/python3.12/site-packages/verenigingen/dues/tasks.py"
    assert source_name(installed) == "verenigingen/dues/tasks.py"
    assert source_name("/home/ci/src/verenigingen/verenigingen/jobs/a.py") == (
        "verenigingen/jobs/a.py"
    )


def test_stored_error_text_names_no_server_paths() -> None:
    stored = error_to_store(
        "OperationalError: unable to open database file /srv/verenigingen/var/verenigingen.db; "
        "[Errno 2] No such file or directory: '/tmp/tmpab12/export.csv' (see https://example.org/a/b)"
    )
    assert stored == (
        "OperationalError: unable to open database file …/verenigingen.db; "
        "[Errno 2] No such file or directory: '…/export.csv' (see https://example.org/a/b)"
    )


def test_stored_error_text_is_masked_and_cut_to_length() -> None:
    stored = error_to_store(f"refused {IBAN} " + "x" * 5000)
    assert stored.startswith(f"refused {MASKED} ")
    assert len(stored) == MAX_ERROR_LENGTH


@dataclass
class _Counts:
    members: int
    total: Decimal
    on: dt.date


def test_a_result_becomes_plain_json_values() -> None:
    counts = _Counts(3, Decimal("12.50"), dt.date(2026, 1, 31))
    assert as_json(counts) == {"members": 3, "total": "12.50", "on": "2026-01-31"}
    assert as_json((1, Decimal("2"))) == [1, "2"]
    assert as_json(None) is None


def test_a_stored_result_has_its_ibans_masked() -> None:
    stored = result_to_store({"accounts": [IBAN, "NL91 ABNA 0417 1643 00"], "n": 2})
    assert stored == {"accounts": [MASKED, MASKED], "n": 2}


def test_outcomes_compare_and_print_as_the_words_the_worker_logs() -> None:
    assert [str(outcome) for outcome in RunOutcome] == [
        "completed",
        "failed",
        "timeout",
        "lost",
        "cancelled",
        "skipped",
        "returned",
    ]
    assert RunOutcome.LEASE_LOST == "lost"
    assert f"{RunOutcome.GIVEN_BACK}" == "returned"
    assert [str(outcome) for outcome in FailedAttempt] == ["retry", "failed", "cancelled", "gone"]
