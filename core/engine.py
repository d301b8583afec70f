"""The one core behind the API and the CLI: validated, filtered hybrid search and cited answers.

Thread safety: the engine is shared by the server's worker threads. FAISS and bm25s searches are
read-only; each thread gets its own SQLite connection; the query encoder runs under a lock
(tokenizers are not re-entrant) behind an LRU cache; the caches are functools LRUs.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from common.settings import Settings
from indexer.embed import Embedder, load_embedder, model_id_for
from indexer.index import PASSAGES, CouncilIndex, IndexLoadError
from indexer.models import Passage
from indexer.passages import PassageStore
from core import answer as ans
from core import retrieval
from core.errors import CoreError
from core.llm import LlmError, llm_answer
from core.query import FILTER_FIELDS, Understanding, Vocabulary, parse_date, strip_spans
from core.retrieval import BOOST_WEIGHT, Boosts, apply_boosts, candidate_count, ranked_rows, rrf

MODES = ("hybrid", "bm25", "dense")
_CITATION_FIELDS = ("title", "council", "committee", "date", "doc_type", "agenda_item", "speaker", "timestamp",
                    "page", "char_start", "char_end")

__all__ = ["CoreError", "Engine", "IndexLoadError"]

UNIT_CACHE_SIZE = 20_000  # sentence vectors kept (384 float32 each: ~30 MB for all-MiniLM-L6-v2)
UNIT_BATCH = 8  # sentences per encoder call, shortest first: small batches waste little on padding


class VectorLRU:
    """A bounded, thread-safe text -> vector cache; the least recently used entries go first."""

    def __init__(self, maxsize: int = UNIT_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for t in texts:
                v = self._data.get(t)
                if v is not None:
                    self._data.move_to_end(t)
                    out[t] = v
            self.hits += len(out)
            self.misses += len(texts) - len(out)
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            for t, v in items.items():
                self._data[t] = v
                self._data.move_to_end(t)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


@dataclass
class Plan:
    """What a query will run with: filters in force, the inferred ones, boosts, the rows allowed."""

    filters: dict[str, str]
    auto: dict[str, str]
    boosts: Boosts
    boost_report: dict[str, list[str]]
    allowed: np.ndarray | None
    dense_text: str
    bm25_text: str
    understanding: Understanding = field(default_factory=Understanding)


def citation(p: Passage) -> dict[str, Any]:
    out: dict[str, Any] = {"document_id": p.doc_id}
    out.update({f: getattr(p, f) for f in _CITATION_FIELDS})
    out["url"] = p.source_url
    return out


class Engine:
    def __init__(self, index: CouncilIndex, embedder: Embedder, settings: Settings,
                 answer_config: ans.AnswerConfig | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.answer_config = answer_config or ans.AnswerConfig(abstain_below=settings.answer_min_evidence)
        self.strip_filter_words = True  # drop words that became filters from the BM25 query
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bm25")
        self._encode_lock = threading.Lock()
        self._facets = index.passages.facets()
        self.vocabulary = Vocabulary(self._facets)
        self._encode_query = lru_cache(maxsize=1024)(self._encode_query_uncached)
        self._unit_vectors = VectorLRU(UNIT_CACHE_SIZE)
        self._allowed = lru_cache(maxsize=256)(self._allowed_uncached)
        self._check_dimension()

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder | None = None) -> Engine:
        """Load the index, then the model; IndexLoadError names the `councilqa index` command to run."""
        expected = embedder.model_id if embedder is not None else model_id_for(settings.model)
        index = CouncilIndex.load(settings.index_dir, expected_model_id=expected)
        return cls(index, embedder or load_embedder(settings), settings)

    def _check_dimension(self) -> None:
        want = int(self.index.manifest["model"].get("dimension") or self.embedder.dimension)
        if self.index.passages.count() and want != self.embedder.dimension:
            raise IndexLoadError(
                f"The index at {self.index.folder} holds {want}-dimensional vectors but the model gives "
                f"{self.embedder.dimension}. Rebuild it with: councilqa index corpus/ --index-dir {self.index.folder}"
            )

    # -- shared resources ------------------------------------------------------------------------
    def _store(self) -> PassageStore:
        store = getattr(self._local, "store", None)
        if store is None:
            store = PassageStore(self.index.folder / PASSAGES)
            self._local.store = store
        return store

    def _encode_query_uncached(self, text: str) -> np.ndarray:
        with self._encode_lock:
            vec = np.asarray(self.embedder.encode_queries([text])[0], dtype=np.float32)
        vec.setflags(write=False)
        return vec

    def _encode_units(self, texts: list[str]) -> np.ndarray:
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
                    vecs = np.asarray(self.embedder.encode_passages(batch), dtype=np.float32)
                    fresh.update(zip(batch, vecs, strict=True))
            self._unit_vectors.put_many(fresh)
            known.update(fresh)
        return np.vstack([known[t] for t in texts])

    def fetch(self, rows: Sequence[int]) -> dict[int, Passage]:
        ps = self._store().get(list(rows))
        return dict(zip(rows, ps, strict=True)) if len(ps) == len(rows) else self._fetch_slow(rows)

    def _fetch_slow(self, rows: Sequence[int]) -> dict[int, Passage]:
        out = {}
        for r in rows:
            got = self._store().get([r])
            if got:
                out[r] = got[0]
        return out

    # -- validation ------------------------------------------------------------------------------
    def check_text(self, text: str, what: str = "query") -> str:
        if text is None or not text.strip():
            raise CoreError("empty_query", f"The {what} is empty: type something to look for.", "invalid",
                               {"field": "q" if what == "query" else "question"})
        if len(text) > self.settings.max_query_chars:
            raise CoreError("query_too_long", f"The {what} is {len(text)} characters; the limit is "
                               f"{self.settings.max_query_chars}.", "invalid", {"max_chars": self.settings.max_query_chars})
        return text.strip()

    def check_k(self, k: int) -> int:
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= self.settings.max_k:
            raise CoreError("invalid_k", f"k must be between 1 and {self.settings.max_k}; got {k!r}.", "invalid",
                               {"min": 1, "max": self.settings.max_k})
        return k

    def check_mode(self, mode: str) -> str:
        if mode not in MODES:
            raise CoreError("invalid_mode", f"Unknown mode {mode!r}; use one of {', '.join(MODES)}.", "invalid",
                               {"valid": list(MODES)})
        return mode

    def resolve_filters(self, filters: dict[str, Any] | None) -> dict[str, str]:
        """Hand-set filters to canonical facet values; unknown names or values raise CoreError."""
        out: dict[str, str] = {}
        for name, value in (filters or {}).items():
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if name not in FILTER_FIELDS:
                raise CoreError("unknown_filter",
                                   f"Unknown filter {name!r}; filters are {', '.join(FILTER_FIELDS)}.", "invalid",
                                   {"field": name, "valid": list(FILTER_FIELDS)})
            out[name] = self._resolve_one(name, str(value))
        if out.get("date_from") and out.get("date_to") and out["date_from"] > out["date_to"]:
            raise CoreError("invalid_date_range", f"date_from {out['date_from']} is after date_to {out['date_to']}.",
                               "invalid", {"date_from": out["date_from"], "date_to": out["date_to"]})
        return out

    def _resolve_one(self, name: str, value: str) -> str:
        if name in ("date_from", "date_to"):
            try:
                return parse_date(value, end=name == "date_to")
            except ValueError as exc:
                raise CoreError("invalid_date", f"{name}: {value!r} is not a valid date; use YYYY-MM-DD.", "invalid",
                                   {"field": name, "value": value}) from exc
        try:
            return self.vocabulary.resolve(name, value)
        except LookupError as exc:
            valid = list(exc.args[0]) if exc.args else []
            shown = ", ".join(valid[:20]) + (" ..." if len(valid) > 20 else "")
            raise CoreError("unknown_filter_value", f"No {name} {value!r} in the index. Valid values: {shown}",
                               "invalid", {"field": name, "value": value, "valid": valid[:500]}) from exc

    # -- planning --------------------------------------------------------------------------------
    def _allowed_uncached(self, items: tuple[tuple[str, str], ...]) -> np.ndarray | None:
        filters = dict(items)
        speaker = filters.pop("speaker", None)
        base = self._store().rows_matching(filters)
        if speaker is None:
            return base
        parts = [self._store().rows_matching({"speaker": v}) for v in self.vocabulary.speaker_variants(speaker)]
        rows = np.unique(np.concatenate([p for p in parts if p is not None] or [np.zeros(0, np.int64)]))
        return rows if base is None else np.intersect1d(base, rows, assume_unique=True)

    def allowed_rows(self, filters: dict[str, str]) -> np.ndarray | None:
        return self._allowed(tuple(sorted(filters.items())))

    def plan(self, query: str, filters: dict[str, str], auto_filters: bool) -> Plan:
        understanding = self.vocabulary.understand(query) if auto_filters else Understanding()
        applied, auto = dict(filters), {}
        candidates = understanding.candidate_filters()
        for group in (("council",), ("speaker",), ("doc_type",), ("date_from", "date_to")):
            wanted = {n: candidates[n] for n in group if n in candidates and n not in filters}
            if not wanted:
                continue
            allowed = self.allowed_rows({**applied, **wanted})
            if allowed is not None and len(allowed) > 0:  # a filter that leaves nothing becomes a boost
                applied.update(wanted)
                auto.update(wanted)
        boost_report = _boost_report(understanding, {k: v for k, v in candidates.items() if k not in filters}, auto)
        boosts = Boosts(frozenset(boost_report.get("council", [])), frozenset(boost_report.get("speaker", [])),
                        frozenset(boost_report.get("doc_type", [])),
                        tuple(tuple(d.split("..")) for d in boost_report.get("date", [])))  # type: ignore[misc]
        strip = auto and self.strip_filter_words
        bm25_text = strip_spans(query, understanding.spans_for(auto)) if strip else query
        return Plan(applied, auto, boosts, boost_report, self.allowed_rows(applied), query, bm25_text, understanding)

    # -- retrieval -------------------------------------------------------------------------------
    def retrieve(self, plan: Plan, k: int, mode: str) -> list[tuple[int, float]]:
        n = min(candidate_count(k), max(1, self.index.passages.count()))
        lists = []
        # BM25 (numpy) runs on the second core while this thread encodes the query and searches vectors.
        sparse = self._pool.submit(self.index.sparse.search, [plan.bm25_text], n, plan.allowed) \
            if mode in ("bm25", "hybrid") else None
        dense = None
        if mode in ("dense", "hybrid"):
            dense = self.index.dense.search(self._encode_query(plan.dense_text)[None, :], n, plan.allowed)
        for result in (sparse.result() if sparse else None, dense):
            if result is not None:
                lists.append(ranked_rows(result[0][0], result[1][0]))
        if mode == "hybrid":
            fused = sorted(rrf(lists, weights=(1.0, retrieval.DENSE_WEIGHT)).items(), key=lambda x: -x[1])
            weight = BOOST_WEIGHT
        else:
            fused = lists[0]
            weight = (0.05 if mode == "dense" else 0.1 * (fused[0][1] if fused else 0.0))
        return apply_boosts(fused, plan.boosts, self.fetch, weight)[:k]

    def search(self, query: str, k: int = 10, mode: str = "hybrid", filters: dict[str, Any] | None = None,
               auto_filters: bool = True) -> dict[str, Any]:
        started = time.perf_counter()
        query, k, mode = self.check_text(query), self.check_k(k), self.check_mode(mode)
        plan = self.plan(query, self.resolve_filters(filters), auto_filters)
        hits = self.retrieve(plan, k, mode)
        passages = self.fetch([r for r, _ in hits])
        results = [{"rank": i, "score": round(s, 6), "text": passages[r].text, "citation": citation(passages[r])}
                   for i, (r, s) in enumerate(hits, start=1) if r in passages]
        return {"query": query, "mode": mode, "k": k, "filters_applied": plan.filters, "auto_filters": plan.auto,
                "boosts": plan.boost_report, "results": results, "took_ms": _ms(started)}

    # -- answers ---------------------------------------------------------------------------------
    def ask(self, question: str, k: int = 5, filters: dict[str, Any] | None = None, auto_filters: bool = True,
            mode: str = "hybrid") -> dict[str, Any]:
        started = time.perf_counter()
        question, k, mode = self.check_text(question, "question"), self.check_k(k), self.check_mode(mode)
        plan = self.plan(question, self.resolve_filters(filters), auto_filters)
        hits = self.retrieve(plan, k, mode)
        by_row = self.fetch([r for r, _ in hits])
        ranked = [(by_row[r], i, s) for i, (r, s) in enumerate(hits, start=1) if r in by_row]
        out = {"question": question, "filters_applied": plan.filters, "auto_filters": plan.auto,
               "boosts": plan.boost_report, "llm_error": None}
        out.update(self._answer(question, plan, ranked))
        out["took_ms"] = _ms(started)
        return out

    def _answer(self, question: str, plan: Plan, ranked: list[tuple[Passage, int, float]]) -> dict[str, Any]:
        passages = [p for p, _, _ in ranked]
        named = [question[s:e] for s, e in plan.understanding.spans_for(("council", "speaker", "date"))]
        terms = ans.keywords(question, named)
        ex = ans.extract(self._encode_query(question), terms, passages, self._encode_units, self.answer_config,
                         question) if passages else ans.Extraction()
        if not ex.found:
            return {"answer": ans.NOT_FOUND, "citations": [], "mode": "extractive", "found": False,
                    "confidence": round(ex.evidence, 4)}
        result = self._extractive(ex, ranked)
        if self.settings.llm_base_url:
            try:
                result = self._llm(question, ranked)
            except LlmError as exc:
                result["llm_error"] = str(exc)
        result["confidence"] = round(ex.evidence, 4)
        return result

    def _extractive(self, ex: ans.Extraction, ranked: list[tuple[Passage, int, float]]) -> dict[str, Any]:
        """One citation per passage, numbered in order of first use; its sentences share the marker."""
        numbers: dict[int, int] = {}
        quotes: dict[int, list[tuple[float, int, int]]] = {}
        parts: list[tuple[str, int]] = []
        for ch in ex.chosen:
            idx = ch.unit.passage_index
            n = numbers.setdefault(idx, len(numbers) + 1)
            quotes.setdefault(idx, []).append((ch.score, ch.start, ch.stop))
            parts.append((ans.one_line(ranked[idx][0].text[ch.start:ch.stop]), n))
        citations = []
        for idx, n in numbers.items():
            p, rank, score = ranked[idx]
            citations.append(_answer_citation(n, p, rank, score, [(s, e) for _, s, e in quotes[idx]]))
        return {"answer": _join_parts(parts), "citations": citations, "mode": "extractive", "found": True}

    def _llm(self, question: str, ranked: list[tuple[Passage, int, float]]) -> dict[str, Any]:
        got = llm_answer(self.settings, question, [p for p, _, _ in ranked])
        citations = []
        for n, (idx, said) in enumerate(got.cited, start=1):
            p, rank, score = ranked[idx]
            citations.append(_answer_citation(n, p, rank, score, [ans.best_unit_for(said, p)]))
        return {"answer": got.answer, "citations": citations, "mode": "llm", "found": True}

    # -- documents and meta ----------------------------------------------------------------------
    def facets(self) -> dict[str, Any]:
        return self._facets

    def documents(self, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        if not 1 <= limit <= 1000 or offset < 0:
            raise CoreError("invalid_paging", "limit must be 1..1000 and offset 0 or more.", "invalid",
                               {"limit": limit, "offset": offset})
        total, docs = self._store().documents(limit, offset)
        return {"total": total, "limit": limit, "offset": offset,
                "documents": [_doc_summary(d) for d in docs]}

    def document(self, doc_id: str) -> dict[str, Any]:
        got = self._store().document(doc_id)
        if got is None:
            raise CoreError("document_not_found", f"No document {doc_id!r} in the index.", "not_found",
                               {"document_id": doc_id})
        meta, text = got
        return {"document_id": meta.doc_id, "title": meta.title, "council": meta.council,
                "committee": meta.committee, "date": meta.date, "doc_type": meta.doc_type,
                "source_url": meta.source_url, "extra": meta.extra, "text": text}

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "index_dir": str(self.index.folder), "model": self.index.model_id,
                "passages": int(self._facets["passages"]), "documents": int(self._facets["documents"]),
                "llm": bool(self.settings.llm_base_url)}

    def stats(self) -> dict[str, Any]:
        info = self._encode_query.cache_info()
        return {"manifest": self.index.manifest, "passages": int(self._facets["passages"]),
                "documents": int(self._facets["documents"]), "councils": len(self._facets["councils"]),
                "speakers": len(self._facets["speakers"]), "dense": getattr(self.index.dense, "kind", "?"),
                "embed_backend": getattr(self.embedder, "backend", "?"),
                "query_cache": {"hits": info.hits, "misses": info.misses, "size": info.currsize},
                "sentence_cache": {"hits": self._unit_vectors.hits, "misses": self._unit_vectors.misses,
                                   "size": len(self._unit_vectors), "max": self._unit_vectors.maxsize},
                "abstain_threshold": self.answer_config.abstain_below}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _join_parts(parts: list[tuple[str, int]]) -> str:
    """"A [1] B [2]"; consecutive sentences from one passage carry its marker once, after the last."""
    out = []
    for i, (text, n) in enumerate(parts):
        last_of_run = i + 1 == len(parts) or parts[i + 1][1] != n
        out.append(f"{text} [{n}]" if last_of_run else text)
    return " ".join(out)


def _answer_citation(n: int, p: Passage, rank: int, score: float, spans: list[tuple[int, int]]) -> dict[str, Any]:
    """A citation of passage `p` quoting `spans` (offsets in its text; the first is the best).

    `quote`, `quote_start`, `quote_end`, `speaker` and `timestamp` are those of the best quote, the speaker
    being whoever's turn holds it; `quotes` lists every quote in document order.
    """
    start, end = spans[0]
    out = {"n": n, "quote": p.text[start:end], "text": p.text, "rank": rank, "score": round(score, 6),
           **citation(p), "quote_start": p.char_start + start, "quote_end": p.char_start + end,
           "passage_speaker": p.speaker, "passage_timestamp": p.timestamp}
    turn = p.turn_at(p.char_start + start)
    if turn:
        out["speaker"], out["timestamp"] = turn.get("speaker"), turn.get("timestamp")
    quotes = []
    for s, e in sorted(set(spans)):
        t = p.turn_at(p.char_start + s)
        quotes.append({"text": p.text[s:e], "start": p.char_start + s, "end": p.char_start + e,
                       "speaker": t.get("speaker") if t else p.speaker,
                       "timestamp": t.get("timestamp") if t else p.timestamp})
    out["quotes"] = quotes
    return out


def _doc_summary(d: dict[str, Any]) -> dict[str, Any]:
    out = dict(d)
    out["document_id"] = out.pop("doc_id")
    return out


def _boost_report(u: Understanding, candidates: dict[str, str], auto: dict[str, str]) -> dict[str, list[str]]:
    """Boosts: ambiguous mentions, plus candidate filters that would have left nothing."""
    report = u.boosts()
    for name, value in candidates.items():
        if name in auto:
            continue
        if name in ("date_from", "date_to"):
            rng = f"{candidates.get('date_from', '')}..{candidates.get('date_to', '')}"
            if rng not in report.setdefault("date", []):
                report["date"].append(rng)
        elif value not in report.setdefault(name, []):
            report[name].append(value)
    return {k: v for k, v in report.items() if v}
