"""What the evaluation talks to: the engine in this process, or a running service over HTTP.

Both speak the API's JSON shapes (GET /search, POST /ask, GET /documents/{id}), so one parser serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from common.settings import Settings

MODES = ("hybrid", "bm25", "dense")  # hybrid first: over HTTP it is the one that meets a cold query cache


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


def _as_dict(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "model_dump"):
        return dict(obj.model_dump())
    return dict(obj)


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

    def __init__(self, url: str, timeout: float = 60.0, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

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
    """The service's engine, loaded in this process from `settings.index_dir`."""

    def __init__(self, settings: Settings) -> None:
        from core.engine import Engine

        self.engine = Engine.load(settings)

    def _cold(self) -> None:
        """Forget cached query embeddings, so each call's latency includes encoding its query (as a new user's)."""
        clear = getattr(getattr(self.engine, "_encode_query", None), "cache_clear", None)
        if callable(clear):
            clear()

    def search(self, query: str, k: int, mode: str, filters: dict[str, Any] | None = None) -> list[Hit]:
        self._cold()
        return parse_hits(_as_dict(self.engine.search(query, k=k, mode=mode, filters=filters or {},
                                                      auto_filters=True)))

    def ask(self, question: str, filters: dict[str, Any] | None = None) -> AskResult:
        self._cold()
        return parse_answer(_as_dict(self.engine.ask(question, filters=filters or {}, auto_filters=True)))

    def document_text(self, doc_id: str) -> str | None:
        try:
            return str(self.engine.document(doc_id)["text"]) or None
        except Exception:  # the engine's ServiceError for an unknown document
            return None

    def close(self) -> None:
        close = getattr(self.engine, "close", None)
        if callable(close):
            close()
