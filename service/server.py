"""Serving the API: uvicorn over `create_app` with an engine already loaded."""

from __future__ import annotations

import uvicorn

from common.settings import Settings
from core.engine import Engine
from service.app import create_app


def serve_engine(engine: Engine, settings: Settings) -> None:
    """Serve `engine` on the settings' host and port until interrupted."""
    health = engine.health()
    print(f"Serving {health.passages:,} passages from {settings.index_dir} "
          f"on http://{settings.host}:{settings.port} (docs at /docs)", flush=True)
    try:
        uvicorn.run(create_app(settings, engine), host=settings.host, port=settings.port, log_level="info")
    finally:
        engine.close()
