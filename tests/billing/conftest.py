"""Ledger fixtures: a factory acting as the Treasurer in the test's rolled-back session, and the
frozen clock for every test here."""

from __future__ import annotations

import datetime as dt

import pytest
from billing_factories import LedgerFactory
from sqlalchemy.orm import Session

from verenigingen.auth.models import User


@pytest.fixture
def ledger(session: Session, treasurer: User) -> LedgerFactory:
    return LedgerFactory(session, treasurer)


@pytest.fixture(autouse=True)
def _every_test_on_the_frozen_clock(frozen_today: dt.date) -> None:
    """The ledger tests run on the root conftest's clock (DEFAULT_TODAY, a Monday)."""
