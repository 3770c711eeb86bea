"""Who may read a member's history and summary, and the cache in front of the history.

The history is cached in the namespace ``history`` under the tags ``customer:<id>`` and
``member:<id>``; every ledger write bumps them in its own transaction (the history's
subscribers to the ledger's events, :mod:`verenigingen.history.subscribers`), so a read after a
payment recomputes. The entry is the
history's JSON text: the API sends it as it is, and an in-process hit returns the same object.

A hit is one statement: the member's customer and user (the permission check) with the current
versions of both tags, read together. The customer tag is named by the member's row, so it
cannot be read before that row; reading both in one statement is one snapshot taken before the
fill reads anything, which is all that rule 5 asks of the version read.

A cold read (nothing cached for the key) is the history's three statements
(``history.queries``): the first reads the member's user and both versions beside the member,
its mandates and summary, and the permission is judged on it before the page and the
unallocated payments are read (a refused read costs that one statement). The versions are read
before the data they cover, so an entry never claims newer versions than its data: a payment
committed between the statements leaves an entry stored under the older versions, which the
next read recomputes. An entry that may not be served (its versions changed, or it expired) is
judged by the hit's statement and recomputed by the three.

Two runtime settings steer the cache (``verenigingen.settings``): ``payment_history_cache`` off,
every read is the cold read's three statements and nothing is stored; and the time to live of
an entry with money outstanding or settled (30 and 60 minutes by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from verenigingen.app_context import context_of
from verenigingen.auth.errors import NotOwnRecord
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, is_member_role, require
from verenigingen.cache import VersionedCache, money_ttl
from verenigingen.cache.tags import tag_version
from verenigingen.db.paging import check_page
from verenigingen.errors import NotFound
from verenigingen.history.models import MemberFinancialSummary
from verenigingen.history.queries import (
    DEFAULT_LIMIT,
    Access,
    decode_cursor,
    dumps,
    history_document,
    history_read,
)
from verenigingen.history.schemas import FinancialSummaryOut, PaymentHistory
from verenigingen.history.statement import tag_text
from verenigingen.history.summary import Figures, ledger_figures
from verenigingen.members.models import Member
from verenigingen.members.scope import may_read_member_owned_by
from verenigingen.settings import runtime_of

NAMESPACE = "history"


@dataclass(frozen=True, slots=True)
class HistoryText:
    """A payment history as JSON text, with what its time to live depends on."""

    text: str
    outstanding: Decimal


_member = Member.__table__
_READABLE = select(
    _member.c.customer_id,
    _member.c.user_id,
    tag_version(tag_text("member:", _member.c.id)).label("member_version"),
    tag_version(tag_text("customer:", _member.c.customer_id)).label("customer_version"),
).where(_member.c.id == bindparam("member_id"))
"""A hit's one statement: the member's :class:`Access`, its columns named by Access's fields."""


def _readable_member(
    session: Session, user: User, member_id: int
) -> tuple[int | None, dict[str, int]]:
    """The member's customer id and the current versions of its history's tags, after the
    permission check (:func:`_permit`)."""
    require(user, Permission.BILLING_READ)
    # A hit is this statement and nothing else: Core on the session's connection skips the ORM
    # execute path (about a tenth of a hit on SQLite). Flush first, as that path would have.
    session.flush()
    row = session.connection().execute(_READABLE, {"member_id": member_id}).first()
    if row is None:
        _permit(user, member_id, None)
    assert row is not None
    access = Access(**row._mapping)
    _permit(user, member_id, access)
    return access.customer_id, _versions(member_id, access)


def _permit(user: User, member_id: int, access: Access | None) -> None:
    """A Member reads only itself (403 for any other id, existing or not); other roles get 404
    for an unknown member."""
    if access is None:
        if is_member_role(user):
            raise NotOwnRecord("a member may only read its own payment history")
        raise NotFound(f"no member with id {member_id}")
    if not may_read_member_owned_by(user, access.user_id):
        raise NotOwnRecord("a member may only read its own payment history")


