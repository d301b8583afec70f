"""GET /meetings, GET /meetings/{id} and GET /timeline: meetings as things, and a topic across them."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from common.fields import filter_help
from core.results import Query as CoreQuery
from core.validate import MAX_OFFSET, MAX_PAGE
from service.auth import CallerDep
from service.deps import EngineDep
from service.routes.search import FiltersDep, reject_unknown_params
from service.schemas import ErrorResponse, MeetingDetailResponse, MeetingsResponse, TimelineResponse

router = APIRouter(tags=["meetings"])
_MEETING_FILTERS = ("council", "committee", "date_from", "date_to")
_BAD = {422: {"model": ErrorResponse, "description": "Unknown council or committee, bad date or paging."}}


@router.get("/meetings", response_model=MeetingsResponse, summary="List meetings", responses=_BAD)  # type: ignore[arg-type]
async def list_meetings(
    request: Request, engine: EngineDep, caller: CallerDep,
    council: Annotated[str | None, Query(description=filter_help("council"))] = None,
    committee: Annotated[str | None, Query(description=filter_help("committee"))] = None,
    date_from: Annotated[str | None, Query(description=filter_help("date_from"))] = None,
    date_to: Annotated[str | None, Query(description=filter_help("date_to"))] = None,
    limit: Annotated[int, Query(description=f"Page size, 1..{MAX_PAGE}.")] = 50,
    offset: Annotated[int, Query(description=f"Meetings skipped, 0..{MAX_OFFSET}.")] = 0,
) -> dict[str, Any]:
    """Meetings (papers of one council, committee and date), newest first."""
    reject_unknown_params(request, {*_MEETING_FILTERS, "limit", "offset"})
    filters = {"council": council, "committee": committee, "date_from": date_from, "date_to": date_to}
    total, found = await run_in_threadpool(engine.meetings, filters, limit, offset, caller.restricted)
    return {"total": total, "limit": limit, "offset": offset, "meetings": [m.to_dict() for m in found]}


@router.get("/meetings/{meeting_id}", response_model=MeetingDetailResponse, summary="One meeting",
            responses={404: {"model": ErrorResponse, "description": "No such meeting."}})
async def one_meeting(meeting_id: str, engine: EngineDep, caller: CallerDep) -> dict[str, Any]:
    """A meeting's papers and agenda items, each with its decisions, recommendations and discussion."""
    m, items = await run_in_threadpool(engine.meeting, meeting_id, caller.restricted)
    return {**m.to_dict(), "items": [i.to_dict() for i in items]}


@router.get("/timeline", response_model=TimelineResponse, summary="A topic across meetings", responses=_BAD)  # type: ignore[arg-type]
async def topic_timeline(
    request: Request, engine: EngineDep, caller: CallerDep, filters: FiltersDep,
    q: Annotated[str, Query(description="The topic, in plain words ('youth zone').")],
) -> dict[str, Any]:
    """Per meeting in date order: how many passages are about the topic, the decisions among them, links."""
    reject_unknown_params(request, {"q", *filters})
    query = CoreQuery(q, filters=filters)
    points = await run_in_threadpool(functools.partial(engine.timeline, query, restricted=caller.restricted))
    return {"query": q, "filters_applied": engine.resolve_filters(filters, caller.restricted),
            "points": [p.to_dict() for p in points]}
