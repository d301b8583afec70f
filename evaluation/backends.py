"""What the evaluation talks to: the engine in this process, or a running service over HTTP.

Both speak the API's JSON shapes (GET /search, POST /ask, GET /documents/{id}), so one parser serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from common.fields import MODES as _MODES
from common.settings import Settings

MODES = _MODES  # hybrid first: over HTTP it is the one that meets a cold query cache


@dataclass(frozen=True)
class Hit:
    document_id: str
    char_start: int | None
    char_end: int | None
    text: str


@dataclass(frozen=True)
class AskCitation:
    document_id: str
    char_start: int | None
    char_end: int | None
    quote: str
    text: str
    quote_start: int | None = None
    quote_end: int | None = None


@dataclass
class AskResult:
    answer: str
    found: bool
    citations: list[AskCitation] = field(default_factory=list)


class Backend(Protocol):
    def search(self, query: str, k: int, mode: str, filters: dict[str, Any] | None = None) -> list[Hit]: ...

    def ask(self, question: str, filters: dict[str, Any] | None = None) -> AskResult: ...

    def document_text(self, doc_id: str) -> str | None: ...

    def close(self) -> None: ...


def parse_hits(body: dict[str, Any]) -> list[Hit]:
    hits = []
    for r in body.get("results", []):
        c = r.get("citation") or {}
        hits.append(Hit(str(c.get("document_id", "")), c.get("char_start"), c.get("char_end"), str(r.get("text", ""))))
    return hits


def parse_answer(body: dict[str, Any]) -> AskResult:
    cits = [
        AskCitation(str(c.get("document_id", "")), c.get("char_start"), c.get("char_end"), str(c.get("quote", "")),
                    str(c.get("text", "")), c.get("quote_start"), c.get("quote_end"))
        for c in body.get("citations", [])
    ]
    return AskResult(str(body.get("answer", "")), bool(body.get("found", False)), cits)


class HttpBackend:
    """A running `councilqa serve` at `url`."""

    def __init__(self, url: str, timeout: float = 60.0, client: httpx.Client | None = None,
                 api_key: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}  # where the service has keys
        self.client = client or httpx.Client(base_url=url.rstrip("/"), timeout=timeout, headers=headers)

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        r = self.client.get(path, params=params)
        r.raise_for_status()
        return dict(r.json())

    def search(self, query: str, k: int, mode: str, filters: dict[str, Any] | None = None) -> list[Hit]:
        params = {"q": query, "k": k, "mode": mode, "auto_filters": "true", **(filters or {})}
        return parse_hits(self._get("/search", **params))

    def ask(self, question: str, filters: dict[str, Any] | None = None) -> AskResult:
        r = self.client.post("/ask", json={"question": question, **(filters or {})})
        r.raise_for_status()
        return parse_answer(r.json())

    def document_text(self, doc_id: str) -> str | None:
        r = self.client.get(f"/documents/{doc_id}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return str(r.json().get("text", "")) or None

    def close(self) -> None:
        self.client.close()


class InProcessBackend:
    """The search core, loaded in this process from `settings.index_dir`; reads its typed results."""

    def __init__(self, settings: Settings) -> None:
        from core.engine import Engine

        self.engine = Engine.load(settings)

    def search(self, query: str, k: int, mode: str, filters: dict[str, Any] | None = None) -> list[Hit]:
        """Hits for the query, each call paying for its query encoding as a new user's would."""
        from core.results import Query

        self.engine.clear_query_cache()
        got = self.engine.search(Query(query, k, mode, filters or {}, True))  # type: ignore[arg-type]
        return [Hit(h.passage.doc_id, h.passage.char_start, h.passage.char_end, h.passage.text) for h in got.hits]

    def ask(self, question: str, filters: dict[str, Any] | None = None) -> AskResult:
        """The answer, with each citation's passage offsets and best quote."""
        from core.answer import ANSWER_K
        from core.results import Query

        self.engine.clear_query_cache()
        got = self.engine.ask(Query(question, ANSWER_K, "hybrid", filters or {}, True))  # the /ask default
        cits = [AskCitation(c.passage.doc_id, c.passage.char_start, c.passage.char_end, c.best.text, c.passage.text,
                            c.best.start, c.best.end) for c in got.citations]
        return AskResult(got.text, got.found, cits)

    def document_text(self, doc_id: str) -> str | None:
        """A document's text, or None when the index does not hold it."""
        from core.errors import CoreError

        try:
            return self.engine.document(doc_id).text or None
        except CoreError:
            return None

    def close(self) -> None:
        """Release the engine."""
        self.engine.close()
