"""The data that flows through the indexer and the service.

Citations are data from the first chunk on: every `Passage` carries its document id, character
span in the cleaned document text, page, agenda item, speaker, start time and heading, plus the
document's metadata, so nothing downstream has to re-derive where a passage came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from common.fields import DOCUMENT_FIELD_NAMES

# Document types we normalise to; anything else is kept verbatim in `doc_type_raw`.
DOC_TYPES = ("minutes", "report", "transcript", "notes", "agenda", "other")


class _DocumentFieldAccess:
    """Attribute access (`x.council`) to the table's document fields, kept in the dict named by `_FIELDS`."""

    _FIELDS = "values"

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get(self._FIELDS)
        if values is not None and name in values:
            return values[name]
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in DOCUMENT_FIELD_NAMES:
            self.__dict__[self._FIELDS][name] = value
        else:
            super().__setattr__(name, value)


class DocumentMeta(_DocumentFieldAccess):
    """A document's id, its metadata fields (those of `common.fields.DOCUMENT_FIELDS`) and every other key.

    Fields are read and set as attributes (`meta.council`); a field declared in the table needs no
    change here. `extra` keeps every other key of the sidecar or manifest row, as given.
    """

    def __init__(self, doc_id: str, extra: dict[str, Any] | None = None, **values: Any) -> None:
        unknown = sorted(set(values) - set(DOCUMENT_FIELD_NAMES))
        if unknown:
            raise TypeError(f"unknown document field(s) {', '.join(unknown)}; declared: {DOCUMENT_FIELD_NAMES}")
        self.__dict__["doc_id"] = doc_id
        self.__dict__["values"] = {name: values.get(name) for name in DOCUMENT_FIELD_NAMES}
        self.__dict__["extra"] = dict(extra or {})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DocumentMeta) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.values.items() if v is not None)
        return f"DocumentMeta(doc_id={self.doc_id!r}, {shown})"

    def to_dict(self) -> dict[str, Any]:
        """`doc_id`, every declared field, and `extra`: the JSON kept in the passage store."""
        return {"doc_id": self.doc_id, **self.values, "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentMeta:
        """The inverse of `to_dict`; fields missing from older stores are None."""
        values = {k: data.get(k) for k in DOCUMENT_FIELD_NAMES}
        return cls(str(data.get("doc_id")), extra=dict(data.get("extra") or {}), **values)


@dataclass
class Segment:
    """A structural unit of a cleaned document: a speaker turn, a paragraph, a heading, a page's text.

    Offsets are into `Document.text`. A segment never crosses a turn, agenda item or page boundary,
    so every chunk built from segments inherits exact citation fields.
    """

    start: int
    end: int
    kind: str = "paragraph"  # "turn" | "paragraph" | "heading" | "agenda" | "decision" (kept whole in a chunk)
    page: int | None = None
    agenda_item: str | None = None
    speaker: str | None = None
    timestamp: str | None = None  # "h:mm:ss" start of the turn or timestamped line
    heading: str | None = None
    role: str | None = None  # decision | recommendation | question | answer | discussion (indexer.roles)
    vote: str | None = None  # a decision's recorded vote, as `indexer.roles.Vote.text` writes it


@dataclass
class Document:
    """One loaded paper: its metadata, its cleaned text and the structure parsed from it."""

    meta: DocumentMeta
    text: str  # cleaned text; all char offsets refer to it
    segments: list[Segment]
    source_path: str = ""
    content_hash: str = ""  # hash of the raw file bytes plus its metadata, for incremental builds


class Passage(_DocumentFieldAccess):
    """One chunk, the unit that is embedded, searched and cited.

    Its own fields (offsets, page, agenda item, speaker turns) are attributes; its document's metadata
    fields (`common.fields.DOCUMENT_FIELDS`: council, committee, date ...) are copied onto it so that a
    hit is cited and filtered without a second lookup, and read as attributes too (`p.council`).
    """

    _FIELDS = "meta"

    def __init__(
        self, id: str, doc_id: str, text: str, char_start: int, char_end: int, *,
        page: int | None = None, agenda_item: str | None = None, speaker: str | None = None,
        speakers: list[str] | None = None, timestamp: str | None = None, heading: str | None = None,
        turns: list[dict[str, Any]] | None = None, n_tokens: int = 0, row: int | None = None,
        role: str | None = None, vote: str | None = None, **meta: Any,
    ) -> None:
        unknown = sorted(set(meta) - set(DOCUMENT_FIELD_NAMES))
        if unknown:
            raise TypeError(f"unknown passage field(s) {', '.join(unknown)}; declared: {DOCUMENT_FIELD_NAMES}")
        d = self.__dict__
        d["meta"] = {name: meta.get(name) for name in DOCUMENT_FIELD_NAMES}
        d.update(id=id, doc_id=doc_id, text=text, char_start=char_start, char_end=char_end, page=page,
                 agenda_item=agenda_item, speaker=speaker, speakers=list(speakers or []), timestamp=timestamp,
                 heading=heading, n_tokens=n_tokens, role=role, vote=vote)
        # Where each speaker turn inside the chunk begins: {"start": absolute char offset, "speaker",
        # "timestamp"}, so a quote taken from the middle of a chunk is attributed to whoever said it.
        d["turns"] = list(turns or [])
        d["row"] = row  # its row in the index it was read from (None until stored): not part of its data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Passage) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Passage(id={self.id!r}, doc_id={self.doc_id!r}, chars={self.char_start}-{self.char_end})"

    def to_dict(self) -> dict[str, Any]:
        """Every field, the document's metadata among them, as one flat dict."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("meta", "row")}
        out.update(self.meta)
        out["speakers"], out["turns"] = list(self.speakers), [dict(t) for t in self.turns]
        return out

    def set_document(self, meta: DocumentMeta) -> None:
        """Copy the document's metadata fields onto this passage."""
        self.meta.update(meta.values)

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
