"""The strategic indexes as a desired state: present or not, applied by the index manager.

The runtime setting ``strategic_indexes`` says which state is wanted. A change of it queues the
job ``indexes.apply_strategic`` (indexes.tasks), and the safety monitor's rollback and restore
apply a state at once; all three go through :func:`apply_strategic_indexes`, which adds the
strategic indexes online (``service.add_indexes``: an index already valid is skipped, each build
recorded in the index ledger) or rolls back those the manager added (``service.rollback_index``,
recorded there too). An index the manager did not add (declared by the models and built by a
migration, or built by hand) is never dropped here.

Like :mod:`verenigingen.indexes.service` this is a boundary of its own: DDL on connections of
its own, the ledger in short transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.db.session import make_session_factory
from verenigingen.errors import DomainError
from verenigingen.indexes import catalog
from verenigingen.indexes.errors import IndexBusy
from verenigingen.indexes.models import IndexChange, IndexState
from verenigingen.indexes.service import add_indexes, require_administrator, rollback_index
from verenigingen.settings.service import get_setting

SETTING = "strategic_indexes"

MANAGED_STATES = (IndexState.VALID, IndexState.IGNORED, IndexState.INVALID, IndexState.BUILDING)
"""The latest ledger states of an index the manager added and has not rolled back."""


@dataclass
class AppliedState:
    """What applying a desired state did, index by index."""

    present: bool
    built: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    """Present and valid already (to add), or not the manager's to roll back."""
    rolled_back: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """``name: reason`` of each index the state could not be given."""

    @property
    def changed(self) -> list[str]:
        return self.built + self.rolled_back

    @property
    def detail(self) -> str:
        parts = []
        if self.built:
            parts.append(f"built {', '.join(self.built)}")
        if self.rolled_back:
            parts.append(f"rolled back {', '.join(self.rolled_back)}")
        if self.failed:
            parts.append(f"not {'built' if self.present else 'rolled back'}: "
                         + "; ".join(self.failed))  # fmt: skip
        if not parts:
            wanted = "present" if self.present else "absent"
            parts.append(f"nothing to do: the strategic indexes are {wanted} already")
        return "; ".join(parts)

    def as_result(self) -> dict[str, object]:
        return {
            "present": self.present,
            "built": self.built,
            "rolled_back": self.rolled_back,
            "failed": self.failed,
        }


def desired_present(engine: Engine, user: User) -> bool:
    """The state ``strategic_indexes`` asks for now, as committed (a transaction of its own, so
    that a change made while a job ran is seen)."""
    with make_session_factory(engine)() as session:
        return bool(get_setting(session, user, SETTING).value)


def managed_strategic(session: Session) -> list[str]:
    """The strategic indexes the manager added and has not rolled back (their latest ledger
    entry), in the catalog's order."""
    names = catalog.strategic_names()
    latest: dict[str, str] = {}
    for change in session.scalars(
        select(IndexChange).where(IndexChange.index_name.in_(names)).order_by(IndexChange.id)
    ):
        latest[change.index_name] = change.state
    return [name for name in names if latest.get(name) in MANAGED_STATES]


def apply_strategic_indexes(
    engine: Engine, user: User, *, present: bool, names: Sequence[str] | None = None
) -> AppliedState:
    """Give the strategic indexes (or ``names`` of them) the state ``present``: build each one
    that is missing online, or roll back each one the manager added; each recorded in the index
    ledger. One that fails is named in ``failed`` and the others go on. 403 for anyone but an
    administrator; :class:`IndexBusy` (409) when another operation holds one of the indexes."""
    require_administrator(user)
    wanted = list(names) if names is not None else catalog.strategic_names()
    state = AppliedState(present)
    if present:
        specs = [catalog.resolve(name) for name in wanted]
        for outcome in add_indexes(engine, user, [s for s in specs if not s.declared_by_models]):
            if outcome.failed:
                state.failed.append(f"{outcome.spec.name}: {outcome.state}: {outcome.detail}")
            elif outcome.action == "skipped":
                state.already.append(outcome.spec.name)
            else:
                state.built.append(outcome.spec.name)
        return state
    with make_session_factory(engine)() as session:
        managed = set(managed_strategic(session))
    for name in wanted:
        if name not in managed:
            state.already.append(name)
            continue
        try:
            rollback_index(engine, user, name)
        except IndexBusy:
            raise
        except DomainError as error:
            state.failed.append(f"{name}: {error.detail}")
        else:
            state.rolled_back.append(name)
    return state
