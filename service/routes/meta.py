"""GET /health, /stats and /facets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from service.auth import AUTH_ERRORS, Caller, CallerDep, require
from service.deps import EngineDep
from service.posture import public_health, public_stats
from service.schemas import ErrorResponse, FacetsResponse, HealthResponse, ReloadResponse, StatsResponse

router = APIRouter(tags=["meta"])


@router.get("/health", response_model=HealthResponse, summary="Is the service up with its index loaded")
async def health(request: Request, engine: EngineDep) -> dict:
    """What is served: the index folder by name (its full path only with COUNCILQA_EXPOSE_DETAILS)."""
    return public_health(engine.health().to_dict(), request.app.state.settings)


@router.get("/stats", response_model=StatsResponse, summary="Index manifest and counts",
            responses=AUTH_ERRORS)
async def stats(request: Request, engine: EngineDep, caller: CallerDep) -> dict:
    """Manifest and counts (of the papers the caller may read); library versions only with
    COUNCILQA_EXPOSE_DETAILS."""
    return public_stats(engine.stats(caller.restricted), request.app.state.settings, caller.restricted)


@router.get("/facets", response_model=FacetsResponse, summary="Filter values with counts", responses=AUTH_ERRORS)
async def facets(engine: EngineDep, caller: CallerDep) -> dict:
    """Every filter's values in the papers the caller may read, with passage and document counts."""
    return engine.facets(caller.restricted)


@router.post("/reload", response_model=ReloadResponse, summary="Serve the build now in the index folder",
             responses={**AUTH_ERRORS, 403: {"model": ErrorResponse, "description": "The key is not an admin key."}})
async def reload(request: Request, _: Annotated[Caller, Depends(require("admin"))]) -> dict:
    """Load the index folder's current build and swap it in whole (admin keys only); the service also does
    this by itself when the folder changes, and on SIGHUP."""
    holder = request.app.state.holder
    await run_in_threadpool(holder.reload, True)
    return {"build_id": holder.engine.index.build_id, "error": holder.last_error}
