"""One JSON error shape for the API, and the mapping of the core's errors onto HTTP.

Every error the service returns looks like {"error": {"code", "message", "details"}}, whether it
comes from the engine, from FastAPI's request validation, from routing, or from a bug (500).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import CoreError, ErrorKind

log = logging.getLogger("councilqa.service")

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "request_timeout",
               413: "too_large",
               415: "unsupported_media_type", 422: "invalid_request", 503: "unavailable"}


class ServiceError(Exception):
    """A request the HTTP layer itself refuses (unknown parameter, not ready); carries its status."""

    def __init__(self, code: str, message: str, status: int = 422, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}
        self.headers = headers or {}


# How each kind of core error reads over HTTP.
CORE_STATUS: dict[ErrorKind, int] = {"invalid": 422, "not_found": 404, "unavailable": 503}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


class ErrorJSONResponse(JSONResponse):
    """An error body that always renders: input echoed in it that UTF-8 cannot encode (a lone surrogate)
    is written as a JSON \\u escape rather than failing the response with a 500."""

    def render(self, content: Any) -> bytes:
        """UTF-8 JSON as usual; ASCII JSON with \\u escapes when the content holds a lone surrogate."""
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _json(status: int, code: str, message: str, details: dict[str, Any] | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:
    return ErrorJSONResponse(error_body(code, message, details), status_code=status, headers=headers)


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return _json(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _core_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CoreError)
    return _json(CORE_STATUS[exc.kind], exc.code, exc.message, exc.details)


def _loc(err: dict[str, Any]) -> str:
    parts = [str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path")]
    return ".".join(parts) or "request"


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _loc(e), "message": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    message = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid request"
    return _json(422, "invalid_request", message, {"errors": errors})


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI's "error parsing the body" for bytes that are not UTF-8: as invalid as malformed JSON (422).
        return _json(422, "invalid_request", "The request body is not UTF-8 text: send JSON encoded as UTF-8.",
                     {"errors": [{"field": "body", "message": str(exc.__cause__), "type": "unicode_decode"}]})
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else "Request failed"
    return _json(exc.status_code, code, message)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("Unhandled error", exc_info=exc)
    return _json(500, "internal_error", "The service hit an unexpected problem; it has been logged.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(CoreError, _core_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