def _versions(member_id: int, access: Access) -> dict[str, int]:
    versions = {f"member:{member_id}": access.member_version}
    if access.customer_id is not None:
        versions[f"customer:{access.customer_id}"] = access.customer_version
    return versions


def history_tags(member_id: int, customer_id: int | None) -> list[str]:
    tags = [f"member:{member_id}"]
    if customer_id is not None:
        tags.append(f"customer:{customer_id}")
    return tags


def payment_history_text(
    session: Session,
    user: User,
    member_id: int,
    *,
    limit: int = DEFAULT_LIMIT,
    before: str | None = None,
    cache: VersionedCache | None = None,
) -> HistoryText:
    """The member's payment history page as JSON text, through the cache.

    403 for a Member asking for someone else's, 404 for an unknown member, 422 for a limit
    outside 1-500 or a cursor that does not parse (checked before anything is read).
    """
    check_page(limit)
    if before is not None:
        decode_cursor(before)
    require(user, Permission.BILLING_READ)

    def read_versions() -> dict[str, int]:
        return _readable_member(session, user, member_id)[1]

    def fill() -> HistoryText:
        document = history_document(session, member_id, limit=limit, before=before)
        return HistoryText(dumps(document), document["summary"]["outstanding"])

    def fill_cold() -> tuple[HistoryText, dict[str, int]]:
        # Nothing cached: the history's first statement reads the permission and the versions.
        session.flush()
        read = history_read(
            session,
            member_id,
            limit=limit,
            before=before,
            permit=lambda access: _permit(user, member_id, access),
        )
        assert read is not None  # an unknown member was refused by _permit
        document, access = read
        text = HistoryText(dumps(document), document["summary"]["outstanding"])
        return text, _versions(member_id, access)

    runtime = runtime_of(session)
    if not runtime.payment_history_cache:
        # The cache is switched off: every read is cold, nothing is looked up, stored or counted.
        return fill_cold()[0]

    def ttl(value: HistoryText) -> int:
        return money_ttl(
            value.outstanding,
            outstanding_seconds=runtime.history_cache_ttl_outstanding_seconds,
            settled_seconds=runtime.history_cache_ttl_settled_seconds,
        )

    return (cache or context_of(session).cache).get_or_fill_from(
        session,
        NAMESPACE,
        f"{member_id}:{limit}:{before or ''}",
        read_versions=read_versions,
        fill=fill,
        fill_cold=fill_cold,
        ttl=ttl,
        encode=_stored,
        decode=_from_stored,
        raw=True,
    )


def _stored(value: HistoryText) -> str:
    # The outstanding amount on a line of its own, then the JSON text as it is.
    return f"{value.outstanding}\n{value.text}"


def _from_stored(stored: str) -> HistoryText:
    outstanding, _, text = stored.partition("\n")
    return HistoryText(text, Decimal(outstanding))


def read_payment_history(
    session: Session,
    user: User,
    member_id: int,
    *,
    limit: int = DEFAULT_LIMIT,
    before: str | None = None,
    cache: VersionedCache | None = None,
) -> PaymentHistory:
    """:func:`payment_history_text` as the model (for Python callers and tests)."""
    text = payment_history_text(
        session, user, member_id, limit=limit, before=before, cache=cache
    ).text
    return PaymentHistory.model_validate_json(text)


def financial_summary(session: Session, user: User, member_id: int) -> FinancialSummaryOut:
    """The member's financial summary as the background jobs keep it.

    Before the first job has written the row, the figures come from the ledger (version 0).
    """
    customer_id, _ = _readable_member(session, user, member_id)
    row = session.get(MemberFinancialSummary, member_id)
    if row is not None:
        return FinancialSummaryOut.model_validate(row, from_attributes=True)
    figures = ledger_figures(session, customer_id) if customer_id is not None else Figures()
    return FinancialSummaryOut(
        member_id=member_id, customer_id=customer_id, version=0, updated_at=None, **figures.values()
    )
