"""FastAPI dependencies: each request holds one engine, one index build, from start to end.

The engine comes from the app's `EngineHolder` (service/holder.py), taken when the request starts
and released when it ends; every response names the build it came from in `X-Index-Build`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


Headers = list[tuple[bytes, bytes]]


class RewriteHeaders:
    """ASGI middleware: each response's headers as `rewrite(request state, headers)` makes them.

    Plain ASGI rather than `@app.middleware("http")`, which wraps each response in a stream and costs
    a noticeable share of a search's time under load.
    """

    def __init__(self, app: ASGIApp, rewrite: Callable[[dict[str, Any], Headers], Headers]) -> None:
        self.app, self.rewrite = app, rewrite

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_rewritten(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = self.rewrite(scope.get("state", {}), list(message.get("headers", [])))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_rewritten)


def _with_build(state: dict[str, Any], headers: Headers) -> Headers:
    """Every response that used an engine says which build answered it."""
    build = state.get("build_id")
    return [*headers, (BUILD_HEADER.lower().encode(), str(build).encode())] if build else headers


def install_build_header(app: FastAPI) -> None:
    """Name the build in `X-Index-Build` on every response that used an engine."""
    app.add_middleware(RewriteHeaders, rewrite=_with_build)
