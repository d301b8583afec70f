"""The search core as a Model Context Protocol tool server, for AI assistants (`councilqa mcp`).

Built on the official `mcp` Python SDK (`MCPServer`). The tools are the API's reads: `search`,
`ask`, `get_document` (a span in its context), `list_facets`, `timeline`, `list_meetings` and
`get_meeting`. Every passage comes back with its citation (council, committee, date, speaker, agenda
item, page, time, document id and character offsets), a one-line `cite` an assistant can quote
verbatim, the paper's own URL and a `link` to the exact place in the UI.

Two transports:
* stdio, for a desktop assistant that starts the server itself. The caller is whoever runs the
  command (who can read the index folder anyway); it reads public papers unless started with
  `--restricted`.
* streamable HTTP, behind the service's API keys: `HttpKeyGate` refuses a request without a usable
  key once any key exists (401, the API's error shape), and each tool call reads restricted papers
  only for a key with the `restricted` scope.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from common.fields import FILTER_NAMES
from common.settings import Settings
from core.engine import Engine
from core.errors import CoreError
from core.keys import KeyProblem, KeyStore
from core.results import Query
from service.auth import FailureLimiter
from service.errors import error_body
from service.holder import EngineHolder
from service.links import cite, ui_link

try:
    from mcp.server import MCPServer
    from mcp.server.mcpserver import Context
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError as exc:  # pragma: no cover - the dependency is installed with councilqa
    raise ImportError("The tool server needs the `mcp` package: pip install 'mcp>=2'") from exc

INSTRUCTIONS = (
    "Search and cited answers over UK local council papers (minutes, reports, agendas, webcast transcripts). "
    "Quote passages exactly as returned and give each quote's `cite` line and `link`; do not paraphrase a "
    "quote as if it were one. `ask` answers in the papers' own words and says when they do not answer."
)
CONTEXT_CHARS = 600  # get_document: characters shown either side of the span asked for
MAX_SPAN = 6000


def _cited(settings: Settings, c: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in c.items() if v is not None}, "cite": cite(c), "link": ui_link(settings, c)}


def _filters(values: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in values.items() if k in FILTER_NAMES and v}


class Tools:
    """The tools' bodies, over whichever engine the holder serves; `restricted_of(ctx)` says whether the
    caller of a tool call may read restricted papers."""

    def __init__(self, holder: EngineHolder, settings: Settings, restricted_of: Callable[[Context | None], bool]):
        self.holder, self.settings, self.restricted_of = holder, settings, restricted_of

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        """The engine of the current build, held for one tool call."""
        engine = self.holder.acquire()
        try:
            yield engine
        finally:
            self.holder.release(engine)

    def search(self, ctx: Context | None, query: str, k: int, filters: dict[str, Any]) -> dict[str, Any]:
        """Ranked passages, each with its citation."""
        with self.engine() as engine:
            found = engine.search(Query(query, k, "hybrid", _filters(filters)), restricted=self.restricted_of(ctx))
        data = found.to_dict()
        return {"query": query, "filters_applied": data["filters_applied"],
                "results": [{"rank": r["rank"], "text": r["text"], **_cited(self.settings, r["citation"])}
                            for r in data["results"]]}

    def ask(self, ctx: Context | None, question: str, filters: dict[str, Any]) -> dict[str, Any]:
        """A cited answer in the papers' words, or the papers' silence."""
        with self.engine() as engine:
            answer = engine.ask(Query(question, filters=_filters(filters)), restricted=self.restricted_of(ctx))
        data = answer.to_dict()
        citations = []
        for c in data["citations"]:
            quotes = [q["text"] for q in c.get("quotes") or []] or [c["quote"]]
            base = {k: v for k, v in c.items() if k not in ("text", "quotes", "quote", "quote_start", "quote_end")}
            citations.append({"n": c["n"], "quotes": quotes, **_cited(self.settings, base)})
        return {"question": question, "answer": data["answer"], "found": data["found"],
                "filters_applied": data["filters_applied"], "citations": citations}

    def get_document(self, ctx: Context | None, document_id: str, start: int | None, end: int | None
                     ) -> dict[str, Any]:
        """A span of a paper in its context (the paper's head when no span is given)."""
        with self.engine() as engine:
            doc = engine.document(document_id, restricted=self.restricted_of(ctx)).to_dict()
        text = doc.pop("text")
        s = max(0, min(start if start is not None else 0, len(text)))
        e = max(s, min(end if end is not None else s + 1000, len(text), s + MAX_SPAN))
        lo, hi = max(0, s - CONTEXT_CHARS), min(len(text), e + CONTEXT_CHARS)
        meta = {k: v for k, v in doc.items() if k != "extra" and v is not None}
        c = {**meta, "document_id": document_id, "char_start": s, "char_end": e, "url": doc.get("source_url")}
        return {"document": meta, "span": text[s:e], "before": text[lo:s], "after": text[e:hi],
                "context_start": lo, "context_end": hi, "length": len(text), **_cited(self.settings, c)}

    def facets(self, ctx: Context | None) -> dict[str, Any]:
        """The councils, committees, document types, speakers, roles and dates indexed, with counts."""
        with self.engine() as engine:
            return engine.facets(self.restricted_of(ctx))

    def timeline(self, ctx: Context | None, topic: str, filters: dict[str, Any]) -> dict[str, Any]:
        """Per meeting in date order, how much the topic was discussed and what was decided."""
        with self.engine() as engine:
            points = engine.timeline(Query(topic, filters=_filters(filters)), restricted=self.restricted_of(ctx))
        out = []
        for p in points:
            d = p.to_dict()
            for key in ("decisions", "links"):  # each {"text", "citation", ...}: the citation made quotable
                d[key] = [{**x, "citation": _cited(self.settings, x["citation"])} for x in d[key]]
            out.append(d)
        return {"topic": topic, "points": out}

    def meetings(self, ctx: Context | None, filters: dict[str, Any], limit: int, offset: int) -> dict[str, Any]:
        """Meetings (papers of one council, committee and date), newest first."""
        with self.engine() as engine:
            total, found = engine.meetings(filters, limit, offset, restricted=self.restricted_of(ctx))
        return {"total": total, "meetings": [m.to_dict() for m in found]}

    def meeting(self, ctx: Context | None, meeting_id: str) -> dict[str, Any]:
        """One meeting's papers and agenda items with their decisions, recommendations and discussion."""
        with self.engine() as engine:
            m, items = engine.meeting(meeting_id, restricted=self.restricted_of(ctx))
        return {**m.to_dict(), "items": [i.to_dict() for i in items]}


def _checked(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A core error (unknown council, no such document) as the tool's error text, with the fix."""
    def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(*args, **kwargs)
        except CoreError as exc:
            raise ToolError(f"{exc.code}: {exc.message}") from None
    return run


def build_server(tools: Tools) -> MCPServer:
    """The MCP server with its tools; their parameters are the API's (filters from the field table)."""
    server = MCPServer("councilqa", instructions=INSTRUCTIONS)
    t = tools

    @server.tool(description="Hybrid search over council papers: the passages that match, best first, each "
                 "with its citation, a `cite` line and a `link` to the exact place. Filters: council, committee, "
                 "doc_type (minutes, report, transcript, notes, agenda), speaker, date_from/date_to (YYYY-MM-DD), "
                 "role (decision, recommendation, question, answer, discussion).")
    def search(query: str, ctx: Context, k: int = 10, council: str | None = None, committee: str | None = None,
               doc_type: str | None = None, speaker: str | None = None, date_from: str | None = None,
               date_to: str | None = None, role: str | None = None) -> dict[str, Any]:
        filters = dict(council=council, committee=committee, doc_type=doc_type, speaker=speaker,
                       date_from=date_from, date_to=date_to, role=role)
        return _checked(t.search)(ctx, query, k, filters)

    @server.tool(description="A cited answer to a question about council papers, quoting them exactly: "
                 "what was decided, proposed and said, by whom, in which meeting. `found` is false when the "
                 "indexed papers do not answer it. Same filters as `search`.")
    def ask(question: str, ctx: Context, council: str | None = None, committee: str | None = None,
            doc_type: str | None = None, speaker: str | None = None, date_from: str | None = None,
            date_to: str | None = None, role: str | None = None) -> dict[str, Any]:
        filters = dict(council=council, committee=committee, doc_type=doc_type, speaker=speaker,
                       date_from=date_from, date_to=date_to, role=role)
        return _checked(t.ask)(ctx, question, filters)

    @server.tool(description="Read a paper at a cited span: `document_id`, `start` and `end` as a citation "
                 "gives them (char_start, char_end); returns the span, the text around it and its citation.")
    def get_document(document_id: str, ctx: Context, start: int | None = None, end: int | None = None
                     ) -> dict[str, Any]:
        return _checked(t.get_document)(ctx, document_id, start, end)

    @server.tool(description="What is indexed: councils, committees, document types, speakers and roles with "
                 "passage counts, and the range of meeting dates. Use the values as filters.")
    def list_facets(ctx: Context) -> dict[str, Any]:
        return _checked(t.facets)(ctx)

    @server.tool(description="A topic across meetings, in date order: per meeting, how many passages are about "
                 "it, the decisions among them and links to them. Filters: council, committee, date_from, date_to.")
    def timeline(topic: str, ctx: Context, council: str | None = None, committee: str | None = None,
                 date_from: str | None = None, date_to: str | None = None) -> dict[str, Any]:
        filters = dict(council=council, committee=committee, date_from=date_from, date_to=date_to)
        return _checked(t.timeline)(ctx, topic, filters)

    @server.tool(description="Meetings (the papers of one council, committee and date), newest first.")
    def list_meetings(ctx: Context, council: str | None = None, committee: str | None = None,
                      date_from: str | None = None, date_to: str | None = None, limit: int = 20,
                      offset: int = 0) -> dict[str, Any]:
        filters = dict(council=council, committee=committee, date_from=date_from, date_to=date_to)
        return _checked(t.meetings)(ctx, filters, limit, offset)

    @server.tool(description="One meeting by id (from list_meetings, timeline or a citation's meeting_id): "
                 "its papers and agenda items, each with its decisions, votes, recommendations and discussion.")
    def get_meeting(meeting_id: str, ctx: Context) -> dict[str, Any]:
        return _checked(t.meeting)(ctx, meeting_id)

    return server


# -- who calls ---------------------------------------------------------------------------------------


def stdio_scope(restricted: bool) -> Callable[[Context | None], bool]:
    """Over stdio the caller is the local user: restricted papers only when the command said so."""
    return lambda _ctx: restricted


def http_scope(store: KeyStore) -> Callable[[Context | None], bool]:
    """Over HTTP, whether the call's bearer key has the restricted scope (`HttpKeyGate` let it in)."""
    def restricted(ctx: Context | None) -> bool:
        headers = ctx.headers if ctx is not None else None
        auth = (headers or {}).get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return False
        try:
            return store.verify(auth[7:]).allows("restricted")
        except KeyProblem:
            return False
    return restricted


class HttpKeyGate:
    """ASGI middleware before the MCP app: the API's key rules (no usable key once keys exist: 401)."""

    def __init__(self, app: Any, store: KeyStore, limiter: FailureLimiter) -> None:
        self.app, self.store, self.limiter = app, store, limiter

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        address = (scope.get("client") or ("unknown",))[0]
        wait = self.limiter.retry_after(address)
        if wait > 0:
            await _refuse(send, 429, ("too_many_failures", "Too many failed API key attempts from this address."),
                          [(b"retry-after", str(int(wait) + 1).encode())])
            return
        problem = self._problem(headers.get("authorization"))
        if problem is None:
            await self.app(scope, receive, send)
            return
        if problem[0] != "missing_key":
            self.limiter.fail(address)
        await _refuse(send, 401, problem, [(b"www-authenticate", b"Bearer")])

    def _problem(self, auth: str | None) -> tuple[str, str] | None:
        if not auth:
            if not self.store.has_active_keys():
                return None
            return "missing_key", "This tool server needs an API key: send `Authorization: Bearer <key>`."
        if not auth.lower().startswith("bearer "):
            return "malformed_key", "The Authorization header must read `Bearer <key>`."
        try:
            self.store.verify(auth[7:])
        except KeyProblem as exc:
            return exc.code, exc.message
        return None


async def _refuse(send: Any, status: int, problem: tuple[str, str], headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *headers]})
    await send({"type": "http.response.body", "body": json.dumps(error_body(*problem)).encode()})


def serve_stdio(holder: EngineHolder, settings: Settings, restricted: bool) -> None:
    """Serve the tools over stdin/stdout until the assistant closes them."""
    build_server(Tools(holder, settings, stdio_scope(restricted))).run("stdio")


def http_app(holder: EngineHolder, settings: Settings) -> Any:
    """The streamable-HTTP app (at /mcp), behind the key gate."""
    store = KeyStore(settings.resolved_state_dir)
    server = build_server(Tools(holder, settings, http_scope(store)))
    limiter = FailureLimiter(settings.auth_max_failures, settings.auth_failure_window_s)
    return HttpKeyGate(server.streamable_http_app(host=settings.host), store, limiter)
