"""Typed queries and results of the search core.

The shells read these objects directly (the evaluation reads `Hit.passage`, the CLI prints them);
`to_dict()` gives the JSON shape the HTTP API documents, so the API, the CLI's `--json` and any
client see one shape. Citation fields come from the field table (`common.fields`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from common.fields import CITATION_FIELDS, Mode
from core.display import readable
from indexer.models import DocumentMeta, Passage
from indexer.structure import TIME_MARK

AnswerMode = Literal["extractive", "llm"]


@dataclass(frozen=True)
class Query:
    """What to look for: the text, how many passages, the retrieval mode and the filters.

    `filters` maps filter names (`common.fields.FILTER_NAMES`) to values as a person gave them;
    the core validates and canonicalises them. `auto_filters` lets it read more from the text.
    """

    text: str
    k: int = 10
    mode: Mode = "hybrid"
    filters: Mapping[str, Any] = field(default_factory=dict)
    auto_filters: bool = True


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def meeting_id(council: str, committee: str | None, date: str) -> str:
    """A meeting's stable, readable id: "2025-01-21--city-of-london-ontario-city-council--council"."""
    return "--".join(x for x in (date, _slug(council), _slug(committee or "")) if x)


def citation(p: Passage) -> dict[str, Any]:
    """Where a passage comes from: its document, every citation field of the table, its offsets, and
    its meeting (GET /meetings/{id}) where the paper has a council and a date."""
    out: dict[str, Any] = {"document_id": p.doc_id}
    for f in CITATION_FIELDS:
        out[f.cite_as] = getattr(p, f.name)
    out["char_start"], out["char_end"] = p.char_start, p.char_end
    out["meeting_id"] = meeting_id(p.council, p.committee, p.date) if p.council and p.date else None
    return out


@dataclass(frozen=True)
class Hit:
    """One ranked passage."""

    rank: int
    score: float
    passage: Passage

    def to_dict(self) -> dict[str, Any]:
        """The API's search result: rank, score, the passage text and its citation."""
        return {"rank": self.rank, "score": round(self.score, 6), "text": self.passage.text,
                "citation": citation(self.passage)}


@dataclass(frozen=True)
class Applied:
    """The filters in force for a request, those read from its text, and the values used as boosts."""

    filters: dict[str, str]
    auto: dict[str, str]
    boosts: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        """The three keys every search and answer response carries."""
        return {"filters_applied": dict(self.filters), "auto_filters": dict(self.auto),
                "boosts": {k: list(v) for k, v in self.boosts.items()}}


@dataclass(frozen=True)
class SearchResults:
    """Ranked passages for one query, with what was applied to get them."""

    query: str
    mode: Mode
    k: int
    applied: Applied
    hits: list[Hit]
    took_ms: float

    def to_dict(self) -> dict[str, Any]:
        """The API's search response."""
        return {"query": self.query, "mode": self.mode, "k": self.k, **self.applied.to_dict(),
                "results": [h.to_dict() for h in self.hits], "took_ms": self.took_ms}


@dataclass(frozen=True)
class Quote:
    """A sentence quoted verbatim from a passage: document text[start:end], with who said it."""

    text: str
    start: int
    end: int
    speaker: str | None
    timestamp: str | None

    def to_dict(self) -> dict[str, Any]:
        """The API's quote object."""
        return {"text": self.text, "shown": readable(self.text), "start": self.start, "end": self.end,
                "speaker": self.speaker, "timestamp": self.timestamp}


def quote_of(p: Passage, start: int, end: int) -> Quote:
    """The quote of `p.text[start:end]`, attributed to the speaker turn that holds it. Its time is the
    turn's; in a transcript timed by "[h:mm:ss]" markers, the last marker at or before the quote's start
    (the passage's own time is where the passage starts, which may be minutes earlier)."""
    turn = p.turn_at(p.char_start + start)
    time = turn.get("timestamp") if turn else None
    if not time:
        time = marker_time(p.text, start) or (None if turn else p.timestamp)
    text = p.text[start:end]
    speaker = None if editorial(text) else turn.get("speaker") if turn else p.speaker
    return Quote(text, p.char_start + start, p.char_start + end, speaker, time)


