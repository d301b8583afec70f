"""The FastAPI application: `create_app(settings, engine=None)`.

The index and model are loaded in the lifespan (unless an engine is passed in, as tests and
`councilqa serve` do after checking the index), routes live in service/routes, and every error
leaves in one JSON shape (service/errors.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from common import __version__
from common.settings import Settings, get_settings
from core.engine import Engine
from service.errors import install_error_handlers
from service.routes import answers, documents, meta, search

DESCRIPTION = (
    "Semantic search and cited answers over UK local council papers. Every error has the shape "
    '`{"error": {"code", "message", "details"}}`.'
)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "engine", None) is None:
            app.state.engine = await run_in_threadpool(Engine.load, settings)
        yield

    app = FastAPI(title="councilqa", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    install_error_handlers(app)
    for module in (search, answers, documents, meta):
        app.include_router(module.router)
    return app
