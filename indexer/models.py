"""The data that flows through the indexer and the service.

Citations are data from the first chunk on: every `Passage` carries its document id, character
span in the cleaned document text, page, agenda item, speaker, start time and heading, plus the
document's metadata, so nothing downstream has to re-derive where a passage came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

# Document types we normalise to; anything else is kept verbatim in `doc_type_raw`.
DOC_TYPES = ("minutes", "report", "transcript", "notes", "agenda", "other")


@dataclass
class DocumentMeta:
    doc_id: str
    council: str | None = None  # canonical council name ("City of Wolverhampton Council")
    committee: str | None = None
    date: str | None = None  # ISO YYYY-MM-DD
    title: str | None = None
    doc_type: str | None = None  # one of DOC_TYPES
    source_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # every other key, kept as given

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentMeta:
        known = {k: data.get(k) for k in ("doc_id", "council", "committee", "date", "title", "doc_type", "source_url")}
        extra = dict(data.get("extra") or {})
        return cls(**known, extra=extra)  # type: ignore[arg-type]


@dataclass
class Segment:
    """A structural unit of a cleaned document: a speaker turn, a paragraph, a heading, a page's text.

    Offsets are into `Document.text`. A segment never crosses a turn, agenda item or page boundary,
    so every chunk built from segments inherits exact citation fields.
    """

    start: int
    end: int
    kind: str = "paragraph"  # "turn" | "paragraph" | "heading" | "agenda"
    page: int | None = None
    agenda_item: str | None = None
    speaker: str | None = None
    timestamp: str | None = None  # "h:mm:ss" start of the turn or timestamped line
    heading: str | None = None


@dataclass
class Document:
    meta: DocumentMeta
    text: str  # cleaned text; all char offsets refer to it
    segments: list[Segment]
    source_path: str = ""
    content_hash: str = ""  # hash of the raw file bytes plus its metadata, for incremental builds


@dataclass
class Passage:
    """One chunk, the unit that is embedded, searched and cited."""

    id: str
    doc_id: str
    text: str
    char_start: int
    char_end: int
    page: int | None = None
    agenda_item: str | None = None
    speaker: str | None = None  # the speaker of the chunk's first turn
    speakers: list[str] = field(default_factory=list)
    timestamp: str | None = None
    heading: str | None = None
    # Where each speaker turn inside the chunk begins: {"start": absolute char offset, "speaker", "timestamp"},
    # so a quote taken from the middle of a chunk is attributed to whoever said it.
    turns: list[dict[str, Any]] = field(default_factory=list)
    council: str | None = None
    committee: str | None = None
    date: str | None = None
    title: str | None = None
    doc_type: str | None = None
    source_url: str | None = None
    n_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def turn_at(self, offset: int) -> dict[str, Any] | None:
        """The turn that covers an absolute character offset of the document, if the chunk has turns."""
        current = None
        for turn in self.turns:
            if turn["start"] <= offset:
                current = turn
        return current or (self.turns[0] if self.turns else None)


def passage_id(doc_id: str, text: str) -> str:
    """Stable id: the same text in the same document always gets the same id."""
    return hashlib.sha256(f"{doc_id}\x00{text}".encode()).hexdigest()[:20]


class SkipFile(Exception):
    """A file that cannot be indexed; the message is the reason shown in the build summary."""
