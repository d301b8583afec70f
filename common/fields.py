"""The one declared table of metadata and citation fields, and the names every layer derives from it.

Each field a passage can be cited, filtered or faceted by is declared once here, in `FIELDS`. From
this table come the passage store's columns and indexes (indexer/passages.py), the citation of
every search hit and answer (core), the filters the core accepts and how it applies them, the
facets, the API's parameters and response schemas (service/schemas.py), the CLI's filter options
(councilqa/cli.py) and the UI's labels and pickers (ui/).

Adding a document metadata field (say `ward`, read from sidecars and manifests) is one more
`Field(...)` line below. A passage-level field also needs the structure code that finds it
(indexer/structure.py) and an attribute on `Passage`, which a test checks against this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Level = Literal["document", "passage"]
# How a field filters: "exact" matches the canonical value, "date" gives a from/to range,
# "speaker" matches any speaker turn in the passage (not only its first); "since" keeps values after
# the one given, under the parameter name `since`.
FilterKind = Literal["none", "exact", "date", "speaker", "since"]
Mode = Literal["hybrid", "bm25", "dense"]
MODES: tuple[Mode, ...] = get_args(Mode)
# What a person reads for each retrieval mode.
MODE_LABELS: dict[Mode, str] = {
    "hybrid": "Hybrid: words and meaning (recommended)",
    "bm25": "Exact words only",
    "dense": "Meaning only",
}


@dataclass(frozen=True)
class Field:
    """One metadata or citation field, declared once."""

    name: str
    label: str  # what a person reads: UI labels and chips, CLI help
    description: str  # what the API documents for it
    level: Level = "document"  # a document's metadata, or found per passage by structure parsing
    type: type = str  # str or int
    citation: bool = True  # part of every citation
    citation_name: str | None = None  # its key in citations when that differs from `name`
    filter: FilterKind = "none"
    facet: str | None = None  # its key in /facets when its values are listed with counts
    filter_help: str = ""  # what a filter value may be, for the API and the CLI
    range_labels: tuple[str, str] = ("From", "To")  # chip labels of a date filter's two ends
    # Part of a passage's context: written beside its text for keyword (and, if set, dense) search, so
    # "what did the Minister say" or "Stoke Ferry precept" finds passages whose own words do not say it.
    context: bool = False

    @property
    def cite_as(self) -> str:
        """The field's key inside a citation."""
        return self.citation_name or self.name

    @property
    def filter_names(self) -> tuple[str, ...]:
        """The request parameters this field filters by (none, one, or a date's from and to)."""
        if self.filter == "none":
            return ()
        if self.filter == "date":
            return (f"{self.name}_from", f"{self.name}_to")
        if self.filter == "since":
            return ("since",)
        return (self.name,)


FIELDS: tuple[Field, ...] = (
    Field("council", "Council", "Council that published the document.", filter="exact", facet="councils",
          filter_help="Council name or alias (e.g. 'Wolverhampton'); matched case-insensitively against the facets.",
          context=True),
    Field("committee", "Committee", "Committee or meeting.", filter="exact", facet="committees",
          filter_help="Committee name, matched case-insensitively.", context=True),
    Field("doc_type", "Document type", "minutes, report, transcript, notes, agenda or other.", filter="exact",
          facet="doc_types", filter_help="Document type: minutes, report, transcript, notes, agenda or other."),
    Field("speaker", "Speaker", "Main speaker of the passage (transcripts).", level="passage", filter="speaker",
          facet="speakers", filter_help="A speaker in a transcript (e.g. 'Cllr Jane Francis' or 'Jane Francis').",
          context=True),
    Field("date", "Date", "Meeting or publication date, YYYY-MM-DD.", filter="date",
          filter_help="Meeting date, YYYY-MM-DD (or YYYY-MM, or YYYY)."),
    Field("title", "Title", "Document title.", context=True),
    Field("source_url", "Source", "Source URL of the document, when known.", citation_name="url"),
    Field("access", "Access", "Who may read the paper: public, or restricted (exempt or not for publication; "
          "served only to callers whose key has the restricted scope)."),
    Field("agenda_item", "Agenda item", "Agenda item the passage falls under.", level="passage", context=True),
    Field("timestamp", "Time", "Start time of the passage in the recording, h:mm:ss.", level="passage"),
    Field("page", "Page", "Page number (PDF sources).", level="passage", type=int),
    Field("role", "Role", "What the passage does: decision, recommendation, question, answer or discussion.",
          level="passage", filter="exact", facet="roles",
          filter_help="Passage role: decision, recommendation, question, answer or discussion."),
    Field("vote", "Vote", "A decision's recorded vote, e.g. 'carried, 11 for, 2 against, 2 absent'.",
          level="passage"),
    Field("first_indexed", "First indexed", "When the paper was first indexed (UTC, ISO 8601): what is new.",
          filter="since", citation=False,
          filter_help="Only papers first indexed after this moment: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ."),
    Field("heading", "Heading", "Nearest heading above the passage.", level="passage", citation=False,
          context=True),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
DOCUMENT_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.level == "document")
PASSAGE_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.level == "passage")
DOCUMENT_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in DOCUMENT_FIELDS)
CITATION_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.citation)
FILTER_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.filter != "none")
# Every filter parameter, in table order: council, committee, doc_type, speaker, date_from, date_to.
FILTER_NAMES: tuple[str, ...] = tuple(n for f in FILTER_FIELDS for n in f.filter_names)
FACET_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.facet)
CONTEXT_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.context)


def filter_field(name: str) -> Field:
    """The field a filter parameter belongs to (`date_to` -> the `date` field); KeyError if none."""
    for f in FILTER_FIELDS:
        if name in f.filter_names:
            return f
    raise KeyError(name)


def filter_label(name: str) -> str:
    """What a person reads for a filter parameter: "Council", or "From" / "To" for a date's ends."""
    f = filter_field(name)
    if f.filter == "date":
        return f.range_labels[f.filter_names.index(name)]
    return f.label


def filter_help(name: str) -> str:
    """The API and CLI help of a filter parameter."""
    f = filter_field(name)
    if f.filter == "date":
        end = "Earliest" if name.endswith("_from") else "Latest"
        return f"{end} {f.label.lower()}, YYYY-MM-DD (or YYYY-MM, or YYYY)."
    return f.filter_help or f.description


def is_date_filter(name: str) -> bool:
    """True for the from/to parameters of a date field."""
    return filter_field(name).filter == "date"
