"""Request and response models of the HTTP API; the OpenAPI schema is generated from these."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["hybrid", "bm25", "dense"]

_FILTER_DOC = {
    "council": "Council name or alias (e.g. 'Wolverhampton'); matched case-insensitively against the facets.",
    "committee": "Committee name, matched case-insensitively.",
    "doc_type": "Document type: minutes, report, transcript, notes, agenda or other.",
    "speaker": "A speaker in a transcript (e.g. 'Cllr Jane Francis' or 'Jane Francis').",
    "date_from": "Earliest meeting date, YYYY-MM-DD (or YYYY).",
    "date_to": "Latest meeting date, YYYY-MM-DD (or YYYY).",
}


class Filters(BaseModel):
    """Filters in force: canonical facet values (dates as YYYY-MM-DD)."""

    model_config = ConfigDict(extra="forbid")
    council: str | None = Field(None, description=_FILTER_DOC["council"])
    committee: str | None = Field(None, description=_FILTER_DOC["committee"])
    doc_type: str | None = Field(None, description=_FILTER_DOC["doc_type"])
    speaker: str | None = Field(None, description=_FILTER_DOC["speaker"])
    date_from: str | None = Field(None, description=_FILTER_DOC["date_from"])
    date_to: str | None = Field(None, description=_FILTER_DOC["date_to"])


class Citation(BaseModel):
    document_id: str = Field(..., description="Id of the cited document (see GET /documents/{id}).")
    title: str | None = Field(None, description="Document title.")
    council: str | None = Field(None, description="Council that published the document.")
    committee: str | None = Field(None, description="Committee or meeting.")
    date: str | None = Field(None, description="Meeting or publication date, YYYY-MM-DD.")
    doc_type: str | None = Field(None, description="minutes, report, transcript, notes, agenda or other.")
    agenda_item: str | None = Field(None, description="Agenda item the passage falls under.")
    speaker: str | None = Field(None, description="Main speaker of the passage (transcripts).")
    timestamp: str | None = Field(None, description="Start time of the passage in the recording, h:mm:ss.")
    page: int | None = Field(None, description="Page number (PDF sources).")
    char_start: int = Field(..., description="Start offset of the passage in the document text.")
    char_end: int = Field(..., description="End offset (exclusive) of the passage in the document text.")
    url: str | None = Field(None, description="Source URL of the document, when known.")


class SearchResult(BaseModel):
    rank: int = Field(..., description="1-based rank.")
    score: float = Field(..., description="Fused RRF score (hybrid), BM25 score (bm25) or cosine (dense).")
    text: str = Field(..., description="The passage text, verbatim from the document.")
    citation: Citation = Field(..., description="Where the passage comes from.")


class SearchResponse(BaseModel):
    query: str = Field(..., description="The query as given.")
    mode: Mode = Field(..., description="Retrieval mode used.")
    k: int = Field(..., description="Number of results asked for.")
    filters_applied: dict[str, str] = Field(
        ..., description="Every filter in force: those given and those inferred from the query."
    )
    auto_filters: dict[str, str] = Field(..., description="The subset of filters_applied inferred from the query.")
    boosts: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Facet values named in the query that were used to boost rather than filter "
        "(ambiguous, or a filter would have left nothing).",
    )
    results: list[SearchResult] = Field(..., description="Ranked passages with citations.")
    took_ms: float = Field(..., description="Server time spent, in milliseconds.")


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(..., description="The question, in plain English.")
    k: int = Field(5, description="Number of passages the answer is drawn from (1..max_k).")
    council: str | None = Field(None, description=_FILTER_DOC["council"])
    committee: str | None = Field(None, description=_FILTER_DOC["committee"])
    doc_type: str | None = Field(None, description=_FILTER_DOC["doc_type"])
    speaker: str | None = Field(None, description=_FILTER_DOC["speaker"])
    date_from: str | None = Field(None, description=_FILTER_DOC["date_from"])
    date_to: str | None = Field(None, description=_FILTER_DOC["date_to"])
    auto_filters: bool = Field(True, description="Infer filters (council, speaker, dates, type) from the question.")
    mode: Mode = Field("hybrid", description="Retrieval mode for the passages.")


class Quote(BaseModel):
    text: str = Field(..., description="A sentence quoted in the answer, verbatim: document text[start:end].")
    start: int = Field(..., description="Start offset of the quote in the document text.")
    end: int = Field(..., description="End offset (exclusive) of the quote in the document text.")
    speaker: str | None = Field(None, description="Speaker of the turn holding the quote (transcripts).")
    timestamp: str | None = Field(None, description="Start time of that turn, h:mm:ss.")


class AnswerCitation(Citation):
    """One cited passage; every answer sentence taken from it carries its [n]."""

    n: int = Field(..., description="The marker number, [n] in the answer; numbered in order of first use.")
    quote: str = Field(..., description="The passage's best supporting sentence, verbatim: a substring of the "
                       "passage and of the document. `speaker` and `timestamp` are those of the turn holding it.")
    text: str = Field(..., description="The whole passage the quote comes from.")
    rank: int = Field(..., description="Rank of the passage in the retrieval.")
    score: float = Field(..., description="Retrieval score of the passage.")
    quote_start: int = Field(..., description="Start offset of the quote in the document text.")
    quote_end: int = Field(..., description="End offset (exclusive) of the quote in the document text.")
    quotes: list[Quote] = Field(default_factory=list,
                                description="Every sentence the answer quotes from this passage, in document order.")
    passage_speaker: str | None = Field(None, description="Speaker of the passage's first turn.")
    passage_timestamp: str | None = Field(None, description="Start time of the passage's first turn.")


class AskResponse(BaseModel):
    question: str = Field(..., description="The question as given.")
    answer: str = Field(..., description="The answer; each sentence is followed by the [n] marker of the "
                        "passage it quotes (consecutive sentences from one passage share one marker).")
    citations: list[AnswerCitation] = Field(..., description="One entry per cited passage, i.e. per [n].")
    mode: Literal["extractive", "llm"] = Field(..., description="Who wrote the answer.")
    found: bool = Field(..., description="False when the papers hold nothing that answers the question.")
    confidence: float = Field(
        ..., description="Evidence score: cosine of the best sentence to the question plus 0.5 x the share of "
        "the question's keywords found in the passages. Below the abstention threshold, found is false."
    )
    filters_applied: dict[str, str] = Field(..., description="Every filter in force.")
    auto_filters: dict[str, str] = Field(..., description="The subset of filters inferred from the question.")
    boosts: dict[str, list[str]] = Field(default_factory=dict, description="Facet values used as boosts.")
    llm_error: str | None = Field(None, description="Why the language model's answer was not used, if it was not.")
    took_ms: float = Field(..., description="Server time spent, in milliseconds.")


class FacetValue(BaseModel):
    value: str = Field(..., description="The facet value.")
    count: int = Field(..., description="Passages with this value.")
    documents: int | None = Field(None, description="Documents with this value.")


class FacetsResponse(BaseModel):
    councils: list[FacetValue] = Field(..., description="Councils in the index.")
    committees: list[FacetValue] = Field(..., description="Committees in the index.")
    doc_types: list[FacetValue] = Field(..., description="Document types in the index.")
    speakers: list[FacetValue] = Field(..., description="Speakers in transcripts.")
    date_min: str | None = Field(None, description="Earliest document date.")
    date_max: str | None = Field(None, description="Latest document date.")
    documents: int = Field(..., description="Number of documents.")
    passages: int = Field(..., description="Number of passages.")


class DocumentSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    document_id: str = Field(..., description="Document id.")
    title: str | None = Field(None, description="Title.")
    council: str | None = Field(None, description="Council.")
    committee: str | None = Field(None, description="Committee.")
    date: str | None = Field(None, description="Date, YYYY-MM-DD.")
    doc_type: str | None = Field(None, description="Document type.")
    source_url: str | None = Field(None, description="Source URL.")
    extra: dict[str, Any] = Field(default_factory=dict, description="Every other metadata key, as given.")
    n_passages: int = Field(0, description="Passages the document was cut into.")
    n_chars: int = Field(0, description="Length of the cleaned text.")


class DocumentsResponse(BaseModel):
    total: int = Field(..., description="Number of documents in the index.")
    limit: int = Field(..., description="Page size.")
    offset: int = Field(..., description="Offset of this page.")
    documents: list[DocumentSummary] = Field(..., description="This page of documents, ordered by id.")


class DocumentResponse(BaseModel):
    document_id: str = Field(..., description="Document id.")
    title: str | None = Field(None, description="Title.")
    council: str | None = Field(None, description="Council.")
    committee: str | None = Field(None, description="Committee.")
    date: str | None = Field(None, description="Date, YYYY-MM-DD.")
    doc_type: str | None = Field(None, description="Document type.")
    source_url: str | None = Field(None, description="Source URL.")
    extra: dict[str, Any] = Field(default_factory=dict, description="Every other metadata key, as given.")
    text: str = Field(..., description="Full cleaned text; citation offsets refer to it.")


class HealthResponse(BaseModel):
    status: Literal["ok"] = Field("ok", description="'ok' when the index and model are loaded.")
    index_dir: str = Field(..., description="The index being served.")
    model: str = Field(..., description="Embedding model id.")
    passages: int = Field(..., description="Passages in the index.")
    documents: int = Field(..., description="Documents in the index.")
    llm: bool = Field(..., description="Whether a language model is configured for answers.")


class StatsResponse(BaseModel):
    manifest: dict[str, Any] = Field(..., description="The index manifest (model, chunking, counts, versions).")
    passages: int = Field(..., description="Passages in the index.")
    documents: int = Field(..., description="Documents in the index.")
    councils: int = Field(..., description="Distinct councils.")
    speakers: int = Field(..., description="Distinct speakers.")
    dense: str = Field(..., description="Vector index kind.")
    embed_backend: str = Field(..., description="Embedding backend in use for queries.")
    query_cache: dict[str, int] = Field(..., description="Query-embedding LRU cache: hits, misses, size.")
    sentence_cache: dict[str, int] | None = Field(
        None, description="Sentence-vector LRU cache of /ask (bounded): hits, misses, size, max.")
    abstain_threshold: float = Field(..., description="Evidence score below which /ask says it found nothing.")


class ErrorBody(BaseModel):
    code: str = Field(..., description="Machine-readable code, e.g. invalid_request, unknown_filter_value.")
    message: str = Field(..., description="What went wrong, for a person.")
    details: dict[str, Any] = Field(default_factory=dict, description="Structured details (field, valid values).")


class ErrorResponse(BaseModel):
    error: ErrorBody = Field(..., description="The error.")
