"""FastAPI dependencies: the engine lives on app.state, loaded once in the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from core.engine import Engine
from service.errors import ServiceError


def get_engine(request: Request) -> Engine:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise ServiceError("not_ready", "The index is not loaded yet; try again in a moment.", 503)
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]
