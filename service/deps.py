"""FastAPI dependencies: each request holds one engine, one index build, from start to end.

The engine comes from the app's `EngineHolder` (service/holder.py), taken when the request starts
and released when it ends; every response names the build it came from in `X-Index-Build`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def fast_json(body: dict[str, Any]) -> Response:
    """The core's result, already in the documented shape, sent as JSON without FastAPI validating it again.

    Re-validating a search response (ten passages with their texts) against its model costs a share of
    each request under load; the shape comes from the core's typed results, and the OpenAPI contract is
    checked by tests/test_service_api.py and the schema fuzzer (scripts/fuzz_api.py).
    """
    return Response(orjson.dumps(body), media_type="application/json")


class BuildHeader:
    """ASGI middleware: every response that used an engine says which build answered it.

    Plain ASGI rather than `@app.middleware("http")`, which wraps each response in a stream and costs
    a noticeable share of a search's time under load.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_build(message: Message) -> None:
            if message["type"] == "http.response.start":
                build = scope.get("state", {}).get("build_id")
                if build:
                    message = {**message, "headers": [*message.get("headers", []),
                                                      (BUILD_HEADER.lower().encode(), str(build).encode())]}
            await send(message)

        await self.app(scope, receive, send_with_build)


def install_build_header(app: FastAPI) -> None:
    """Add `BuildHeader` to the app."""
    app.add_middleware(BuildHeader)
