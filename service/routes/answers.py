"""POST /ask: a cited answer, extractive or written by a configured language model; POST /ask/stream:
the same answer as server-sent events, the model's text as it is written, then the checked answer."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import orjson
from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse

from common.fields import FILTER_NAMES
from core.results import Answer, Query
from service.auth import CallerDep
from service.deps import EngineDep, fast_json
from service.schemas import AskRequest, AskResponse, ErrorResponse

router = APIRouter(tags=["answers"])
_ERRORS = {422: {"model": ErrorResponse, "description": "Invalid question, k, filter or date."}}
_STREAM = {200: {"content": {"text/event-stream": {}}, "description": (
    "Server-sent events: zero or more `delta` events ({\"text\": ...}, the language model's text as it is "
    "written, before it is checked), then one `answer` event with the AskResponse body. The `answer` "
    "event is what to keep: it may drop sentences the deltas showed, or be the extractive answer.")},
    **_ERRORS}


def _query(body: AskRequest) -> Query:
    filters = {name: getattr(body, name) for name in FILTER_NAMES}
    return Query(body.question, body.k, body.mode, filters, body.auto_filters)


@router.post("/ask", response_model=AskResponse, responses=_ERRORS,  # type: ignore[arg-type]
             summary="Answer a question with citations")
async def ask(body: AskRequest, engine: EngineDep, caller: CallerDep) -> Response:
    answer = await run_in_threadpool(functools.partial(engine.ask, _query(body), restricted=caller.restricted))
    return fast_json(answer.to_dict())


def _event(piece: str | Answer) -> bytes:
    """One server-sent event: `delta` for a piece of the model's text, `answer` for the final answer."""
    name, data = ("answer", piece.to_dict()) if isinstance(piece, Answer) else ("delta", {"text": piece})
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _events(first: str | Answer, rest: Iterator[str | Answer]) -> Iterator[bytes]:
    yield _event(first)
    for piece in rest:  # starlette iterates this on a worker thread: the model call blocks
        yield _event(piece)


@router.post("/ask/stream", responses=_STREAM,  # type: ignore[arg-type]
             summary="Answer a question with citations, streamed as server-sent events")
async def ask_stream(body: AskRequest, engine: EngineDep, caller: CallerDep) -> Response:
    stream = engine.ask_stream(_query(body), restricted=caller.restricted)
    # The first item is waited for here, so a bad question is a plain 422 error, not a broken stream.
    first = await run_in_threadpool(next, stream)
    return EventSourceResponse(_events(first, stream), headers={"Cache-Control": "no-cache"})
