"""Reading a build from Milvus: the same parts a local index folder gives the search core.

`MilvusIndex` holds what `CouncilIndex` holds (manifest, passage store, dense vectors, BM25, sentence
vectors), each answered by Milvus: nothing is read from a local folder. It reads the collections of
the build the alias named when it was loaded (by their own names, not through the alias), so one
engine is one build even while a new build switches the alias; `current_build_id` tells the service
when to load the next one.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.fields import FIELDS
from common.settings import Settings
from indexer.index import FORMAT_VERSION, BuildInfo, IndexLoadError
from indexer.milvus_expr import (
    ID_CHUNK,
    Hits,
    filters_expression,
    ids_in,
    literal,
    no_hits,
    search_within,
    strings_in,
    with_expression,
)
from indexer.milvus_store import (
    BM25_PARAMS,
    TEXT_PIECE,
    MilvusStoreError,
    Names,
    connect,
    count_rows,
    live_names,
    read_manifest,
)
from indexer.models import DocumentMeta, Passage
from indexer.sparse import tokenize

# Milvus's BM25 has Lucene's (k1 + 1) in the numerator, bm25s does not: dividing by it gives the local scores.
BM25_SCALE = 1.0 + BM25_PARAMS["bm25_k1"]
MAX_TOPK = 16_384  # Milvus's limit on a search's k
ITERATOR_BATCH = 8_192
PASSAGE_FIELDS = ("row", "pid", "doc_id", "text", "turns", "char_start", "char_end", "n_tokens", "speakers",
                  *(f.name for f in FIELDS))
DOC_HEAD_FIELDS = ("doc_id", "meta", "content_hash", "access", "n_passages", "n_chars")


def _query_all(client: Any, collection: str, expr: str, fields: Sequence[str]) -> list[dict[str, Any]]:
    """Every row matching `expr`, however many: a server caps one query's window, its iterator does not;
    milvus-lite answers one query whole (and has no timestamps for an iterator)."""
    if getattr(client, "councilqa_lite", False):
        return list(client.query(collection, filter=expr, output_fields=list(fields)))
    it = client.query_iterator(collection, filter=expr, output_fields=list(fields), batch_size=ITERATOR_BATCH)
    out: list[dict[str, Any]] = []
    try:
        while True:
            batch = it.next()
            if not batch:
                return out
            out.extend(batch)
    finally:
        it.close()


_NOTHING = "row < 0"  # an expression no row passes


def _expression_of(allowed: np.ndarray | None, size: int) -> str:
    """One expression selecting the allowed rows ('' for all): the filter's own, or their ids (a hybrid search
    cannot be split into pieces and merged as a plain one can)."""
    if allowed is None:
        return ""
    expr = getattr(allowed, "expr", None)
    if expr is not None:
        return str(expr) if len(allowed) else _NOTHING
    allowed = np.unique(np.asarray(allowed, dtype=np.int64))
    if len(allowed) == 0:
        return _NOTHING
    if len(allowed) >= size:
        return ""
    if size - len(allowed) < len(allowed):
        return f"not ({ids_in('row', np.setdiff1d(np.arange(size, dtype=np.int64), allowed))})"
    return ids_in("row", allowed)


def _hits(results: Any, nq: int, k: int, magnitude: float = 0.0) -> Hits:
    """Scores and rows of search results, best first and equal scores by row (as the local backends order
    them, and the same every time); `magnitude` (BM25) divides the scores' absolute values by it."""
    scores, rows = no_hits(nq, k)
    for i, found in enumerate(results):
        # milvus-lite reports BM25 scores negated; a server reports them as they are
        got = [(abs(float(h["distance"])) / magnitude if magnitude else float(h["distance"]),
                int(h["id"] if "id" in h else h["row"])) for h in list(found)[:k]]
        got.sort(key=lambda sr: (-round(sr[0], 5), sr[1]))  # as indexer.dense.ties_by_row
        for j, (score, row) in enumerate(got):
            scores[i, j], rows[i, j] = score, row
    return scores, rows


@dataclass
class MilvusVectors:
    """Dense search on the passages collection's `vector` field (inner product of normalised vectors)."""

    client: Any
    collection: str
    size: int
    dimension: int
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "milvus"

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Hits:
        """Scores and rows of the best `k` passages per query, shape (len(queries), k); missing hits are -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = max(1, min(k, self.size, MAX_TOPK)) if self.size else 1

        def run(expr: str | None, kk: int) -> Hits:
            got = self.client.search(self.collection, data=[q.tolist() for q in queries], anns_field="vector",
                                     limit=kk, filter=expr or "", output_fields=["row"],
                                     search_params={"metric_type": "IP", "params": self.params})
            return _hits(got, len(queries), kk)

        return search_within(run, len(queries), k, self.size, allowed)

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of these rows, in their order (dense feedback reads them)."""
        wanted = [int(r) for r in rows]
        got = {r["row"]: r["vector"] for r in self.client.query(self.collection, filter=ids_in("row", wanted),
                                                                output_fields=["row", "vector"], limit=len(wanted))}
        return np.asarray([got[r] for r in wanted], dtype=np.float32).reshape(len(wanted), self.dimension)

    def save(self, folder: Any) -> None:
        """The vectors live in Milvus; there is nothing to write into a folder."""
        raise MilvusStoreError("A Milvus build is published with `councilqa index`, not saved into a folder.")


