"""GET /health, /stats and /facets."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.deps import EngineDep
from service.posture import public_health, public_stats
from service.schemas import FacetsResponse, HealthResponse, StatsResponse

router = APIRouter(tags=["meta"])


@router.get("/health", response_model=HealthResponse, summary="Is the service up with its index loaded")
async def health(request: Request, engine: EngineDep) -> dict:
    """What is served: the index folder by name (its full path only with COUNCILQA_EXPOSE_DETAILS)."""
    return public_health(engine.health().to_dict(), request.app.state.settings)


@router.get("/stats", response_model=StatsResponse, summary="Index manifest and counts")
async def stats(request: Request, engine: EngineDep) -> dict:
    """Manifest and counts; library versions only with COUNCILQA_EXPOSE_DETAILS."""
    return public_stats(engine.stats(), request.app.state.settings)


@router.get("/facets", response_model=FacetsResponse, summary="Filter values with counts")
async def facets(engine: EngineDep) -> dict:
    """Every filter's values in the index, with passage and document counts."""
    return engine.facets()
