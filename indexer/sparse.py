"""BM25 keyword search with bm25s (sparse matrices, memory-mapped on load)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

BM25_DIR = "bm25"
logging.getLogger("bm25s").setLevel(logging.ERROR)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )


class SparseBM25:
    kind = "bm25"

    def __init__(self, retriever: bm25s.BM25, size: int) -> None:
        self.retriever = retriever
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> SparseBM25:
        retriever = bm25s.BM25(method="lucene")
        if texts:
            ids = bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), show_progress=False)
            retriever.index(ids, show_progress=False)
        return cls(retriever, len(texts))

    def search(
        self, queries: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows, shape (len(queries), k); rows with no matching term are -1."""
        nq = len(queries)
        k = max(1, min(k, self.size)) if self.size else 1
        empty = (np.zeros((nq, k), np.float32), np.full((nq, k), -1, np.int64))
        if self.size == 0 or (allowed is not None and len(allowed) == 0):
            return empty
        scores_out, rows_out = empty
        mask = None
        if allowed is not None:
            mask = np.zeros(self.size, dtype=np.float32)
            mask[allowed] = 1.0
        vocab = self.retriever.vocab_dict
        for i, toks in enumerate(tokenize(queries)):
            toks = [t for t in toks if t in vocab]
            if not toks:
                continue
            rows, scores = self.retriever.retrieve(
                [toks], k=k, show_progress=False, weight_mask=mask, n_threads=0
            )
            keep = scores[0] > 0
            n = int(keep.sum())
            rows_out[i, :n] = rows[0][keep]
            scores_out[i, :n] = scores[0][keep]
        return scores_out, rows_out

    def save(self, folder: Path) -> None:
        self.retriever.save(str(folder / BM25_DIR), show_progress=False)

    @classmethod
    def load(cls, folder: Path, size: int) -> SparseBM25:
        retriever = bm25s.BM25.load(str(folder / BM25_DIR), mmap=True, show_progress=False)
        return cls(retriever, size)
