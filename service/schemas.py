"""Request and response models of the HTTP API; the OpenAPI schema is generated from these.

Filters, citations and document metadata are made from the field table (`common.fields`), so a
field declared there appears in every request and response that carries such fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model
from pydantic import Field as PydField

from common.fields import (
    CITATION_FIELDS,
    DOCUMENT_FIELDS,
    FACET_FIELDS,
    FILTER_FIELDS,
    FILTER_NAMES,
    Field,
    Mode,
    filter_help,
)
from core.answer import ANSWER_K


def _optional(f: Field) -> Any:
    return f.type | None


def _filter_fields() -> dict[str, Any]:
    """One optional parameter per filter of the field table."""
    return {name: (str | None, PydField(None, description=filter_help(name))) for name in FILTER_NAMES}


def _document_fields() -> dict[str, Any]:
    return {f.name: (_optional(f), PydField(None, description=f.description)) for f in DOCUMENT_FIELDS}


Filters = create_model(
    "Filters", __config__=ConfigDict(extra="forbid"), __doc__="Filters in force: canonical facet values "
    "(dates as YYYY-MM-DD).", **_filter_fields(),
)

Citation = create_model(  # type: ignore[call-overload]
    "Citation", __doc__="Where a passage comes from: its document, the citation fields, its offsets.",
    document_id=(str, PydField(..., description="Id of the cited document (see GET /documents/{id}).")),
    **{f.cite_as: (_optional(f), PydField(None, description=f.description)) for f in CITATION_FIELDS},
    char_start=(int, PydField(..., description="Start offset of the passage in the document text.")),
    char_end=(int, PydField(..., description="End offset (exclusive) of the passage in the document text.")),
    meeting_id=(str | None, PydField(None, description="The passage's meeting (GET /meetings/{id}): its paper's "
                                     "date, council and committee; null where the paper has no date.")),
)


class SearchResult(BaseModel):
    rank: int = PydField(..., description="1-based rank.")
    score: float = PydField(..., description="Fused score (hybrid: 0-1 plus boosts with convex fusion), BM25 "
                            "score (bm25) or cosine (dense).")
    text: str = PydField(..., description="The passage text, verbatim from the document.")
    citation: Citation = PydField(..., description="Where the passage comes from.")


class SearchResponse(BaseModel):
    query: str = PydField(..., description="The query as given.")
    mode: Mode = PydField(..., description="Retrieval mode used.")
    k: int = PydField(..., description="Number of results asked for.")
    filters_applied: dict[str, str] = PydField(
        ..., description="Every filter in force: those given and those inferred from the query."
    )
    auto_filters: dict[str, str] = PydField(..., description="The subset of filters_applied inferred from the query.")
    boosts: dict[str, list[str]] = PydField(
        default_factory=dict,
        description="Facet values named in the query that were used to boost rather than filter "
        "(ambiguous, or a filter would have left nothing).",
    )
    results: list[SearchResult] = PydField(..., description="Ranked passages with citations.")
    took_ms: float = PydField(..., description="Server time spent, in milliseconds.")


class _AskBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = PydField(..., description="The question, in plain English.")
    k: int = PydField(ANSWER_K, description="Number of passages the answer is drawn from (1..max_k).")
    auto_filters: bool = PydField(True, description="Infer filters (council, speaker, dates, type) from the "
                                  "question.")
    mode: Mode = PydField("hybrid", description="Retrieval mode for the passages.")


AskRequest = create_model("AskRequest", __base__=_AskBase, __doc__="The body of POST /ask.", **_filter_fields())


class Quote(BaseModel):
    text: str = PydField(..., description="A sentence quoted in the answer, verbatim: document text[start:end].")
    shown: str | None = PydField(None, description="The quote as the answer shows it: on one line, spacing "
                                 "repaired, captions' [h:mm:ss] markers out. `text` keeps the document's characters.")
    start: int = PydField(..., description="Start offset of the quote in the document text.")
    end: int = PydField(..., description="End offset (exclusive) of the quote in the document text.")
    speaker: str | None = PydField(None, description="Speaker of the turn holding the quote (transcripts).")
    timestamp: str | None = PydField(None, description="Start time of that turn, or of the caption marker "
                                     "before the quote, h:mm:ss.")


class AnswerCitation(Citation):
    """One cited passage; every answer sentence taken from it carries its [n]."""

    n: int = PydField(..., description="The marker number, [n] in the answer; numbered in order of first use.")
    quote: str = PydField(..., description="The passage's best supporting sentence, verbatim: a substring of the "
                       "passage and of the document. `speaker` and `timestamp` are those of the turn holding it.")
    text: str = PydField(..., description="The whole passage the quote comes from.")
    rank: int = PydField(..., description="Rank of the passage in the retrieval.")
    score: float = PydField(..., description="Retrieval score of the passage.")
    quote_start: int = PydField(..., description="Start offset of the quote in the document text.")
    quote_end: int = PydField(..., description="End offset (exclusive) of the quote in the document text.")
    quotes: list[Quote] = PydField(default_factory=list,
                                description="Every sentence the answer quotes from this passage, in document order.")
    passage_speaker: str | None = PydField(None, description="Speaker of the passage's first turn.")
    passage_timestamp: str | None = PydField(None, description="Start time of the passage's first turn.")


class AskResponse(BaseModel):
    question: str = PydField(..., description="The question as given.")
    answer: str = PydField(..., description="The answer; each sentence is followed by the [n] marker of the "
                        "passage it quotes (consecutive sentences from one passage share one marker).")
    citations: list[AnswerCitation] = PydField(..., description="One entry per cited passage, i.e. per [n].")
    mode: Literal["extractive", "llm"] = PydField(..., description="Who wrote the answer.")
    found: bool = PydField(..., description="False when the papers hold nothing that answers the question.")
    confidence: float = PydField(
        ..., description="Evidence score: cosine of the best sentence to the question plus 0.5 x the share of "
        "the question's keywords found in the passages. Below the abstention threshold, found is false."
    )
    filters_applied: dict[str, str] = PydField(..., description="Every filter in force.")
    auto_filters: dict[str, str] = PydField(..., description="The subset of filters inferred from the question.")
    boosts: dict[str, list[str]] = PydField(default_factory=dict, description="Facet values used as boosts.")
    llm_error: str | None = PydField(None, description="Why the language model's answer was not used, if it was not.")
    parts: dict[Literal["decided", "proposed", "said"], list[int]] | None = PydField(
        None, description="For a question about what was decided: the citation numbers [n] of each labelled part "
        "of the answer (Decided: minutes' resolutions; Proposed: reports' recommendations; Said: the rest). "
        "null for other questions.")
    took_ms: float = PydField(..., description="Server time spent, in milliseconds.")


class FacetValue(BaseModel):
    value: str = PydField(..., description="The facet value.")
    count: int = PydField(..., description="Passages with this value.")
    documents: int | None = PydField(None, description="Documents with this value.")


def _facet_fields() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in FACET_FIELDS:
        out[str(f.facet)] = (list[FacetValue], PydField(..., description=f"{f.label} values in the index."))
    for f in FILTER_FIELDS:
        if f.filter == "date":
            out[f"{f.name}_min"] = (str | None, PydField(None, description=f"Earliest {f.label.lower()}."))
            out[f"{f.name}_max"] = (str | None, PydField(None, description=f"Latest {f.label.lower()}."))
    return out


FacetsResponse = create_model(
    "FacetsResponse", __doc__="Filter values with their counts.",
    **_facet_fields(),
    documents=(int, PydField(..., description="Number of documents.")),
    passages=(int, PydField(..., description="Number of passages.")),
)


class _DocumentSummaryBase(BaseModel):
    model_config = ConfigDict(extra="allow")
    document_id: str = PydField(..., description="Document id.")
    extra: dict[str, Any] = PydField(default_factory=dict, description="Every other metadata key, as given.")
    n_passages: int = PydField(0, description="Passages the document was cut into.")
    n_chars: int = PydField(0, description="Length of the cleaned text.")


DocumentSummary = create_model("DocumentSummary", __base__=_DocumentSummaryBase,
                               __doc__="One document in the list, with its metadata.", **_document_fields())


class DocumentsResponse(BaseModel):
    total: int = PydField(..., description="Number of documents in the index.")
    limit: int = PydField(..., description="Page size.")
    offset: int = PydField(..., description="Offset of this page.")
    documents: list[DocumentSummary] = PydField(
        ..., description="This page of documents, ordered by id.")


class _DocumentBase(BaseModel):
    document_id: str = PydField(..., description="Document id.")
    extra: dict[str, Any] = PydField(default_factory=dict, description="Every other metadata key, as given.")
    text: str = PydField(..., description="Full cleaned text; citation offsets refer to it.")


DocumentResponse = create_model("DocumentResponse", __base__=_DocumentBase,
                                __doc__="One document with its metadata and full text.", **_document_fields())


class HealthResponse(BaseModel):
    status: Literal["ok"] = PydField("ok", description="'ok' when the index and model are loaded.")
    index_dir: str = PydField(..., description="The name of the index folder being served (its absolute path "
                              "only where COUNCILQA_EXPOSE_DETAILS is set).")
    model: str = PydField(..., description="Embedding model id.")
    passages: int = PydField(..., description="Passages in the index.")
    documents: int = PydField(..., description="Documents in the index.")
    llm: bool = PydField(..., description="Whether a language model is configured for answers.")
    build_id: str = PydField("", description="The index build every answer of this service now comes from; "
                             "every response names its build in the X-Index-Build header.")


class ReloadResponse(BaseModel):
    build_id: str = PydField(..., description="The build served after the reload.")
    error: str | None = PydField(None, description="Why the folder's build could not be loaded, if it could not "
                                 "(the previous build is still served).")


class StatsResponse(BaseModel):
    manifest: dict[str, Any] = PydField(..., description="The index manifest (model, chunking, counts; library "
                                        "versions and source paths only where COUNCILQA_EXPOSE_DETAILS is set).")
    passages: int = PydField(..., description="Passages in the index.")
    documents: int = PydField(..., description="Documents in the index.")
    councils: int = PydField(..., description="Distinct councils.")
    speakers: int = PydField(..., description="Distinct speakers.")
    dense: str = PydField(..., description="Vector index kind.")
    embed_backend: str = PydField(..., description="Embedding backend the service loaded for passages.")
    query_backend: str = PydField("", description="What encodes queries and answer-time sentences.")
    query_cache: dict[str, int] = PydField(..., description="Query-embedding LRU cache: hits, misses, size.")
    sentence_cache: dict[str, int] | None = PydField(
        None, description="Sentence-vector LRU cache of /ask (bounded): hits, misses, size, max.")
    abstain_threshold: float = PydField(..., description="Evidence score below which /ask says it found nothing.")


class ErrorBody(BaseModel):
    code: str = PydField(..., description="Machine-readable code, e.g. invalid_request, unknown_filter_value.")
    message: str = PydField(..., description="What went wrong, for a person.")
    details: dict[str, Any] = PydField(default_factory=dict, description="Structured details (field, valid values).")


class ErrorResponse(BaseModel):
    error: ErrorBody = PydField(..., description="The error.")


class VoteModel(BaseModel):
    for_: int | None = PydField(None, alias="for", description="Votes for, where stated or countable.")
    against: int | None = PydField(None, description="Votes against.")
    abstained: int | None = PydField(None, description="Abstentions.")
    absent: int | None = PydField(None, description="Members recorded absent.")
    unanimous: bool = PydField(False, description="Recorded as unanimous or all in favour.")
    outcome: Literal["carried", "lost"] | None = PydField(None, description="Carried or lost, where recorded.")


class Excerpt(BaseModel):
    text: str = PydField(..., description="The passage text (its first 600 characters).")
    citation: Citation = PydField(..., description="Where the passage comes from.")
    vote: VoteModel | None = PydField(None, description="A decision's recorded vote, parsed.")


class PaperModel(BaseModel):
    document_id: str = PydField(..., description="Id of the document (see GET /documents/{id}).")
    title: str | None = PydField(None, description="Document title.")
    doc_type: str | None = PydField(None, description="minutes, report, transcript, notes, agenda or other.")
    url: str | None = PydField(None, description="Source URL, when known.")


class MeetingModel(BaseModel):
    id: str = PydField(..., description="Stable meeting id: date, council and committee.")
    council: str = PydField(..., description="Council.")
    committee: str | None = PydField(None, description="Committee or meeting.")
    date: str = PydField(..., description="Meeting date, YYYY-MM-DD.")
    papers: list[PaperModel] = PydField(..., description="The meeting's indexed papers.")


class MeetingsResponse(BaseModel):
    total: int = PydField(..., description="Meetings that match.")
    limit: int = PydField(..., description="Page size.")
    offset: int = PydField(..., description="Meetings skipped.")
    meetings: list[MeetingModel] = PydField(..., description="One page of meetings, newest first.")


class ItemModel(BaseModel):
    item: str = PydField(..., description="Agenda item as the first paper gives it ('' for passages outside "
                         "any item).")
    number: str | None = PydField(None, description="The item's number, when it has one.")
    papers: list[str] = PydField(..., description="Documents that hold the item (matched by number or title).")
    decisions: list[Excerpt] = PydField(..., description="Passages recording decisions, with votes.")
    recommendations: list[Excerpt] = PydField(..., description="Passages recommending what to decide.")
    discussion: list[Excerpt] = PydField(..., description="The first discussion passages (questions, answers, "
                                         "the rest).")
    discussion_total: int = PydField(..., description="All discussion passages of the item.")


class MeetingDetailResponse(MeetingModel):
    items: list[ItemModel] = PydField(..., description="Agenda items in order, across the meeting's papers.")


class TimelinePointModel(BaseModel):
    meeting_id: str = PydField(..., description="The meeting (GET /meetings/{id}).")
    council: str = PydField(..., description="Council.")
    committee: str | None = PydField(None, description="Committee.")
    date: str = PydField(..., description="Meeting date.")
    passages: int = PydField(..., description="Passages about the topic (relevant enough to answer from).")
    decisions: list[Excerpt] = PydField(..., description="Decisions among them.")
    links: list[Excerpt] = PydField(..., description="The first of those passages, with citations.")


class TimelineResponse(BaseModel):
    query: str = PydField(..., description="The topic as given.")
    filters_applied: dict[str, str] = PydField(..., description="Filters in force.")
    points: list[TimelinePointModel] = PydField(..., description="One point per meeting, in date order.")


class Deliver(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str | None = PydField(None, max_length=320, description="Send a digest here after each build with "
                                 "new results.")
    feed: bool = PydField(False, description="Keep an Atom feed at /saved-searches/{id}/feed.atom.")


class _SavedSearchBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = PydField("", max_length=200, description="What the saved search is called (default: its query).")
    query: str = PydField(..., max_length=1000, description="The words to follow, as for /search.")
    deliver: Deliver = PydField(default_factory=lambda: Deliver(feed=True),
                                description="How new results arrive: {\"email\": …} and/or {\"feed\": true}.")


SavedSearchRequest = create_model("SavedSearchRequest", __base__=_SavedSearchBase,
                                  __doc__="The body of POST /saved-searches.", **_filter_fields())


class SavedSearchModel(BaseModel):
    id: str = PydField(..., description="The saved search's id.")
    name: str
    query: str
    filters: dict[str, str] = PydField(..., description="The filters it runs with (canonical values).")
    deliver: dict[str, Any]
    created_at: float = PydField(..., description="When it was made (Unix time).")
    new_results: int | None = PydField(None, description="Results found for it since it was made.")


class SavedSearchesResponse(BaseModel):
    saved_searches: list[SavedSearchModel]


class SavedSearchDetail(SavedSearchModel):
    results: list[dict[str, Any]] = PydField(..., description="Its results, newest first: passage text, "
                                             "citation, when found.")
