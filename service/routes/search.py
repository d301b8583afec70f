"""GET /search: ranked passages with citations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from service.deps import EngineDep
from service.errors import ServiceError
from core.query import FILTER_FIELDS
from service.schemas import ErrorResponse, Mode, SearchResponse

router = APIRouter(tags=["search"])
_PARAMS = {"q", "k", "mode", "auto_filters", *FILTER_FIELDS}
_ERRORS = {422: {"model": ErrorResponse, "description": "Invalid query, k, mode, filter or date."}}


def reject_unknown_params(request: Request, known: set[str]) -> None:
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ServiceError("unknown_parameter", f"Unknown parameter(s): {', '.join(unknown)}. "
                           f"Known: {', '.join(sorted(known))}.", 422, {"unknown": unknown, "valid": sorted(known)})


@router.get("/search", response_model=SearchResponse, responses=_ERRORS,  # type: ignore[arg-type]
            summary="Hybrid search over the indexed papers")
async def search(
    request: Request,
    engine: EngineDep,
    q: Annotated[str, Query(description="What to look for, in plain words.")],
    k: Annotated[int, Query(description="Number of passages (1..max_k, default 10).")] = 10,
    mode: Annotated[Mode, Query(description="hybrid (BM25 + dense, RRF), bm25 or dense.")] = "hybrid",
    council: Annotated[str | None, Query(description="Council name or alias.")] = None,
    committee: Annotated[str | None, Query(description="Committee name.")] = None,
    doc_type: Annotated[str | None, Query(description="minutes, report, transcript, notes, agenda, other.")] = None,
    speaker: Annotated[str | None, Query(description="Speaker name (transcripts).")] = None,
    date_from: Annotated[str | None, Query(description="Earliest date, YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, Query(description="Latest date, YYYY-MM-DD.")] = None,
    auto_filters: Annotated[bool, Query(description="Infer filters from the query.")] = True,
) -> dict:
    reject_unknown_params(request, _PARAMS)
    filters = {"council": council, "committee": committee, "doc_type": doc_type, "speaker": speaker,
               "date_from": date_from, "date_to": date_to}
    return await run_in_threadpool(engine.search, q, k=k, mode=mode, filters=filters, auto_filters=auto_filters)
