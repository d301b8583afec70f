"""FastAPI dependencies: each request holds one engine, one index build, from start to end.

The engine comes from the app's `EngineHolder` (service/holder.py), taken when the request starts
and released when it ends; every response names the build it came from in `X-Index-Build`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response

from core.engine import Engine
from service.errors import ServiceError

BUILD_HEADER = "X-Index-Build"


def get_engine(request: Request) -> Iterator[Engine]:
    """The engine of the current build, held for the whole request."""
    holder = getattr(request.app.state, "holder", None)
    if holder is None:
        raise ServiceError("not_ready", "The index is not loaded yet; try again in a moment.", 503)
    engine = holder.acquire()
    request.state.build_id = engine.index.build_id
    try:
        yield engine
    finally:
        holder.release(engine)


EngineDep = Annotated[Engine, Depends(get_engine)]


def install_build_header(app: FastAPI) -> None:
    """Every response that used an engine says which build answered it."""

    @app.middleware("http")
    async def build_header(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        build = getattr(request.state, "build_id", None)
        if build:
            response.headers[BUILD_HEADER] = build
        return response
