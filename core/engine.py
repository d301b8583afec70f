"""The search core behind every shell: typed query in, typed results out.

`Engine` validates a `Query`, plans it (filters given and read from the text, boosts), retrieves
(BM25 and dense, fused), and returns `SearchResults` or a cited `Answer`; it also lists and reads
documents. It knows nothing of HTTP or terminals; its one error type is `CoreError`.

Who asks: every method that reads passages or papers takes `restricted` (default False). Without it,
restricted papers (`access` = restricted) do not exist for the call: they are masked out of retrieval,
facets, query understanding, documents, meetings and timelines, exactly as if the index had been built
without them. The service sets it from the caller's key.

One engine is one build: the index parts it loaded (vectors, BM25, the passage store's open
connection) are never reopened from the folder, so a rebuild swapping the folder cannot mix builds
inside a request; a service picks up a new build by loading a new engine (service/holder.py).

Thread safety: the engine is shared by the server's worker threads. FAISS and bm25s searches are
read-only; the passage store's connection is shared under a lock; the query encoder runs under a
lock (tokenizers are not re-entrant) behind an LRU cache; the caches are bounded LRUs.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from common.fields import Mode
from common.settings import Settings
from core import answer as ans
from core import compose
from core.answer import ANSWER_K, asks_decision
from core.batching import QueryBatcher
from core.caches import UNIT_CACHE_SIZE, VectorLRU
from core.errors import CoreError
from core.llm import LlmAnswer, LlmError, llm_answer, stream_llm_answer
from core.meetings import Item, Meeting, TimelinePoint, group_meetings, meeting_items, topic_timeline
from core.parts import three_parts
from core.plan import Plan, make_plan
from core.query import Understanding, Vocabulary
from core.results import Answer, DocumentPage, DocumentText, Health, Hit, Query, SearchResults
from core.retrieval import Fusion, apply_boosts, candidate_count, ranked_rows
from core.scope import scope_note
from core.validate import check_filters, check_k, check_mode, check_paging, check_text
from indexer.embed import Embedder, load_embedder, load_query_embedder, model_id_for
from indexer.index import CouncilIndex, IndexLoadError
from indexer.milvus_read import MilvusIndex, MilvusPassages
from indexer.models import Passage
from indexer.passages import PassageStore
from indexer.sentence_vectors import SentenceSearch, SentenceVectors

TIMELINE_K = 50  # hits a timeline looks through
log = logging.getLogger("councilqa.llm")

__all__ = ["CoreError", "Engine", "IndexLoadError", "Query"]

UNIT_BATCH = 8  # sentences per encoder call, shortest first: small batches waste little on padding


class Engine:
    """Hybrid search and cited answers over one loaded index."""

    def __init__(self, index: CouncilIndex | MilvusIndex, embedder: Embedder, settings: Settings,
                 answer_config: ans.AnswerConfig | None = None, query_embedder: Embedder | None = None) -> None:
        self.index = index
        self.embedder = embedder
        # Queries and answer-time sentences; the passage embedder unless a faster faithful one is given.
        self.query_embedder = query_embedder or embedder
        self.settings = settings
        self.answer_config = answer_config or ans.AnswerConfig(abstain_below=settings.answer_min_evidence)
        self.strip_filter_words = True  # drop words that became filters from the BM25 query
        self.fusion = Fusion(settings.fusion, settings.fusion_dense_weight, settings.rrf_k)
        self.year_filters = settings.year_filters  # "in 2008" filters by meeting date, or only boosts
        self.milvus_fusion = settings.milvus_fusion  # hybrid on the Milvus store: the project's fusion or Milvus's
        self._sentence_search: SentenceSearch | None = None
        self.sentence_search = settings.sentence_search
        # (passages, weight) of dense feedback from BM25's top passages in hybrid search; () for none
        self.feedback: tuple[int, float] | tuple[()] = ((settings.feedback_passages, settings.feedback_weight)
                                                        if settings.feedback_passages else ())
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bm25")
        self._encode_lock = threading.Lock()
        self._views = _views(index.passages)
        self._facets = self._views[False].facets
        self.vocabulary = self._views[False].vocabulary
        # Concurrent requests' queries are encoded together (core/batching.py); then cached.
        self._batcher = QueryBatcher(self._encode_queries_locked, settings.query_batch)
        self._encode_query = lru_cache(maxsize=1024)(self._encode_query_uncached)
        self._unit_vectors = VectorLRU(UNIT_CACHE_SIZE)
        self._allowed = lru_cache(maxsize=256)(self._allowed_uncached)
        self._meetings_cache: dict[bool, dict[str, Meeting]] = {}
        self._check_dimension()

    @property
    def sentence_search(self) -> bool:
        """Whether dense search scores passages by their best sentence too (see `_with_sentences`)."""
        return self._sentence_search is not None

    @sentence_search.setter
    def sentence_search(self, on: bool) -> None:
        # Needs the build's sentence vectors and a vector index that hands back stored vectors (FAISS).
        units = self.index.sentences if on and self.can_search_sentences else None
        self._sentence_search = SentenceSearch(units) if isinstance(units, SentenceVectors) else None

    @property
    def can_search_sentences(self) -> bool:
        """Whether this index supports sentence search (it stored sentence vectors, in a local folder)."""
        return isinstance(self.index.sentences, SentenceVectors) and self._keeps_vectors

    @property
    def _keeps_vectors(self) -> bool:
        """Whether the vector index hands back its stored vectors (FAISS does; Milvus here does not)."""
        return hasattr(self.index.dense, "vectors")

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder | None = None) -> Engine:
        """Load the index, then the model; IndexLoadError names the `councilqa index` command to run."""
        expected = embedder.model_id if embedder is not None else model_id_for(settings.model)
        index = load_index(settings, expected)
        passages = embedder or load_embedder(settings)
        queries = load_query_embedder(settings, passages) if embedder is None else None
        return cls(index, passages, settings, query_embedder=queries)

    def close(self) -> None:
        """Release the worker pool and the passage store; the engine answers nothing after this."""
        self._pool.shutdown(wait=False)
        self.index.passages.close()

    def clear_query_cache(self) -> None:
        """Forget cached query vectors, so the next calls pay for encoding (as a new user's would)."""
        self._encode_query.cache_clear()

    def _check_dimension(self) -> None:
        want = int(self.index.manifest["model"].get("dimension") or self.embedder.dimension)
        if self.index.passages.count() and want != self.embedder.dimension:
            raise IndexLoadError(
                f"The index at {self.index.location} holds {want}-dimensional vectors but the model gives "
                f"{self.embedder.dimension}. Rebuild it with: councilqa index corpus/ --force"
                + (f" --index-dir {self.index.folder}" if isinstance(self.index, CouncilIndex) else " --store milvus")
            )

    # -- shared resources ------------------------------------------------------------------------
    def _store(self) -> PassageStore | MilvusPassages:
        # The store opened with the rest of this build: a thread must never open the folder anew, which
        # after a rebuild would be the next build's file.
        return self.index.passages

    def _encode_queries_locked(self, texts: Sequence[str]) -> np.ndarray:
        with self._encode_lock:
            return np.asarray(self.query_embedder.encode_queries(list(texts)), dtype=np.float32)

    def _encode_query_uncached(self, text: str) -> np.ndarray:
        return self._batcher.encode(text)

    def encode_query(self, text: str) -> np.ndarray:
        """The query's vector (cached)."""
        return self._encode_query(text)

    def encode_units(self, texts: list[str]) -> np.ndarray:
        """Sentence vectors, cached by text (bounded LRU). The uncached ones are encoded shortest first in
        small batches, so that short sentences are not padded to the length of the longest one."""
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        distinct = list(dict.fromkeys(texts))
        known = self._unit_vectors.get_many(distinct)
        missing = sorted((t for t in distinct if t not in known), key=len)
        if missing:
            fresh: dict[str, np.ndarray] = {}
            with self._encode_lock:
                for i in range(0, len(missing), UNIT_BATCH):
                    batch = missing[i:i + UNIT_BATCH]
                    vecs = np.asarray(self.query_embedder.encode_passages(batch), dtype=np.float32)
                    fresh.update(zip(batch, vecs, strict=True))
            self._unit_vectors.put_many(fresh)
            known.update(fresh)
        return np.vstack([known[t] for t in texts])

    def fetch(self, rows: Sequence[int]) -> dict[int, Passage]:
        """Passages by row number; rows the store does not hold are left out."""
        ps = self._store().get(list(rows))
        return dict(zip(rows, ps, strict=True)) if len(ps) == len(rows) else self._fetch_slow(rows)

    def _fetch_slow(self, rows: Sequence[int]) -> dict[int, Passage]:
        out = {}
        for r in rows:
            got = self._store().get([r])
            if got:
                out[r] = got[0]
        return out

    # -- planning --------------------------------------------------------------------------------
    def _allowed_uncached(self, items: tuple[tuple[str, str], ...]) -> np.ndarray | None:
        filters = dict(items)
        speaker = filters.pop("speaker", None)
        base = self._store().rows_matching(filters)
        if speaker is None:
            return base
        variants = self._views[True].vocabulary.speaker_variants(speaker)
        parts = [self._store().rows_matching({"speaker": v}) for v in variants]
        rows = np.unique(np.concatenate([p for p in parts if p is not None] or [np.zeros(0, np.int64)]))
        return rows if base is None else np.intersect1d(base, rows, assume_unique=True)

    def allowed_rows(self, filters: dict[str, str], restricted: bool = False) -> np.ndarray | None:
        """Rows passing canonical filters that the caller may read (None: everything passes); cached."""
        rows = self._allowed(tuple(sorted(filters.items())))
        visible = self._views[restricted].visible
        if visible is None:
            return rows
        return visible if rows is None else np.intersect1d(rows, visible, assume_unique=True)

    def resolve_filters(self, filters: Mapping[str, Any] | None, restricted: bool = False) -> dict[str, str]:
        """Hand-set filters to canonical facet values; unknown names or values raise CoreError."""
        return check_filters(filters, self._views[restricted].vocabulary)

    def plan(self, query: str, filters: dict[str, str], auto_filters: bool, restricted: bool = False) -> Plan:
        """Filters in force (given, and read from the query where they keep some passage) and boosts."""
        vocabulary = self._views[restricted].vocabulary
        understanding = vocabulary.understand(query) if auto_filters else Understanding()
        if not self.year_filters:
            understanding = understanding.years_as_boosts()
        return make_plan(query, filters, understanding, functools.partial(self.allowed_rows, restricted=restricted),
                         self.strip_filter_words, restricted)

    # -- retrieval -------------------------------------------------------------------------------
    def retrieve(self, plan: Plan, k: int, mode: Mode) -> list[tuple[Passage, float]]:
        """The top `k` passages with their scores; each passage is read from the store once."""
        n = min(candidate_count(k), max(1, self.index.passages.count()))
        native = self._milvus_hybrid(plan, n) if mode == "hybrid" else None
        fused, weight = native if native is not None else self._fused(plan, n, mode)
        if plan.boosts and fused:
            by_row = self.fetch([r for r, _ in fused])
            top = apply_boosts(fused, plan.boosts, by_row, weight)[:k]
        else:
            top = fused[:k]
            by_row = self.fetch([r for r, _ in top])
        return [(by_row[r], s) for r, s in top if r in by_row]

    def _fused(self, plan: Plan, n: int, mode: Mode) -> tuple[list[tuple[int, float]], float]:
        """The `n` best rows of the mode (hybrid: BM25 and dense fused by the project's fusion) with their
        scores, and what a boost adds in those scores' units."""
        lists = []
        # BM25 (numpy) runs on the second core while this thread encodes the query and searches vectors.
        sparse = self._pool.submit(self.index.sparse.search, [plan.bm25_text], n, plan.allowed) \
            if mode in ("bm25", "hybrid") else None
        dense = None
        if mode in ("dense", "hybrid"):
            qv = self._encode_query(plan.dense_text)
            dense = self.index.dense.search(qv[None, :], n, plan.allowed)
            if self._sentence_search is not None:
                dense = self._with_sentences(qv, dense, n, plan.allowed)
            if mode == "hybrid" and sparse is not None and self.feedback and self._keeps_vectors:
                dense = self._dense_with_feedback(qv, sparse.result(), n, plan.allowed) or dense
        for result in (sparse.result() if sparse else None, dense):
            if result is not None:
                lists.append(ranked_rows(result[0][0], result[1][0]))
        if mode == "hybrid":
            fused = self.fusion.fuse(lists[0], lists[1])
            weight = self.fusion.boost_weight
        else:
            fused = lists[0]
            weight = (0.05 if mode == "dense" else 0.1 * (fused[0][1] if fused else 0.0))
        return fused, weight

    def _milvus_hybrid(self, plan: Plan, n: int) -> tuple[list[tuple[int, float]], float] | None:
        """Milvus's own `hybrid_search` (COUNCILQA_MILVUS_FUSION rrf or weighted) in place of the project's
        fusion; None for the project's fusion, or a local index."""
        method = self.milvus_fusion
        if method == "project" or not isinstance(self.index, MilvusIndex):
            return None
        qv = self._encode_query(plan.dense_text)
        fused = self.index.hybrid_search(plan.bm25_text, qv, n, plan.allowed, method, self.fusion)
        rrf = Fusion("rrf", self.fusion.dense_weight, self.fusion.rrf_k)
        return fused, (rrf.boost_weight if method == "rrf" else self.fusion.boost_weight)

    def _with_sentences(self, qv: np.ndarray, dense: tuple[np.ndarray, np.ndarray], n: int,
                        allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The dense list re-scored as max(passage cosine, best sentence cosine), over the passages either
        way finds first."""
        best = self._sentence_search.best(qv)  # type: ignore[union-attr]
        if allowed is not None:
            masked = np.full_like(best, -2.0)
            masked[allowed] = best[allowed]
            best = masked
        top = np.argpartition(-best, min(n, len(best)) - 1)[:n] if len(best) > n else np.arange(len(best))
        top = top[best[top] > -1.0]
        rows = np.unique(np.concatenate([dense[1][0][dense[1][0] >= 0], top]))
        passage = self._stored_vectors(rows) @ qv
        score = np.maximum(passage, best[rows])
        order = np.argsort(-score, kind="stable")[:n]
        return score[order][None, :].astype(np.float32), rows[order][None, :].astype(np.int64)

    def _stored_vectors(self, rows: np.ndarray) -> np.ndarray:
        """The dense index's own vectors of these rows (FAISS keeps them; see `can_search_sentences`)."""
        return np.asarray(self.index.dense.vectors(rows))  # type: ignore[union-attr]

    def _dense_with_feedback(self, qv: np.ndarray, sparse: tuple[np.ndarray, np.ndarray], n: int,
                             allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
        """The dense search again, its query moved towards BM25's best passages (Rocchio feedback).

        The passages a question's words find first say what its paraphrases are about in this index's
        own language; their vectors' mean, added to the query's, lets the embedder find passages that
        share neither the question's words nor its exact meaning. None when BM25 found nothing.
        """
        if not self.feedback:
            return None
        rows = [int(r) for r in sparse[1][0][: self.feedback[0]] if r >= 0]
        if not rows:
            return None
        centroid = self._stored_vectors(np.asarray(rows)).mean(axis=0)
        moved = qv + self.feedback[1] * centroid
        moved = (moved / (np.linalg.norm(moved) or 1.0)).astype(np.float32)
        return self.index.dense.search(moved[None, :], n, allowed)

    def _prepare(self, query: Query | str, what: str, restricted: bool = False, **kwargs: Any) -> tuple[Query, Plan]:
        q = query if isinstance(query, Query) else Query(query, **kwargs)
        text, k, mode = check_text(q.text, self.settings.max_query_chars, what), check_k(q.k, self.settings.max_k), \
            check_mode(q.mode)
        plan = self.plan(text, self.resolve_filters(q.filters, restricted), q.auto_filters, restricted)
        return Query(text, k, mode, q.filters, q.auto_filters), plan

    def search(self, query: Query | str, *, restricted: bool = False, **kwargs: Any) -> SearchResults:
        """Ranked passages with citations. Give a `Query`, or its text and `Query`'s fields as keywords;
        `restricted` lets restricted papers in."""
        started = time.perf_counter()
        q, plan = self._prepare(query, "query", restricted, **kwargs)
        hits = [Hit(i, s, p) for i, (p, s) in enumerate(self.retrieve(plan, q.k, q.mode), start=1)]
        return SearchResults(q.text, q.mode, q.k, plan.applied, hits, _ms(started))

    # -- answers ---------------------------------------------------------------------------------
    def ask(self, question: Query | str, *, restricted: bool = False, **kwargs: Any) -> Answer:
        """A cited answer to the question, from its top `k` passages (default 5); `restricted` as `search`."""
        started = time.perf_counter()
        q, plan, ranked = self._question(question, kwargs, restricted)
        return replace(self._answer(q.text, plan, ranked), took_ms=_ms(started))

    def _question(self, question: Query | str, kwargs: dict[str, Any], restricted: bool = False
                  ) -> tuple[Query, Plan, compose.Ranked]:
        """A question checked and planned, and its top passages (default `ANSWER_K`) with rank and score."""
        q, plan = self._prepare(question, "question", restricted, **{"k": ANSWER_K, **kwargs})
        return q, plan, [(p, i, s) for i, (p, s) in enumerate(self.retrieve(plan, q.k, q.mode), start=1)]

    def ask_stream(self, question: Query | str, *, restricted: bool = False, **kwargs: Any) -> Iterator[str | Answer]:
        """As `ask`, for a stream: the language model's text as it is written (str pieces, only when a
        model is configured and the papers answer the question), then the checked `Answer` last."""
        started = time.perf_counter()
        q, plan, ranked = self._question(question, kwargs, restricted)
        base, ranked = self._extractive(q.text, plan, ranked)
        final = base
        if base.found and self.settings.llm_base_url:
            try:
                for piece in stream_llm_answer(self.settings, q.text, [p for p, _, _ in ranked]):
                    if isinstance(piece, LlmAnswer):
                        final = self._written(base, piece, ranked)
                    else:
                        yield piece
            except LlmError as exc:
                final = _fallback(base, exc)
        yield replace(final, took_ms=_ms(started))

    def extraction(self, question: str, plan: Plan, passages: list[Passage],
                   config: ans.AnswerConfig | None = None, scores: Sequence[float] | None = None,
                   vectors_of: Sequence[Passage] | None = None, terms: set[str] | None = None) -> ans.Extraction:
        """The sentences chosen from `passages` for the question, and the evidence score. The build's
        sentence vectors are looked up by sentence text in `vectors_of` (default: `passages`); `terms`
        are the keywords whose coverage counts (default: the question's)."""
        terms = self._terms(question, plan) if terms is None else terms
        if not passages:
            return ans.Extraction()
        stored = self._stored_units(vectors_of or passages)

        def encode(texts: list[str]) -> np.ndarray:
            missing = [t for t in texts if t not in stored]
            fresh = dict(zip(missing, self.encode_units(missing), strict=True)) if missing else {}
            return np.vstack([stored[t] if t in stored else fresh[t] for t in texts])

        return ans.extract(self._encode_query(question), terms, passages, encode, config or self.answer_config,
                           question, scores)

    @staticmethod
    def _terms(question: str, plan: Plan) -> set[str]:
        """The question's keywords, less the council, speaker and date it names (filters, not topic)."""
        named = [question[s:e] for s, e in plan.understanding.spans_for(("council", "speaker", "date"))]
        return ans.keywords(question, named)

    def _stored_units(self, passages: Sequence[Passage]) -> dict[str, np.ndarray]:
        """The build's sentence vectors of these passages, by sentence text (empty when it stored none)."""
        sentences = self.index.sentences
        out: dict[str, np.ndarray] = {}
        if sentences is None:
            return out
        for p in passages:
            if p.row is not None:
                out.update((p.text[s:e], v) for (s, e), v in sentences.of_row(p.row).items())
        return out

    def _whole_sentences(self, p: Passage) -> Passage:
        """The passage, or, where a chunk boundary cut its first or last sentence, a copy that runs from
        that sentence's start to its end in the document (so it can be quoted whole; offsets stay exact)."""
        lead = tail = ""
        reach, store = ans.MAX_LEAD_IN, self._store()
        if ans.starts_mid_sentence(p.text):
            lead = ans.lead_in(store.text_span(p.doc_id, max(0, p.char_start - reach), p.char_start))
        if ans.ends_mid_sentence(p.text):
            tail = ans.run_on(store.text_span(p.doc_id, p.char_end, p.char_end + reach))
        if not tail and ans.leads_in(p.text):  # read on only where a lead-in needs it: a store read each
            tail = ans.list_after(p.text, store.text_span(p.doc_id, p.char_end, p.char_end + ans.LIST_REACH))
        if not lead and not tail:
            return p
        return Passage(**{**p.to_dict(), "text": lead + p.text + tail, "char_start": p.char_start - len(lead),
                          "char_end": p.char_end + len(tail)})

    def _extractive(self, question: str, plan: Plan, ranked: compose.Ranked) -> tuple[Answer, compose.Ranked]:
        """The extractive answer (or the abstention) and the passages as quoted (whole first and last sentences)."""
        facets = self._views[plan.restricted].facets
        note = scope_note(question, plan.understanding, facets, " ".join(p.text for p, _, _ in ranked))
        if note:
            return Answer(question, f"{ans.NOT_FOUND} {note}", [], "extractive", False, 0.0, plan.applied), ranked
        found = [p for p, _, _ in ranked]
        ranked = [(self._whole_sentences(p), r, s) for p, r, s in ranked]
        ex = self.extraction(question, plan, [p for p, _, _ in ranked], scores=[s for _, _, s in ranked],
                             vectors_of=found)
        if not ex.found:
            return Answer(question, ans.NOT_FOUND, [], "extractive", False, ex.evidence, plan.applied), ranked
        if asks_decision(question):
            text, citations, parts = three_parts(ex, ranked, self._terms(question, plan),
                                                 self._decisions_after(ex, ranked))
            return Answer(question, text, citations, "extractive", True, ex.evidence, plan.applied,
                          parts=parts), ranked
        text, citations = compose.extractive(ex, ranked)
        return Answer(question, text, citations, "extractive", True, ex.evidence, plan.applied), ranked

    def _decisions_after(self, ex: ans.Extraction, ranked: compose.Ranked) -> dict[str, list[Passage]]:
        """The decision passages of each paper without agenda items that holds a chosen quote and a retrieved
        decision passage: what `core.parts.closing_lines` needs. The store is read only then."""
        quoted = {ranked[ch.unit.passage_index][0].doc_id for ch in ex.chosen
                  if not ranked[ch.unit.passage_index][0].agenda_item}
        docs = {p.doc_id for p, _, _ in ranked if p.role == "decision" and not p.agenda_item and p.doc_id in quoted}
        return {d: self._store().decisions_of(d) for d in sorted(docs)}

    def _answer(self, question: str, plan: Plan, ranked: compose.Ranked) -> Answer:
        base, ranked = self._extractive(question, plan, ranked)
        if not base.found or not self.settings.llm_base_url:
            return base  # the model is never asked about papers that do not answer the question
        try:
            return self._written(base, llm_answer(self.settings, question, [p for p, _, _ in ranked]), ranked)
        except LlmError as exc:
            return _fallback(base, exc)

    @staticmethod
    def _written(base: Answer, got: LlmAnswer, ranked: compose.Ranked) -> Answer:
        """The model's checked answer in place of the extractive one (same passages, evidence and filters)."""
        if got.dropped:
            log.info("language model answer: %d sentence(s) dropped (no valid citation, or not supported by "
                     "the passage cited)", len(got.dropped))
        return replace(base, text=got.answer, citations=compose.from_llm(got, ranked), mode="llm", parts=None)

    # -- documents and meta ----------------------------------------------------------------------
    def facets(self, restricted: bool = False) -> dict[str, Any]:
        """Filter values with their counts (see `PassageStore.facets`), of the papers the caller may read."""
        return self._views[restricted].facets

    def documents(self, limit: int = 50, offset: int = 0, restricted: bool = False) -> DocumentPage:
        """One page of the indexed documents the caller may read, ordered by id."""
        limit, offset = check_paging(limit, offset)
        total, docs = self._store().documents(limit, offset, public_only=not restricted)
        return DocumentPage(total, limit, offset, docs)

    def document(self, doc_id: str, restricted: bool = False) -> DocumentText:
        """One document's metadata and full text; CoreError(not_found) for an unknown id, and the very same
        for a restricted paper the caller may not read."""
        got = self._store().document(doc_id)
        if got is not None and got[0].access == "restricted" and not restricted:
            got = None
        if got is None:
            raise CoreError("document_not_found", f"No document {doc_id!r} in the index.", "not_found",
                            {"document_id": doc_id})
        return DocumentText(*got)

    # -- meetings and timelines ------------------------------------------------------------------
    def _meetings(self, restricted: bool) -> dict[str, Meeting]:
        """The meetings grouped from the papers the caller may read (a meeting of restricted papers only
        does not exist for a public caller)."""
        if restricted not in self._meetings_cache:
            self._meetings_cache[restricted] = group_meetings(self._store().all_metadata(public_only=not restricted))
        return self._meetings_cache[restricted]

    def meetings(self, filters: Mapping[str, Any] | None = None, limit: int = 50, offset: int = 0,
                 restricted: bool = False) -> tuple[int, list[Meeting]]:
        """Meetings, newest first, filtered by council, committee and date range (`date_from`, `date_to`)
        as search filters are: the number that match and one page of them."""
        limit, offset = check_paging(limit, offset)
        f = self.resolve_filters({k: v for k, v in (filters or {}).items()
                                  if k in ("council", "committee", "date_from", "date_to")}, restricted)
        found = [m for m in self._meetings(restricted).values()
                 if (not f.get("council") or m.council == f["council"])
                 and (not f.get("committee") or m.committee == f["committee"])
                 and (not f.get("date_from") or m.date >= f["date_from"])
                 and (not f.get("date_to") or m.date <= f["date_to"])]
        return len(found), found[offset:offset + limit]

    def meeting(self, meeting_id: str, restricted: bool = False) -> tuple[Meeting, list[Item]]:
        """One meeting and its agenda items, with their decisions, recommendations and discussion."""
        m = self._meetings(restricted).get(meeting_id)
        if m is None:
            raise CoreError("meeting_not_found", f"No meeting {meeting_id!r} in the index; GET /meetings lists "
                            "them.", "not_found", {"meeting_id": meeting_id})
        return m, meeting_items(self._store().passages_of([p.document_id for p in m.papers]))

    def timeline(self, query: Query | str, *, restricted: bool = False, **kwargs: Any) -> list[TimelinePoint]:
        """Per meeting in date order, the passages about the topic among its top `k` hits (default 50)
        that would each let the service answer (evidence at or above the abstention threshold)."""
        q, plan = self._prepare(query, "query", restricted, **{"k": TIMELINE_K, **kwargs})
        # "decide" in "what did X decide about the precept" frames the question; the topic is the rest, and
        # a meeting that discussed the precept without deciding belongs on its timeline too.
        topic = self._terms(q.text, plan) - {ans.DECISION_TERM}
        threshold = self.answer_config.abstain_below
        score_only = replace(self.answer_config, abstain_below=float("inf"))  # the evidence, no quotes picked
        relevant = [p for p, _ in self.retrieve(plan, q.k, q.mode)
                    if self.extraction(q.text, plan, [p], score_only, terms=topic).evidence >= threshold]
        return topic_timeline(self._meetings(restricted), relevant)

    def new_matches(self, query: Query, doc_ids: Sequence[str], *, restricted: bool = False, k: int = 20
                    ) -> list[Passage]:
        """The passages of these documents (those a build added or changed) that answer a saved search: among
        its top `k` within them, those whose evidence reaches the abstention threshold, as a timeline counts."""
        q, plan = self._prepare(query, "query", restricted, **({"k": k} if not isinstance(query, Query) else {}))
        rows = self._store().rows_of(list(doc_ids))
        allowed = rows if plan.allowed is None else np.intersect1d(plan.allowed, rows, assume_unique=True)
        if not len(allowed):
            return []
        plan = replace(plan, allowed=allowed)
        topic = self._terms(q.text, plan)
        threshold = self.answer_config.abstain_below
        score_only = replace(self.answer_config, abstain_below=float("inf"))
        return [p for p, _ in self.retrieve(plan, min(q.k, k), q.mode)
                if self.extraction(q.text, plan, [p], score_only, terms=topic).evidence >= threshold]

    def document_hashes(self) -> dict[str, str]:
        """Document id -> content hash of every document of this build (what alerts compare builds by)."""
        return self._store().document_hashes()

    def health(self, restricted: bool = False) -> Health:
        """What is being served (the counts of the papers the caller may read)."""
        facets = self._views[restricted].facets
        return Health(self.index.location, self.index.model_id, int(facets["passages"]),
                      int(facets["documents"]), bool(self.settings.llm_base_url), self.index.build_id)

    def stats(self, restricted: bool = False) -> dict[str, Any]:
        """The manifest, counts and cache figures."""
        info = self._encode_query.cache_info()
        facets = self._views[restricted].facets
        return {"manifest": self.index.manifest, "passages": int(facets["passages"]),
                "documents": int(facets["documents"]), "councils": len(facets["councils"]),
                "speakers": len(facets["speakers"]), "dense": getattr(self.index.dense, "kind", "?"),
                "embed_backend": getattr(self.embedder, "backend", "?"),
                "query_backend": getattr(self.query_embedder, "backend", "?"),
                "query_cache": {"hits": info.hits, "misses": info.misses, "size": info.currsize,
                                "batches": self._batcher.batches, "batched_queries": self._batcher.encoded},
                "sentence_cache": {"hits": self._unit_vectors.hits, "misses": self._unit_vectors.misses,
                                   "size": len(self._unit_vectors), "max": self._unit_vectors.maxsize},
                "abstain_threshold": self.answer_config.abstain_below}


@dataclass(frozen=True)
class _View:
    """What one kind of caller may read: the rows (None: all of them), and the facets and vocabulary
    counted over those rows alone."""

    visible: np.ndarray | None
    facets: dict[str, Any]
    vocabulary: Vocabulary


def _views(store: PassageStore | MilvusPassages) -> dict[bool, _View]:
    """The public view (False) and the view with restricted papers (True); one view when there are none."""
    everything = store.facets()
    full = _View(None, everything, Vocabulary(everything))
    public = store.facets(public_only=True)
    if public == everything:
        return {False: full, True: full}
    hidden = store.restricted_rows()
    visible = np.setdiff1d(np.arange(store.count(), dtype=np.int64), hidden, assume_unique=True)
    return {False: _View(visible, public, Vocabulary(public)), True: full}


def load_index(settings: Settings, expected_model_id: str | None = None) -> CouncilIndex | MilvusIndex:
    """The index the settings name: the folder (`store=local`) or the build the Milvus alias points at."""
    if settings.store == "milvus":
        from indexer.milvus_read import load_milvus_index

        return load_milvus_index(settings, expected_model_id)
    return CouncilIndex.load(settings.index_dir, expected_model_id=expected_model_id)


def _fallback(base: Answer, exc: LlmError) -> Answer:
    """The extractive answer, saying why the model's was not used (in the response and the log)."""
    log.warning("language model answer not used, extractive answer returned: %s", exc)
    return replace(base, llm_error=str(exc))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