@dataclass
class MilvusBM25:
    """Keyword search by Milvus's BM25 function on the passages' `bm25` terms (the local tokenizer's)."""

    client: Any
    collection: str
    size: int
    kind: str = "bm25"

    def search(self, queries: Sequence[str], k: int, allowed: np.ndarray | None = None) -> Hits:
        """Scores and rows, shape (len(queries), k); rows with no matching term are -1."""
        k = max(1, min(k, self.size, MAX_TOPK)) if self.size else 1
        out_scores, out_rows = no_hits(len(queries), k)
        for i, terms in enumerate(tokenize(list(queries))):
            if not terms:
                continue
            text = " ".join(terms)

            def run(expr: str | None, kk: int, text: str = text) -> Hits:
                got = self.client.search(self.collection, data=[text], anns_field="sparse", limit=kk,
                                         filter=expr or "", output_fields=["row"],
                                         search_params={"metric_type": "BM25"})
                return _hits(got, 1, kk, magnitude=BM25_SCALE)

            scores, rows = search_within(run, 1, k, self.size, allowed)
            out_scores[i], out_rows[i] = scores[0], rows[0]
        return out_scores, out_rows


@dataclass
class MilvusUnits:
    """The build's sentence vectors, read per passage row from the units collection."""

    client: Any
    collection: str
    count: int

    def __len__(self) -> int:
        return self.count

    def of_row(self, row: int) -> dict[tuple[int, int], np.ndarray]:
        """(start, end) in the passage's text -> float32 vector, for every stored unit of passage `row`."""
        got = self.client.query(self.collection, filter=f"row == {int(row)}", output_fields=["start", "end", "vector"])
        return {(int(r["start"]), int(r["end"])): np.asarray(r["vector"], dtype=np.float32) for r in got}


def _passage(r: dict[str, Any]) -> Passage:
    d = {f.name: r.get(f.name) for f in FIELDS}
    return Passage(r["pid"], r["doc_id"], r["text"], int(r["char_start"]), int(r["char_end"]),
                   speakers=list(r.get("speakers") or []), turns=json.loads(r.get("turns") or "[]"),
                   n_tokens=int(r.get("n_tokens") or 0), row=int(r["row"]), **d)