# Whole lines in brackets, each longer than a "[1:22:22]" time marker.
_EDITORIAL = re.compile(r"^(?:\[[^\[\]]{12,}\]\s*)+$")


def editorial(text: str) -> bool:
    """Whether a quote is a transcript's bracketed note ("[Question put, That the amendment be made.]",
    "[The Committee divided: Ayes 5, Noes 11.]"): the record's words, not the speaker's before it."""
    return bool(_EDITORIAL.match(text.strip()))


def marker_time(text: str, at: int) -> str | None:
    """The time of the last "[h:mm:ss]" marker of `text` that starts at or before offset `at`."""
    last = None
    for m in TIME_MARK.finditer(text, 0, at + 12):
        if m.start() > at:
            break
        last = m.group(1)
    return last


@dataclass(frozen=True)
class AnswerCitation:
    """One cited passage of an answer; every answer sentence taken from it carries marker `n`.

    `best` is the passage's best supporting quote; `quotes` lists every quote in document order.
    """

    n: int
    passage: Passage
    rank: int
    score: float
    best: Quote
    quotes: list[Quote]

    def to_dict(self) -> dict[str, Any]:
        """The API's answer citation: the passage's citation plus its quotes.

        `speaker` and `timestamp` are those of the turn holding the best quote, where the passage has
        turns; `passage_speaker` and `passage_timestamp` are the passage's own.
        """
        p = self.passage
        out = {"n": self.n, "quote": self.best.text, "text": p.text, "rank": self.rank,
               "score": round(self.score, 6), **citation(p), "quote_start": self.best.start,
               "quote_end": self.best.end, "passage_speaker": p.speaker, "passage_timestamp": p.timestamp}
        if p.turn_at(self.best.start) is not None:
            out["speaker"], out["timestamp"] = self.best.speaker, self.best.timestamp
        out["quotes"] = [q.to_dict() for q in self.quotes]
        return out


@dataclass(frozen=True)
class Answer:
    """A cited answer, or `found=False` when the papers hold nothing that answers the question."""

    question: str
    text: str
    citations: list[AnswerCitation]
    mode: AnswerMode
    found: bool
    confidence: float
    applied: Applied
    took_ms: float = 0.0
    llm_error: str | None = None
    # For a question about what was decided: the citation numbers of each part (decided, proposed, said).
    parts: dict[str, list[int]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The API's answer response."""
        return {"question": self.question, **self.applied.to_dict(), "llm_error": self.llm_error, "parts": self.parts,
                "answer": self.text, "citations": [c.to_dict() for c in self.citations], "mode": self.mode,
                "found": self.found, "confidence": round(self.confidence, 4), "took_ms": self.took_ms}


@dataclass(frozen=True)
class DocumentPage:
    """One page of the document list, ordered by id."""

    total: int
    limit: int
    offset: int
    documents: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """The API's document list."""
        return {"total": self.total, "limit": self.limit, "offset": self.offset,
                "documents": [_with_document_id(d) for d in self.documents]}


@dataclass(frozen=True)
class DocumentText:
    """One document's metadata and its full cleaned text (citation offsets refer to it)."""

    meta: DocumentMeta
    text: str

    def to_dict(self) -> dict[str, Any]:
        """The API's document response."""
        return {**_with_document_id(self.meta.to_dict()), "text": self.text}


@dataclass(frozen=True)
class Health:
    """Is the engine up, and over what."""

    index_dir: str
    model: str
    passages: int
    documents: int
    llm: bool
    build_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The API's health response."""
        return {"status": "ok", "index_dir": self.index_dir, "model": self.model, "passages": self.passages,
                "documents": self.documents, "llm": self.llm, "build_id": self.build_id}


def _with_document_id(d: dict[str, Any]) -> dict[str, Any]:
    out = dict(d)
    out["document_id"] = out.pop("doc_id")
    return out
