"""Dense vector search behind a small interface, so a second backend (Milvus) can stand in for FAISS.

Vectors are normalised, so inner product is cosine similarity. Rows are the passage store's rows.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

FAISS_FILE = "vectors.faiss"
FAISS_META = "vectors.json"
# Up to this many queries a search runs on the calling thread alone. FAISS gains nothing from
# OpenMP on one query, and its spin-waiting worker threads cost a lot on a busy machine: on the
# 2-core benchmark box, exact search over 100k vectors took 124 ms p50 with 2 threads, 26 ms with 1.
SINGLE_THREAD_MAX_QUERIES = 16


@contextlib.contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    """OpenMP's thread count is per calling thread, so this is safe under a server's thread pool."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class DenseIndex(Protocol):
    """What the search core needs of a dense vector backend (FAISS or Milvus): search and save."""

    kind: str
    size: int
    dimension: int

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows, shape (len(queries), k); missing hits are row -1."""
        ...

    def save(self, folder: Path) -> None:
        """Write the index into the index folder, for the backend's `load` to read back."""
        ...


def ties_by_row(scores: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each query's hits best first, equal scores (to 5 decimals) by row, padding last: the same order every
    time and on every backend (FAISS leaves the order of ties to its heap)."""
    order = np.lexsort((rows, -np.round(scores.astype(np.float64), 5), rows < 0), axis=-1)  # padding (-1) last
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(rows, order, axis=1)


def choose_faiss_kind(n: int, requested: str, exact_max: int) -> str:
    """The FAISS index type for `n` vectors: the requested one; for "auto", exact up to `exact_max`, else IVF."""
    if requested != "auto":
        return requested
    return "flat" if n <= exact_max else "ivf"


class FaissDense:
    """FAISS: exact inner product, HNSW, or IVF with 8-bit scalar quantisation."""

    def __init__(self, index: faiss.Index, kind: str, params: dict | None = None) -> None:
        self.index = index
        self.kind = kind
        self.params = params or {}
        self.size = int(index.ntotal)
        self.dimension = int(index.d)
        self._flat: np.ndarray | None = None
        if kind == "ivf":  # lets reconstruct_batch serve small filtered searches; done once, not per query
            index.make_direct_map()
        self._apply_params()

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "flat", dimension: int | None = None) -> FaissDense:
        """An index of the (normalised) vectors of the given type; an empty or "flat" one is exact.

        `dimension` is needed only when there are no vectors. Raises ValueError for an unknown type.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = vectors.shape if vectors.size else (0, dimension or 0)
        if kind == "flat" or n == 0:
            index: faiss.Index = faiss.IndexFlatIP(d)
            params: dict = {}
            kind = "flat"
        elif kind == "hnsw":
            # M=32 and efSearch=128 keep recall@10 against exact search above 0.95 on council text.
            index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            params = {"efSearch": 128}
        elif kind == "ivf":
            nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
            rng = np.random.default_rng(0)
            sample = vectors[rng.choice(n, size=min(n, nlist * 50), replace=False)]
            index.train(sample)
            params = {"nprobe": max(1, min(nlist, int(round(nlist * 0.03)) + 8))}
        else:
            raise ValueError(f"Unknown FAISS index type {kind!r}; use auto, flat, hnsw or ivf")
        if n:
            index.add(vectors)
        return cls(index, kind, params)

    def _apply_params(self) -> None:
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = int(self.params.get("efSearch", 128))
        elif self.kind == "ivf":
            self.index.nprobe = int(self.params.get("nprobe", 16))

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the best `k` vectors per query, shape (len(queries), k); missing hits are row -1.

        `allowed` restricts the search to those rows (scored exactly when the set is small or the index flat).
        Up to `SINGLE_THREAD_MAX_QUERIES` queries run on the calling thread alone.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, min(k, self.size)) if self.size else 1
        if self.size == 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros((len(queries), k), np.float32), np.full((len(queries), k), -1, np.int64)
        threads = _omp_threads(1) if len(queries) <= SINGLE_THREAD_MAX_QUERIES else contextlib.nullcontext()
        with threads:
            if allowed is None:
                scores, rows = self.index.search(queries, k)
            else:
                scores, rows = self._search_allowed(queries, k, allowed)
        return ties_by_row(scores, rows)

    def _search_allowed(self, queries: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        allowed = np.ascontiguousarray(allowed, dtype=np.int64)
        if self.kind == "flat" or len(allowed) <= 20_000:
            # A small allowed set is scored exactly: cheaper than a filtered graph walk, and exact.
            sims = queries @ self._vectors(allowed).T
            kk = min(k, len(allowed))
            top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
            order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
            top = np.take_along_axis(top, order, axis=1)
            scores = np.take_along_axis(sims, top, axis=1).astype(np.float32)
            rows = allowed[top]
            if kk < k:
                pad = k - kk
                scores = np.hstack([scores, np.zeros((len(queries), pad), np.float32)])
                rows = np.hstack([rows, np.full((len(queries), pad), -1, np.int64)])
            return scores, rows
        selector = faiss.IDSelectorBatch(allowed)
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=int(self.params.get("efSearch", 128)))
        else:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=int(self.params.get("nprobe", 16)) * 4)
        scores, rows = self.index.search(queries, k, params=params)
        return scores, rows

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of these rows (feedback for a second query)."""
        return np.asarray(self._vectors(np.asarray(rows, dtype=np.int64)), dtype=np.float32)

    def _vectors(self, rows: np.ndarray) -> np.ndarray:
        if self.kind == "flat":
            if self._flat is None:  # a view on FAISS's own storage, no copy
                xb = faiss.rev_swig_ptr(self.index.get_xb(), self.size * self.dimension)
                self._flat = xb.reshape(self.size, self.dimension)
            return self._flat[rows]
        return self.index.reconstruct_batch(rows)

    def save(self, folder: Path) -> None:
        """Write the FAISS index and its type and search parameters into the folder."""
        faiss.write_index(self.index, str(folder / FAISS_FILE))
        (folder / FAISS_META).write_text(json.dumps({"kind": self.kind, "params": self.params}))

    @classmethod
    def load(cls, folder: Path) -> FaissDense:
        """The index saved in the folder by `save`, with its search parameters."""
        meta = json.loads((folder / FAISS_META).read_text())
        index = faiss.read_index(str(folder / FAISS_FILE))
        return cls(index, meta["kind"], meta.get("params"))
