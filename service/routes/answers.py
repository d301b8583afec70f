"""POST /ask: a cited answer, extractive or written by a configured language model."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from service.deps import EngineDep
from core.query import FILTER_FIELDS
from service.schemas import AskRequest, AskResponse, ErrorResponse

router = APIRouter(tags=["answers"])
_ERRORS = {422: {"model": ErrorResponse, "description": "Invalid question, k, filter or date."}}


@router.post("/ask", response_model=AskResponse, responses=_ERRORS,  # type: ignore[arg-type]
             summary="Answer a question with citations")
async def ask(body: AskRequest, engine: EngineDep) -> dict:
    filters = {name: getattr(body, name) for name in FILTER_FIELDS}
    return await run_in_threadpool(engine.ask, body.question, k=body.k, filters=filters,
                                   auto_filters=body.auto_filters, mode=body.mode)
