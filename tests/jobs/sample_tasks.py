"""Tasks for the job tests. Side effects go to files under ``marks`` (a directory), so that
worker processes and the test can count runs without a table of their own."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.errors import ValidationFailed
from verenigingen.jobs import job
from verenigingen.jobs.models import Notification


def _runs(marks: str, key: str) -> int:
    path = Path(marks) / key
    return len(path.read_text().splitlines()) if path.exists() else 0


def _mark(marks: str, key: str) -> int:
    """Append one line (O_APPEND: atomic between processes); returns the runs so far."""
    with (Path(marks) / key).open("a") as file:
        file.write("run\n")
    return _runs(marks, key)


@job("test.record", queue="short")
def record(session: Session, user: User, *, marks: str, key: str) -> dict[str, Any]:
    return {"runs": _mark(marks, key), "user": user.email}


@job("test.flaky", queue="default")
def flaky(session: Session, user: User, *, marks: str, key: str, failures: int) -> int:
    runs = _mark(marks, key)
    if runs <= failures:
        raise RuntimeError(f"failure {runs} of {failures}")
    return runs


@job("test.always_fails", queue="default")
def always_fails(session: Session, user: User, *, account: str = "") -> None:
    raise RuntimeError(f"the bank refused {account}")


@job("test.domain_error", queue="short")
def domain_error(session: Session, user: User) -> None:
    raise ValidationFailed("member 42 has no IBAN")


@job("test.block_first", queue="long")
def block_first(session: Session, user: User, *, marks: str, key: str, seconds: float) -> int:
    """The first run blocks (to be killed); later runs finish at once."""
    runs = _mark(marks, key)
    if runs == 1:
        time.sleep(seconds)
    return runs


@job("test.sleep", queue="short")
def sleep(session: Session, user: User, *, seconds: float) -> str:
    try:
        time.sleep(seconds)
    except Exception:  # a task that swallows errors must still be stopped by its timeout
        return "swallowed"
    return "slept"


@job("test.write_note", queue="short")
def write_note(session: Session, user: User, *, subject: str) -> None:
    """Writes a row in the job's transaction (to see it kept or rolled back)."""
    session.add(Notification(user_id=user.id, subject=subject, message="-", indicator="green"))
    session.flush()


@job("test.write_note_then_fail", queue="short")
def write_note_then_fail(session: Session, user: User, *, subject: str) -> None:
    """Writes a row, then fails: the row must go with the failed attempt."""
    write_note(session, user, subject=subject)
    raise RuntimeError(f"failed after writing {subject!r}")


@job("test.note_and_sleep", queue="short")
def note_and_sleep(
    session: Session, user: User, *, subject: str, seconds: float, note_first: bool = True
) -> str:
    """Writes a row and sleeps, or sleeps and then writes: a job to cancel while it runs. (On
    SQLite a job that wrote holds the write lock, so a cancel request must come before.)"""
    if note_first:
        write_note(session, user, subject=subject)
    time.sleep(seconds)
    if not note_first:
        write_note(session, user, subject=subject)
    return "slept"


@job("test.counts_to", queue="default")
def counts_to(session: Session, user: User, *, total: int) -> int:
    """Reports its progress once per step."""
    from verenigingen.jobs import report_progress

    for done in range(1, total + 1):
        report_progress(done, total)
    return total
