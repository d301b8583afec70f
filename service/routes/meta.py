"""GET /health, /stats and /facets."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import EngineDep
from service.schemas import FacetsResponse, HealthResponse, StatsResponse

router = APIRouter(tags=["meta"])


@router.get("/health", response_model=HealthResponse, summary="Is the service up with its index loaded")
async def health(engine: EngineDep) -> dict:
    return engine.health().to_dict()


@router.get("/stats", response_model=StatsResponse, summary="Index manifest and counts")
async def stats(engine: EngineDep) -> dict:
    return engine.stats()


@router.get("/facets", response_model=FacetsResponse, summary="Filter values with counts")
async def facets(engine: EngineDep) -> dict:
    return engine.facets()
