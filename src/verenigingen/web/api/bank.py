"""/api/v1/bank: statement imports and the statements and lines imported, for treasurers and
administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from verenigingen.bank import service
from verenigingen.bank.schemas import ImportResultOut, StatementLineOut, StatementOut
from verenigingen.db.ids import RecordId
from verenigingen.errors import ValidationFailed
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody, Page, PageParams

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/bank",
    tags=["bank"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)

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
def list_statements(session: SessionDep, user: CurrentUser, page: PageParams) -> Page[StatementOut]:
    """Imported statements, the latest closing date first."""
    found = service.list_statements(session, user, page=page)
    return Page[StatementOut].of(found, lambda row: StatementOut.of(*row))


@router.get("/statements/{statement_id}/lines")
def statement_lines(
    session: SessionDep, user: CurrentUser, statement_id: RecordId, page: PageParams
) -> Page[StatementLineOut]:
    """The lines stored with a statement, in the statement's order."""
    lines = service.statement_lines(session, user, statement_id, page=page)
    return Page[StatementLineOut].of(lines, StatementLineOut.model_validate)
