"""GET /search: ranked passages with citations."""

from __future__ import annotations

import functools
import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from common.fields import FILTER_NAMES, Mode, filter_help
from core.results import Query as CoreQuery
from service.auth import CallerDep
from service.deps import EngineDep, fast_json
from service.errors import ServiceError
from service.schemas import ErrorResponse, SearchResponse

router = APIRouter(tags=["search"])
_PARAMS = {"q", "k", "mode", "auto_filters", *FILTER_NAMES}
_ERRORS = {422: {"model": ErrorResponse, "description": "Invalid query, k, mode, filter or date."}}


def reject_unknown_params(request: Request, known: set[str]) -> None:
    """A 422 naming any query parameter the route does not take (a typo must not be silently ignored)."""
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ServiceError("unknown_parameter", f"Unknown parameter(s): {', '.join(unknown)}. "
                           f"Known: {', '.join(sorted(known))}.", 422, {"unknown": unknown, "valid": sorted(known)})


def _filters(**values: str | None) -> dict[str, str | None]:
    return values


# One optional query parameter per filter of the field table (common.fields), documented from it.
_filters.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                      annotation=Annotated[str | None, Query(description=filter_help(name))])
    for name in FILTER_NAMES
])
FiltersDep = Annotated[dict[str, Any], Depends(_filters)]


@router.get("/search", response_model=SearchResponse, responses=_ERRORS,  # type: ignore[arg-type]
            summary="Hybrid search over the indexed papers")
async def search(
    request: Request,
    engine: EngineDep,
    caller: CallerDep,
    filters: FiltersDep,
    q: Annotated[str, Query(description="What to look for, in plain words.")],
    k: Annotated[int, Query(description="Number of passages (1..max_k, default 10).")] = 10,
    mode: Annotated[Mode, Query(description="hybrid (BM25 + dense, fused), bm25 or dense.")] = "hybrid",
    auto_filters: Annotated[bool, Query(description="Infer filters from the query.")] = True,
) -> Response:
    reject_unknown_params(request, _PARAMS)
    query = CoreQuery(q, k, mode, filters, auto_filters)
    results = await run_in_threadpool(functools.partial(engine.search, query, restricted=caller.restricted))
    return fast_json(results.to_dict())
