"""/api/v1/bank: statement imports and the statements and lines imported, for treasurers and
administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from verenigingen.bank import service
from verenigingen.bank.schemas import ImportResultOut, StatementLineOut, StatementOut
from verenigingen.db.ids import RecordId, RowOffset
from verenigingen.db.paging import MAX_LIMIT
from verenigingen.errors import ValidationFailed
from verenigingen.web.deps import CurrentUser, SessionDep
from verenigingen.web.schemas import ErrorBody, Page

router = APIRouter(
    prefix="/bank",
    tags=["bank"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
# A camt.053 of 10,000 entries is about 15 MB; a file past this is no day's statement.
MAX_FILE_BYTES = 50 * 1024 * 1024


@router.post("/statements", status_code=201)
def import_statements(
    session: SessionDep,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="A camt.053 (XML) or MT940 file.")],
    account: Annotated[
        str | None,
        Form(max_length=42, description="The IBAN the file must be of (needed for old numbers)."),
    ] = None,
) -> ImportResultOut:
    """Import a statement file: every line once, all or nothing, gaps in numbers reported."""
    content = file.file.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise ValidationFailed(f"a statement file may hold at most {MAX_FILE_BYTES} bytes")
    result = service.import_statement_file(session, user, content, account_iban=account or None)
    return ImportResultOut.of(result)


@router.get("/statements")
def list_statements(
    session: SessionDep, user: CurrentUser, limit: Limit = 50, offset: RowOffset = 0
) -> Page[StatementOut]:
    """Imported statements, the latest closing date first."""
    rows, total = service.list_statements(session, user, limit=limit, offset=offset)
    return Page[StatementOut](
        items=[StatementOut.of(statement, iban, stored) for statement, iban, stored in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/statements/{statement_id}/lines")
def statement_lines(
    session: SessionDep,
    user: CurrentUser,
    statement_id: RecordId,
    limit: Limit = 50,
    offset: RowOffset = 0,
) -> Page[StatementLineOut]:
    """The lines stored with a statement, in the statement's order."""
    lines, total = service.statement_lines(session, user, statement_id, limit=limit, offset=offset)
    return Page[StatementLineOut](
        items=[StatementLineOut.model_validate(line) for line in lines],
        total=total,
        limit=limit,
        offset=offset,
    )