def _read(method: Callable[..., Any]) -> Callable[..., Any]:
    """Milvus errors inside a read become MilvusStoreError (the service's 503), saying what failed."""

    @functools.wraps(method)
    def run(self: MilvusPassages, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except MilvusStoreError:
            raise
        except Exception as exc:
            raise MilvusStoreError(f"Reading {self.names.passages} from Milvus failed: {exc}") from exc

    return run


class MilvusPassages:
    """The passage store's read interface (indexer/passages.py) over one build's Milvus collections."""

    def __init__(self, client: Any, names: Names, manifest: dict[str, Any], facets: dict[str, Any]) -> None:
        self.client, self.names, self.manifest, self._facets = client, names, manifest, facets
        self._heads: list[dict[str, Any]] | None = None
        self._by_id: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the Milvus connection (shared by every part of this build)."""
        self.client.close()

    def missing_columns(self) -> list[str]:
        """The collection was made from the field table of this version: nothing is missing."""
        return []

    def count(self) -> int:
        """Number of passages."""
        return int(self.manifest["passages"])

    @_read
    def get(self, rows: Sequence[int]) -> list[Passage]:
        """Passages for the given rows, in the given order."""
        wanted = [int(r) for r in rows]
        found: dict[int, Passage] = {}
        for start in range(0, len(wanted), ID_CHUNK):
            part = wanted[start:start + ID_CHUNK]
            for r in self.client.query(self.names.passages, filter=ids_in("row", part),
                                       output_fields=list(PASSAGE_FIELDS), limit=len(part)):
                found[int(r["row"])] = _passage(r)
        return [found[r] for r in wanted if r in found]

    @_read
    def rows_matching(self, filters: dict[str, Any]) -> np.ndarray | None:
        """Rows that pass the filters (a Milvus expression of their typed values), None when none is set."""
        expr = filters_expression(filters)
        if expr is None:
            return None
        return with_expression(self._rows(expr), expr)

    def _rows(self, expr: str) -> np.ndarray:
        rows = [int(r["row"]) for r in _query_all(self.client, self.names.passages, expr, ["row"])]
        return np.unique(np.asarray(rows, dtype=np.int64))

    @_read
    def restricted_rows(self) -> np.ndarray:
        """Rows of passages from restricted papers, ascending."""
        return self._rows(f"access == {literal('restricted')}")

    def facets(self, public_only: bool = False) -> dict[str, Any]:
        """The facets the build counted when it was published (see `PassageStore.facets`)."""
        return dict(self._facets["public" if public_only else "all"])

    @_read
    def _doc_heads(self) -> list[dict[str, Any]]:
        """Every document's first piece (metadata and counts, no text), by document id; read once."""
        with self._lock:
            if self._heads is None:
                heads = _query_all(self.client, self.names.docs, "piece == 0", DOC_HEAD_FIELDS)
                self._heads = sorted(heads, key=lambda h: h["doc_id"])
                self._by_id = {h["doc_id"]: h for h in self._heads}
            return self._heads

    def _visible(self, public_only: bool) -> list[dict[str, Any]]:
        return [h for h in self._doc_heads() if not (public_only and h.get("access") == "restricted")]

    def documents(self, limit: int = 50, offset: int = 0, public_only: bool = False
                  ) -> tuple[int, list[dict[str, Any]]]:
        """The number of documents and one page of them, by document id (as `PassageStore.documents`)."""
        heads = self._visible(public_only)
        page = [{**json.loads(h["meta"]), "n_passages": int(h["n_passages"]), "n_chars": int(h["n_chars"])}
                for h in heads[offset:offset + limit]]
        return len(heads), page

    def all_metadata(self, public_only: bool = False) -> list[DocumentMeta]:
        """Every document's metadata, by document id."""
        return [DocumentMeta.from_dict(json.loads(h["meta"])) for h in self._visible(public_only)]

    @_read
    def passages_of(self, doc_ids: Sequence[str]) -> list[Passage]:
        """Every passage of these documents, document by document in reading order."""
        out: list[Passage] = []
        for doc_id in doc_ids:
            got = _query_all(self.client, self.names.passages, f"doc_id == {literal(doc_id)}", PASSAGE_FIELDS)
            out.extend(_passage(r) for r in sorted(got, key=lambda r: r["row"]))
        return out

    def _head(self, doc_id: str) -> dict[str, Any] | None:
        self._doc_heads()
        return self._by_id.get(doc_id)

    @_read
    def _text(self, doc_id: str, pieces: Sequence[int] | None = None) -> str:
        expr = f"doc_id == {literal(doc_id)}" + (f" and {ids_in('piece', pieces)}" if pieces is not None else "")
        got = _query_all(self.client, self.names.docs, expr, ["piece", "text"])
        return "".join(r["text"] for r in sorted(got, key=lambda r: r["piece"]))

    def document(self, doc_id: str) -> tuple[DocumentMeta, str] | None:
        """The metadata and cleaned full text of one document, or None when there is no such document."""
        head = self._head(doc_id)
        if head is None:
            return None
        return DocumentMeta.from_dict(json.loads(head["meta"])), self._text(doc_id)

    def text_span(self, doc_id: str, start: int, end: int) -> str:
        """Characters start..end of a document's cleaned text ('' for an unknown document): only the pieces
        that hold them are read."""
        start, end = max(0, start), max(0, end)
        if end <= start or self._head(doc_id) is None:
            return ""
        first, last = start // TEXT_PIECE, (end - 1) // TEXT_PIECE
        text = self._text(doc_id, list(range(first, last + 1)))
        return text[start - first * TEXT_PIECE:end - first * TEXT_PIECE]

    @_read
    def decisions_of(self, doc_id: str) -> list[Passage]:
        """The decision passages of a document, in reading order."""
        expr = f"doc_id == {literal(doc_id)} and role == {literal('decision')}"
        got = _query_all(self.client, self.names.passages, expr, PASSAGE_FIELDS)
        return [_passage(r) for r in sorted(got, key=lambda r: r["row"])]

    @_read
    def rows_of(self, doc_ids: Sequence[str]) -> np.ndarray:
        """The rows of these documents' passages, ascending."""
        rows: list[int] = []
        for start in range(0, len(doc_ids), 500):
            expr = strings_in("doc_id", list(doc_ids[start:start + 500]))
            rows.extend(int(r["row"]) for r in _query_all(self.client, self.names.passages, expr, ["row"]))
        return np.unique(np.asarray(rows, dtype=np.int64))

    def document_hashes(self) -> dict[str, str]:
        """Document id -> content hash, for every stored document."""
        return {h["doc_id"]: h["content_hash"] or "" for h in self._doc_heads()}


@dataclass
class MilvusIndex(BuildInfo):
    """One published build, read from Milvus: the parts `CouncilIndex` gives the search core."""

    names: Names
    manifest: dict[str, Any]
    passages: MilvusPassages
    dense: MilvusVectors
    sparse: MilvusBM25
    sentences: MilvusUnits | None = None

    @property
    def location(self) -> str:
        """Where the build is served from, for /health and messages."""
        return f"milvus:{self.names.prefix} ({self.names.passages})"

    def hybrid_search(self, bm25_text: str, query: np.ndarray, n: int, allowed: np.ndarray | None, method: str,
                      fusion: Any) -> list[tuple[int, float]]:
        """Rows and scores of Milvus's own `hybrid_search`: the BM25 and dense requests fused by its RRF ranker
        (`fusion.rrf_k`) or its weighted ranker (`fusion.dense_weight`); `allowed` as `search` takes it."""
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

        expr = _expression_of(allowed, self.dense.size)
        if expr == _NOTHING:
            return []
        terms = " ".join(tokenize([bm25_text])[0])
        limit = max(1, min(n, self.dense.size, MAX_TOPK))
        requests, weights = [], []
        if terms:
            requests.append(AnnSearchRequest(data=[terms], anns_field="sparse", param={"metric_type": "BM25"},
                                             limit=limit, expr=expr or None))
            weights.append(1.0 - fusion.dense_weight)
        requests.append(AnnSearchRequest(data=[np.asarray(query, np.float32).tolist()], anns_field="vector",
                                         param={"metric_type": "IP", "params": self.dense.params}, limit=limit,
                                         expr=expr or None))
        weights.append(fusion.dense_weight)
        ranker = RRFRanker(fusion.rrf_k) if method == "rrf" else WeightedRanker(*weights)
        got = self.passages.client.hybrid_search(self.names.passages, requests, ranker, limit=limit,
                                                 output_fields=["row"])
        scores, rows = _hits(got, 1, limit)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def current_build_id(self) -> str | None:
        """The build the alias points at now (None if Milvus cannot say): a service reloads when it differs."""
        live = live_names(self.passages.client, self.names.prefix)
        return live.build if live else None


def _fix(settings: Settings) -> str:
    return f"COUNCILQA_STORE=milvus COUNCILQA_MILVUS_URI={settings.resolved_milvus_uri} councilqa index corpus/"


def load_milvus_index(settings: Settings, expected_model_id: str | None = None) -> MilvusIndex:
    """The build the alias `COUNCILQA_MILVUS_PREFIX` points at; IndexLoadError says what to run when there is none,
    or when it was made with another model or format."""
    try:
        client = connect(settings)
    except MilvusStoreError as exc:
        raise IndexLoadError(str(exc)) from exc
    try:
        return _load(client, settings, expected_model_id)
    except BaseException:
        client.close()
        raise


def _load(client: Any, settings: Settings, expected_model_id: str | None) -> MilvusIndex:
    prefix, uri = settings.milvus_prefix, settings.resolved_milvus_uri
    names = live_names(client, prefix)
    manifest = read_manifest(client, prefix, names.build) if names else None
    if names is None or manifest is None:
        raise IndexLoadError(f"Milvus at {uri} holds no published build under the alias {prefix!r}. Build one "
                             f"with: {_fix(settings)}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(f"The build {names.build} in Milvus has format {manifest.get('format_version')!r}, this "
                             f"version reads {FORMAT_VERSION}. Rebuild it with: {_fix(settings)} --force")
    model = manifest["model"]["id"]
    if expected_model_id is not None and expected_model_id != model:
        raise IndexLoadError(f"The build in Milvus was made with model {model!r} but the configured model is "
                             f"{expected_model_id!r}. Set COUNCILQA_MODEL to {model!r}, or rebuild with: "
                             f"{_fix(settings)} --model {expected_model_id}")
    for name in names.all:
        client.load_collection(name)
    n = int(manifest["passages"])
    held = count_rows(client, names.passages)
    if held != n:
        raise IndexLoadError(f"The build {names.build} in Milvus holds {held:,} passages, its manifest {n:,}. "
                             f"Rebuild it with: {_fix(settings)} --force")
    dimension = int(manifest["model"]["dimension"])
    search = dict((manifest.get("dense") or {}).get("milvus_search") or {})
    sentences = manifest.get("sentences")
    # The facets count restricted papers too: they stay out of the manifest that /stats shows.
    facets = manifest.pop("facets")
    return MilvusIndex(names, manifest, MilvusPassages(client, names, manifest, facets),
                       MilvusVectors(client, names.passages, n, dimension, search),
                       MilvusBM25(client, names.passages, n),
                       MilvusUnits(client, names.units, int(sentences["count"])) if sentences else None)
