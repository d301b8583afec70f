"""The FastAPI application: `create_app(settings, engine=None)`.

The index and model are loaded in the lifespan (unless an engine is passed in, as tests and
`councilqa serve` do after checking the index), routes live in service/routes, and every error
leaves in one JSON shape (service/errors.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from common import __version__
from common.settings import Settings, get_settings
from core import display
from core.engine import Engine
from service.auth import AUTH_ERRORS, install_auth
from service.deps import install_build_header
from service.errors import install_error_handlers
from service.holder import EngineHolder
from service.posture import harden
from service.routes import answers, documents, following, meetings, meta, search

DESCRIPTION = (
    "Semantic search and cited answers over UK local council papers. Every error has the shape "
    '`{"error": {"code", "message", "details"}}`.'
)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The API over `engine`, or over the index in `settings.index_dir`, loaded in the lifespan."""
    settings = settings or get_settings()

    def load_next() -> Engine:  # a new build, with the model already in memory
        current = app.state.holder.engine
        return Engine.load(settings, embedder=current.embedder)

    def hold(loaded: Engine, owned: bool) -> EngineHolder:
        return EngineHolder(loaded, load_next, settings.reload_check_s, owns_engine=owned)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "holder", None) is None:
            app.state.holder = hold(await run_in_threadpool(Engine.load, settings), True)
        await run_in_threadpool(display.warm)  # the word table answers repair spacing with, before the first /ask
        # SIGHUP: reload now. Not on Windows, nor when the server runs outside the main thread (tests).
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, app.state.holder.reload, False)
        yield
        app.state.holder.close()

    app = FastAPI(title="councilqa", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.holder = hold(engine, False) if engine is not None else None
    install_error_handlers(app)
    install_build_header(app)
    install_auth(app, settings)  # API keys, failed-attempt limits, private cache headers (service/auth.py)
    harden(app, settings)  # local docs, body-size/read limits, declared OpenAPI limits (service/posture.py)
    for module in (search, answers, documents, meetings, following):
        app.include_router(module.router, responses=AUTH_ERRORS)
    app.include_router(meta.router)
    return app
