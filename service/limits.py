"""The service's declared and enforced limits: request body size and read time, and the OpenAPI schema's
bounds on every parameter.

The core enforces the bounds (`core.validate`: text length, k, paging), with its own error codes; the
schema declares the very same numbers, taken from the same settings and constants, so a client
generated from /openapi.json knows them without the route's pydantic validation answering first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.settings import Settings
from core.validate import MAX_OFFSET, MAX_PAGE
from service.errors import error_body

ERROR_REF = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}


class BodyLimit:
    """ASGI middleware: a body over `max_bytes` gets a 413, one still arriving after `timeout_s` a 408.

    A declared Content-Length over the limit is refused before anything is read; a chunked body is
    counted as it arrives and cut off as soon as it passes the limit (or its time runs out): the app
    sees the read fail, whatever it answers is dropped, and the refusal goes out instead, in the one
    error shape.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    def _too_large(self, size: int | None) -> _Refused:
        got = f" ({size:,} bytes)" if size is not None else ""
        return _Refused(413, "too_large", f"The request body{got} is over the limit of {self.max_bytes:,} bytes.",
                        {"max_bytes": self.max_bytes})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with its body bounded in size and read time; refuse it when it is not."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(declared).send(scope, receive, send)
            return
        deadline = time.monotonic() + self.timeout_s
        seen = 0
        done = started = False
        refused: _Refused | None = None

        async def limited_receive() -> Message:
            nonlocal seen, done, refused
            if done:  # the body is in: what follows is the wait for a disconnect, not bounded here
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                refused = _Refused(408, "request_timeout", f"The request body did not arrive within "
                                   f"{self.timeout_s:g}s.", {"timeout_s": self.timeout_s})
                raise refused from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = self._too_large(None)
                    raise refused
                done = not message.get("more_body", False)
            else:
                done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused is not None and not started:
                return  # the app's answer to a body that was cut off: the refusal goes instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if refused is None or started:
                raise
        if refused is not None and not started:
            await refused.send(scope, receive, send)


class _Refused(Exception):
    """A body the middleware will not take; it sends its own error response."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    async def send(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request with this refusal, in the one error shape, and close the connection."""
        response = JSONResponse(error_body(self.code, self.message, self.details), status_code=self.status,
                                headers={"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _set(params: list[dict[str, Any]], name: str, **bounds: Any) -> None:
    for p in params:
        if p.get("name") == name:
            p.setdefault("schema", {}).update(bounds)


def _text_bounds(settings: Settings) -> dict[str, Any]:
    # What core.validate.check_text refuses: nothing but whitespace, or more than max_query_chars characters.
    return {"minLength": 1, "maxLength": settings.max_query_chars, "pattern": r"\S"}


def declare_limits(schema: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The OpenAPI schema with the bounds the core enforces written in (idempotent)."""
    k_bounds = {"minimum": 1, "maximum": settings.max_k}
    paths = schema.get("paths", {})
    search = paths.get("/search", {}).get("get", {})
    _set(search.get("parameters", []), "q", **_text_bounds(settings))
    _set(search.get("parameters", []), "k", **k_bounds)
    documents = paths.get("/documents", {}).get("get", {})
    _set(documents.get("parameters", []), "limit", minimum=1, maximum=MAX_PAGE)
    _set(documents.get("parameters", []), "offset", minimum=0, maximum=MAX_OFFSET)
    ask = schema.get("components", {}).get("schemas", {}).get("AskRequest", {}).get("properties", {})
    if "question" in ask:
        ask["question"].update(_text_bounds(settings))
    if "k" in ask:
        ask["k"].update(k_bounds)
    for path, methods in paths.items():
        for method, op in methods.items():
            responses = op.setdefault("responses", {})
            responses.setdefault("503", {"description": "The index is not loaded yet.", **ERROR_REF})
            if method in ("post", "put", "patch"):
                responses.setdefault("413", {"description": f"Body over {settings.max_body_bytes:,} bytes.",
                                             **ERROR_REF})
                responses.setdefault("408", {"description": f"Body not in within {settings.body_read_timeout_s:g}s.",
                                             **ERROR_REF})
            if path.startswith(("/search", "/documents")) or method == "post":
                responses.setdefault("422", {"description": "Invalid request.", **ERROR_REF})
    return schema


def install_limits(app: FastAPI, settings: Settings) -> None:
    """Enforce the body limits and declare every limit in the app's OpenAPI schema."""
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       timeout_s=settings.body_read_timeout_s)
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        return declare_limits(generate(), settings)

    app.openapi = openapi  # type: ignore[method-assign]
