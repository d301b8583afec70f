"""Saved searches: POST /saved-searches, GET /saved-searches, GET and DELETE /saved-searches/{id}, and
GET /saved-searches/{id}/feed.atom. Each belongs to the key that made it; admin keys see all."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from common.fields import FILTER_NAMES
from core.following import FollowStore, check_deliver, owner_of
from service.auth import Caller, CallerDep
from service.delivery import atom_feed
from service.deps import EngineDep
from service.schemas import (
    ErrorResponse,
    SavedSearchDetail,
    SavedSearchesResponse,
    SavedSearchModel,
    SavedSearchRequest,
)

router = APIRouter(tags=["saved searches"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No saved search of yours with that id."}}


def _store(request: Request) -> FollowStore:
    return FollowStore(request.app.state.settings.resolved_state_dir)


def _owner(caller: Caller) -> str | None:
    """Whose saved searches a caller sees: its own, or everyone's for an admin key."""
    if caller.key is not None and caller.key.allows("admin"):
        return None
    return owner_of(caller.key.key_id if caller.key else None)


StoreDep = Annotated[FollowStore, Depends(_store)]


@router.post("/saved-searches", response_model=SavedSearchModel, status_code=201, summary="Follow a search",
             responses={422: {"model": ErrorResponse, "description": "Empty query, unknown filter, bad email."}})
async def create(body: SavedSearchRequest, engine: EngineDep, caller: CallerDep, store: StoreDep
                 ) -> dict[str, Any]:
    """Save a search: after each build, what the new or changed papers say about it is kept as its new
    results, in its feed and (if asked) emailed."""
    filters = engine.resolve_filters({n: getattr(body, n) for n in FILTER_NAMES}, caller.restricted)
    deliver = check_deliver(body.deliver.model_dump(exclude_unset=True) or {"feed": True})
    owner = owner_of(caller.key.key_id if caller.key else None)
    saved = await run_in_threadpool(store.create, owner, body.name, body.query, filters, deliver,
                                    engine.document_hashes())
    return saved.to_dict(0)


@router.get("/saved-searches", response_model=SavedSearchesResponse, summary="Your saved searches")
async def list_saved(caller: CallerDep, store: StoreDep) -> dict[str, Any]:
    """Your saved searches (every one, for an admin key), each with its count of results."""
    counts = store.counts()
    return {"saved_searches": [s.to_dict(counts.get(s.id, 0)) for s in store.list(_owner(caller))]}


@router.get("/saved-searches/{search_id}", response_model=SavedSearchDetail, summary="One saved search",
            responses=_NOT_FOUND)
async def one(search_id: str, caller: CallerDep, store: StoreDep) -> dict[str, Any]:
    """A saved search and its results, newest first."""
    s = store.get(search_id, _owner(caller))
    items = store.items(s.id)
    return {**s.to_dict(len(items)), "results": items}


@router.delete("/saved-searches/{search_id}", status_code=204, summary="Stop following", responses=_NOT_FOUND)
async def delete(search_id: str, caller: CallerDep, store: StoreDep) -> Response:
    """Forget a saved search and its results."""
    store.delete(search_id, _owner(caller))
    return Response(status_code=204)


@router.get("/saved-searches/{search_id}/feed.atom", summary="A saved search's Atom feed", responses={
    200: {"content": {"application/atom+xml": {}}, "description": "Its results as an Atom feed."}, **_NOT_FOUND})
async def feed(search_id: str, request: Request, caller: CallerDep, store: StoreDep) -> Response:
    """The saved search's results, newest first, each entry linking to the passage in context."""
    s = store.get(search_id, _owner(caller))
    body = atom_feed(s, store.items(s.id), request.app.state.settings, str(request.url))
    return Response(body, media_type="application/atom+xml")
