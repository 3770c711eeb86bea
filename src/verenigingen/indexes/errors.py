"""Rules of the online index manager (see ``verenigingen.errors`` for the scheme)."""

from __future__ import annotations

from verenigingen.errors import Conflict, DomainError, NotFound, ValidationFailed


class UnknownIndex(NotFound):
    """No declared index has this name (the detail lists the names)."""

    code = "unknown_index"


class InvalidIndexSpec(ValidationFailed):
    """An index on an unknown table or column, with too many or repeated columns, or an unsafe
    name."""

    code = "invalid_index"  # the name clients knew before each rule had its own class


class UnsupportedDialect(ValidationFailed):
    """The index manager does not support this database engine."""

    code = "unsupported_dialect"


class IndexNameTaken(Conflict):
    """An index of this name exists on the table with other columns."""

    code = "index_name_taken"


class IndexRollbackInterrupted(Conflict):
    """The index is IGNORED because a rollback was interrupted; roll it back first."""

    code = "index_rollback_interrupted"


class IndexBuildFailed(Conflict):
    """An online build failed (a lock or statement timeout, say); the ledger records why."""

    code = "index_build_failed"


class IndexNotBuilt(Conflict):
    """The index is not built and valid, so its impact cannot be measured; add it first."""

    code = "index_not_built"


class IndexWithoutProbes(Conflict):
    """The index declares no reads to measure (an ad-hoc index)."""

    code = "index_without_probes"


class IndexDeclaredByModels(Conflict):
    """The models declare this index; only a migration may drop it."""

    code = "index_declared_by_models"


class IndexNotManaged(Conflict):
    """The index manager did not add this index, so there is nothing to roll back."""

    code = "index_not_managed"


class IndexBusy(Conflict):
    """Another operation of the index manager (an add, an impact or a rollback) holds this index
    now; operations on one index run one at a time. The detail says which holds it and since
    when; try again when it is done."""

    code = "index_busy"


class IndexLockTimeout(Conflict):
    """The database gave up waiting for a lock an index operation needed (a long transaction or
    another change holds the table): the operation stopped there, the ledger shows how far it
    got; try again when the table is free."""

    code = "index_lock_timeout"


class IndexOperationInterrupted(DomainError):
    """The database failed during an index operation for another reason than a lock (the
    connection was lost, say): the operation stopped there, ``status`` shows what the database
    has now."""

    code = "index_operation_interrupted"
    status_code = 503


class ScratchUnavailable(DomainError):
    """No scratch copy of the data can be made for the advisor (the server refuses a new
    database, say)."""

    code = "scratch_unavailable"
    status_code = 503
