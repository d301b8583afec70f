"""GET /documents and GET /documents/{id}: browse the indexed documents and read one in full."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from core.validate import MAX_OFFSET, MAX_PAGE, check_paging
from service.auth import CallerDep
from service.deps import EngineDep
from service.schemas import DocumentResponse, DocumentsResponse, ErrorResponse

router = APIRouter(tags=["documents"])


@router.get("/documents", response_model=DocumentsResponse, summary="List documents",
            responses={422: {"model": ErrorResponse, "description": "Bad limit or offset."}})
async def documents(
    engine: EngineDep,
    caller: CallerDep,
    limit: Annotated[int, Query(description=f"Page size, 1..{MAX_PAGE}.")] = 50,
    offset: Annotated[int, Query(description=f"Documents to skip, 0..{MAX_OFFSET}.")] = 0,
) -> dict:
    """One page of the indexed documents, ordered by id."""
    check_paging(limit, offset)  # before SQLite sees an offset too large for its INTEGER
    return (await run_in_threadpool(engine.documents, limit, offset, caller.restricted)).to_dict()


@router.get("/documents/{document_id}", response_model=DocumentResponse, summary="One document with its text",
            responses={404: {"model": ErrorResponse, "description": "No such document."}})
async def document(document_id: str, engine: EngineDep, caller: CallerDep) -> dict:
    """One document's metadata and full text; citation offsets refer to this text."""
    return (await run_in_threadpool(engine.document, document_id, caller.restricted)).to_dict()
