"""A fake councilqa HTTP API for UI tests: contract-shaped canned data, served by uvicorn in a thread.

It mimics the service closely enough for the UI: filters read from the question ("Wolverhampton",
a year), filtering by council, the error body shape, and a slow path. Every request is recorded
in `FakeApi.requests` so tests can check what the UI sent.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

WOLVES = "City of Wolverhampton Council"
PANEL = "Children & Young People Scrutiny Panel"
WOLVES_TEXT = (
    "Webcast transcript of the Children & Young People Scrutiny Panel, 27 November 2024.\n\n"
    "Item 7 Minutes of the previous meeting were agreed.\n\n"
    "Item 8 Our Future Council. Alison Hinds: On the youth zone, the capital funding of £6.5 million "
    "is secured and the council's revenue contribution will reduce from £500,000 to £250,000 over three "
    "years, as the youth zone raises more of its own funding. Young people helped design the building.\n\n"
    "Councillor Jacqui Coogan asked whether the reduction put opening hours at risk. Alison Hinds: No, "
    "the operator has confirmed opening hours will be kept.\n\n" + "Other business was discussed. " * 200
)
QUOTE = "the council's revenue contribution will reduce from £500,000 to £250,000 over three years"
SPAN_1 = (WOLVES_TEXT.index("On the youth zone"), WOLVES_TEXT.index("Young people helped"))
SPAN_2 = (WOLVES_TEXT.index("Councillor Jacqui"), WOLVES_TEXT.index("Other business"))
BRUM_TEXT = (
    "Cabinet report: Youth services review. The council will consult on funding for youth centres "
    "across the city in 2025. Page two sets out the options <including closures & mergers>."
)

DOCUMENTS: dict[str, dict[str, Any]] = {
    "wolves-cyp-2024-11-27": {
        "document_id": "wolves-cyp-2024-11-27",
        "title": "Children & Young People Scrutiny Panel: webcast transcript",
        "council": WOLVES,
        "committee": PANEL,
        "date": "2024-11-27",
        "doc_type": "transcript",
        "source_url": "https://www.youtube.com/watch?v=abc123",
        "extra": {"webcast_length": "2:31:00"},
        "text": WOLVES_TEXT,
    },
    "brum-cabinet-2023-06-13": {
        "document_id": "brum-cabinet-2023-06-13",
        "title": "Youth services review",
        "council": "Birmingham City Council",
        "committee": "Cabinet",
        "date": "2023-06-13",
        "doc_type": "report",
        "source_url": "https://example.org/brum/youth-services.pdf",
        "extra": {},
        "text": BRUM_TEXT,
    },
}


def _citation(doc_id: str, span: tuple[int, int], **extra: Any) -> dict[str, Any]:
    doc = DOCUMENTS[doc_id]
    return {
        "document_id": doc_id,
        "title": doc["title"],
        "council": doc["council"],
        "committee": doc["committee"],
        "date": doc["date"],
        "doc_type": doc["doc_type"],
        "agenda_item": extra.get("agenda_item"),
        "speaker": extra.get("speaker"),
        "timestamp": extra.get("timestamp"),
        "page": extra.get("page"),
        "char_start": span[0],
        "char_end": span[1],
        "url": doc["source_url"],
        "role": extra.get("role", "discussion"),
        "vote": extra.get("vote"),
        "meeting_id": f"{doc['date']}--{doc_id}",
    }


PASSAGES = [
    (
        WOLVES_TEXT[SPAN_1[0] : SPAN_1[1]].strip(),
        _citation("wolves-cyp-2024-11-27", SPAN_1, agenda_item="8 Our Future Council",
                  speaker="Alison Hinds", timestamp="1:08:09"),
    ),
    (
        WOLVES_TEXT[SPAN_2[0] : SPAN_2[1]].strip(),
        _citation("wolves-cyp-2024-11-27", SPAN_2, agenda_item="8 Our Future Council",
                  speaker="Alison Hinds", timestamp="1:12:40"),
    ),
    (BRUM_TEXT, _citation("brum-cabinet-2023-06-13", (0, len(BRUM_TEXT)), page=2, role="decision",
                          vote="carried, 7 for, 2 against")),
]  # fmt: skip
MEETING_VOTE = {"for": 7, "against": 2, "abstained": None, "absent": None, "unanimous": False, "outcome": "carried"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": {}}}, status_code=status)


def _filters(question: str, given: dict[str, Any], auto: bool) -> tuple[dict[str, str], dict[str, str]]:
    """(filters_applied, auto_filters): like the service, hand-set filters win over inferred ones."""
    applied = {k: str(v) for k, v in given.items() if v not in (None, "")}
    inferred: dict[str, str] = {}
    if auto:
        if "wolverhampton" in question.lower() and "council" not in applied:
            inferred["council"] = WOLVES
        year = re.search(r"\b(20\d\d)\b", question)
        if year and "date_from" not in applied and "date_to" not in applied:
            inferred |= {"date_from": f"{year[1]}-01-01", "date_to": f"{year[1]}-12-31"}
    return applied | inferred, inferred


def _matches(question: str, applied: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for text, cit in PASSAGES:
        if any(cit.get(k) != v for k, v in applied.items() if k in ("council", "committee", "doc_type")):
            continue
        if "speaker" in applied and cit.get("speaker") != applied["speaker"]:
            continue
        if "date_from" in applied and cit["date"] < applied["date_from"]:
            continue
        if "date_to" in applied and cit["date"] > applied["date_to"]:
            continue
        out.append((text, cit))
    return out


def _trouble(question: str) -> JSONResponse | None:
    if "trigger 422" in question:
        return _error(422, "invalid_filter", "Unknown council 'Narnia'. Choose one of the councils listed.")
    if "trigger 500" in question:
        return _error(500, "internal", "The index could not be read.")
    if "trigger slow" in question:
        time.sleep(3)
    return None


def make_app(record: list[dict[str, Any]], flags: dict[str, Any] | None = None) -> FastAPI:
    app = FastAPI()
    flags = {} if flags is None else flags  # "llm": the service says it writes answers, and streams them

    @app.middleware("http")
    async def _record(request: Request, call_next: Any) -> Any:
        entry: dict[str, Any] = {"method": request.method, "path": request.url.path,
                                 "params": dict(request.query_params)}  # fmt: skip
        if request.method == "POST":
            entry["json"] = await request.json()
        record.append(entry)
        return await call_next(request)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "documents": len(DOCUMENTS), "passages": len(PASSAGES), "llm": flags.get("llm", False)}

    @app.get("/facets")
    def facets() -> dict[str, Any]:
        def facet(values: list[str]) -> list[dict[str, Any]]:
            return [{"value": v, "count": values.count(v)} for v in sorted(set(values))]

        cits = [c for _, c in PASSAGES]
        return {
            "councils": facet([c["council"] for c in cits]),
            "committees": facet([c["committee"] for c in cits]),
            "doc_types": facet([c["doc_type"] for c in cits]),
            "speakers": facet([c["speaker"] for c in cits if c["speaker"]]),
            "date_min": "2008-12-10",
            "date_max": "2024-11-27",
            "documents": len(DOCUMENTS),
            "passages": len(PASSAGES),
        }

    @app.get("/search", response_model=None)
    def search(request: Request) -> dict[str, Any] | JSONResponse:
        p = dict(request.query_params)
        q = p.get("q", "")
        if (bad := _trouble(q)) is not None:
            return bad
        given = {k: p.get(k) for k in ("council", "committee", "doc_type", "speaker", "date_from", "date_to")}
        applied, inferred = _filters(q, given, p.get("auto_filters", "true") == "true")
        hits = _matches(q, applied)[: int(p.get("k", 10))]
        results = [
            {"rank": i + 1, "score": round(0.05 / (i + 1), 4), "text": text, "citation": cit}
            for i, (text, cit) in enumerate(hits)
        ]
        return {"query": q, "mode": p.get("mode", "hybrid"), "filters_applied": applied,
                "auto_filters": inferred, "results": results}  # fmt: skip

    @app.post("/ask", response_model=None)
    def ask(body: dict[str, Any]) -> dict[str, Any] | JSONResponse:
        q = str(body.get("question", ""))
        if (bad := _trouble(q)) is not None:
            return bad
        given = {k: body.get(k) for k in ("council", "committee", "doc_type", "speaker", "date_from", "date_to")}
        applied, inferred = _filters(q, given, bool(body.get("auto_filters", True)))
        hits = _matches(q, applied)[: int(body.get("k", 5))]
        base = {"question": q, "mode": "extractive", "filters_applied": applied, "auto_filters": inferred}
        if not hits or "nothing" in q:
            return base | {"answer": "No passage in the papers answers this question.", "citations": [],
                           "found": False}  # fmt: skip
        citations = []
        for i, (text, cit) in enumerate(hits):
            quote = QUOTE if QUOTE in text else text[:80]
            q_start = cit["char_start"] + max(0, text.find(quote))
            citations.append({"n": i + 1, "quote": quote, "text": text, "rank": i + 1, "score": 0.03, **cit,
                              "quote_start": q_start, "quote_end": q_start + len(quote),
                              "quotes": [{"text": quote, "start": q_start, "end": q_start + len(quote),
                                          "speaker": cit.get("speaker"),
                                          "timestamp": cit.get("timestamp")}]})  # fmt: skip
        answer = (
            f"Alison Hinds told the {PANEL} that {QUOTE} [1]. Opening hours will be kept [2]."
            if len(citations) > 1
            else f"{citations[0]['quote']} [1]."
        )
        return base | {"answer": answer, "citations": citations, "found": True}

    @app.post("/ask/stream", response_model=None)
    def ask_stream(body: dict[str, Any]) -> StreamingResponse | JSONResponse:
        answer = ask(body)
        if isinstance(answer, JSONResponse):
            return answer
        written = ["Alison Hinds said ", "the contribution ", "will reduce [1]. ", "Dragons agreed [2]."]
        if answer["found"]:
            answer = answer | {"mode": "llm", "answer": "Alison Hinds said the contribution will reduce [1]."}
        events = [("delta", {"text": t}) for t in (written if answer["found"] else [])] + [("answer", answer)]
        raw = "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in events)
        return StreamingResponse(iter([raw.encode()]), media_type="text/event-stream")

    @app.get("/timeline")
    def timeline(request: Request) -> dict[str, Any]:
        p = dict(request.query_params)
        given = {k: p.get(k) for k in ("council", "committee", "doc_type", "speaker", "date_from", "date_to")}
        applied, _ = _filters(p.get("q", ""), given, True)
        points: dict[str, dict[str, Any]] = {}
        for text, cit in _matches(p.get("q", ""), applied):
            point = points.setdefault(cit["meeting_id"], {
                "meeting_id": cit["meeting_id"], "council": cit["council"], "committee": cit["committee"],
                "date": cit["date"], "passages": 0, "decisions": [], "links": []})
            point["passages"] += 1
            point["links"].append({"text": text[:200], "citation": cit})
            if cit["role"] == "decision":
                point["decisions"].append({"text": text, "citation": cit, "vote": None})
        return {"query": p.get("q", ""), "filters_applied": applied,
                "points": sorted(points.values(), key=lambda x: x["date"])}

    @app.get("/meetings/{meeting_id:path}", response_model=None)
    def meeting(meeting_id: str) -> dict[str, Any] | JSONResponse:
        cits = [(t, c) for t, c in PASSAGES if c["meeting_id"] == meeting_id]
        if not cits:
            return _error(404, "meeting_not_found", f"No meeting {meeting_id!r} in the index.")
        c0 = cits[0][1]
        doc = DOCUMENTS[c0["document_id"]]
        items: dict[str, dict[str, Any]] = {}
        for text, c in cits:
            item = items.setdefault(c["agenda_item"] or "", {
                "item": c["agenda_item"] or "", "number": None, "papers": [c["document_id"]], "decisions": [],
                "recommendations": [], "discussion": [], "discussion_total": 0})
            if c["role"] == "decision":
                item["decisions"].append({"text": text, "citation": c, "vote": MEETING_VOTE})
            else:
                item["discussion"].append({"text": text, "citation": c})
                item["discussion_total"] += 1
        return {"id": meeting_id, "council": c0["council"], "committee": c0["committee"], "date": c0["date"],
                "papers": [{"document_id": doc["document_id"], "title": doc["title"], "doc_type": doc["doc_type"],
                            "url": doc["source_url"]}], "items": list(items.values())}

    @app.get("/documents/{document_id:path}", response_model=None)
    def document(document_id: str) -> dict[str, Any] | JSONResponse:
        if document_id not in DOCUMENTS:
            return _error(404, "not_found", f"No document with id '{document_id}'.")
        return DOCUMENTS[document_id]

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FakeApi:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)

    def last(self, path: str) -> dict[str, Any]:
        return next(r for r in reversed(self.requests) if r["path"] == path)


@contextmanager
def serve_fake_api() -> Iterator[FakeApi]:
    """Serve the fake API on a free loopback port for the duration of the block."""
    port = free_port()
    fake = FakeApi(url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(make_app(fake.requests, fake.flags), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake API server did not start")
        time.sleep(0.02)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=5)


if __name__ == "__main__":  # serve it by hand: python tests/ui_fakes.py
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    uvicorn.run(make_app([]), host="127.0.0.1", port=port)
