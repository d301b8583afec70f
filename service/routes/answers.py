"""POST /ask: a cited answer, extractive or written by a configured language model."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from common.fields import FILTER_NAMES
from core.results import Query
from service.deps import EngineDep, fast_json
from service.schemas import AskRequest, AskResponse, ErrorResponse

router = APIRouter(tags=["answers"])
_ERRORS = {422: {"model": ErrorResponse, "description": "Invalid question, k, filter or date."}}


@router.post("/ask", response_model=AskResponse, responses=_ERRORS,  # type: ignore[arg-type]
             summary="Answer a question with citations")
async def ask(body: AskRequest, engine: EngineDep) -> Response:
    filters = {name: getattr(body, name) for name in FILTER_NAMES}
    query = Query(body.question, body.k, body.mode, filters, body.auto_filters)
    return fast_json((await run_in_threadpool(engine.ask, query)).to_dict())
