"""Ledger fixtures: a Treasurer and a factory acting as them in the test's rolled-back session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from billing_factories import LedgerFactory
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user


@pytest.fixture
def treasurer(session: Session) -> User:
    return create_user(session, "penningmeester@example.org", Role.TREASURER)


@pytest.fixture
def ledger(session: Session, treasurer: User) -> LedgerFactory:
    return LedgerFactory(session, treasurer)


TODAY = dt.date(2026, 3, 2)
"""The ledger tests' today: a Monday, so that dates in the tests read like a calendar."""


@pytest.fixture(autouse=True)
def frozen_today() -> Iterator[dt.date]:
    with clock.frozen(TODAY):
        yield TODAY
