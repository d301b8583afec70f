"""BM25 keyword search with bm25s (sparse matrices, memory-mapped on load)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

BM25_DIR = "bm25"
logging.getLogger("bm25s").setLevel(logging.ERROR)


_local = threading.local()


def _stemmer() -> Any:
    """One stemmer per thread: PyStemmer's objects are not safe to share between threads."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """BM25 terms of each text: lower-cased words without English stopwords, Snowball-stemmed."""
    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k best positive scores, best first; only the non-zero entries are ranked."""
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > k:
        part = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = candidates[part]
    return candidates[np.argsort(-scores[candidates], kind="stable")].astype(np.int64)


class SparseBM25:
    """Keyword search over the passages with BM25 (bm25s, Lucene variant); rows are passage rows."""

    kind = "bm25"

    def __init__(self, retriever: bm25s.BM25, size: int) -> None:
        if retriever.method not in ("lucene", "robertson", "atire"):
            # Other variants add a non-occurrence term that _scores does not.
            raise ValueError(f"unsupported BM25 variant {retriever.method!r}")
        self.retriever = retriever
        self.size = size
        self._vocab: dict[str, int] = retriever.vocab_dict or {}

    @classmethod
    def build(cls, texts: Sequence[str]) -> SparseBM25:
        """A BM25 index of the texts, one row per text in order."""
        retriever = bm25s.BM25(method="lucene")
        if texts:
            ids = bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), show_progress=False)
            retriever.index(ids, show_progress=False)
        return cls(retriever, len(texts))

    def search(
        self, queries: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows, shape (len(queries), k); rows with no matching term are -1.

        bm25s stores each term's precomputed BM25 contributions as a column of a CSC matrix; a query's
        scores are the sum of its terms' columns. Summing them with one `bincount` is the same arithmetic
        as `BM25.retrieve` (a test checks it) and about ten times faster on large indexes.
        """
        nq = len(queries)
        k = max(1, min(k, self.size)) if self.size else 1
        scores_out = np.zeros((nq, k), np.float32)
        rows_out = np.full((nq, k), -1, np.int64)
        if self.size == 0 or (allowed is not None and len(allowed) == 0):
            return scores_out, rows_out
        for i, toks in enumerate(tokenize(queries)):
            scores = self._scores([self._vocab[t] for t in toks if t in self._vocab])
            if scores is None:
                continue
            if allowed is not None:
                masked = np.zeros_like(scores)
                masked[allowed] = scores[allowed]
                scores = masked
            top = _top_k(scores, k)
            n = len(top)
            rows_out[i, :n] = top
            scores_out[i, :n] = scores[top]
        return scores_out, rows_out

    def _scores(self, term_ids: list[int]) -> np.ndarray | None:
        if not term_ids:
            return None
        s = self.retriever.scores
        data, indices, indptr = s["data"], s["indices"], s["indptr"]
        spans = [(int(indptr[t]), int(indptr[t + 1])) for t in term_ids]
        if not any(b > a for a, b in spans):
            return None
        docs = np.concatenate([indices[a:b] for a, b in spans])
        weights = np.concatenate([data[a:b] for a, b in spans])
        return np.bincount(docs, weights=weights, minlength=self.size).astype(np.float32)

    def save(self, folder: Path) -> None:
        """Write the BM25 index into the `bm25/` folder inside `folder`."""
        self.retriever.save(str(folder / BM25_DIR), show_progress=False)

    @classmethod
    def load(cls, folder: Path, size: int) -> SparseBM25:
        """The BM25 index saved in `folder` by `save`, memory-mapped, for `size` passages."""
        retriever = bm25s.BM25.load(str(folder / BM25_DIR), mmap=True, show_progress=False)
        return cls(retriever, size)
