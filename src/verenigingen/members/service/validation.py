"""Checks on member data shared by the application and the update."""

from __future__ import annotations

import datetime as dt
import re

from verenigingen import clock
from verenigingen.errors import ValidationFailed
from verenigingen.members.errors import BirthDateInFuture

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def clean_name(value: str | None, field: str) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise ValidationFailed(f"{field} is required")
    return cleaned


def clean_email(value: str | None) -> str:
    email = (value or "").strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise ValidationFailed(f"not a valid email address: {value!r}")
    return email


def clean_optional(value: str | None) -> str | None:
    """Blank text is stored as NULL, so that "no address" has one representation."""
    if value is None:
        return None
    cleaned = value.strip()
    return cleaned or None


def check_birth_date(value: dt.date | None) -> dt.date | None:
    if value is not None and value > clock.today():
        raise BirthDateInFuture(f"birth_date {value} lies in the future")
    return value
