"""FaissDense: flat / HNSW / IVF-SQ8 on random normalised vectors (fast; no model)."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from indexer.dense import FAISS_FILE, FaissDense, choose_faiss_kind

D, K = 32, 10


def _vectors(n: int, seed: int, d: int = D) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _recall(rows: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(rows.tolist(), exact.tolist(), strict=True)]))


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    # Clustered data, closer to text embeddings than uniform noise (where ANN recall is at its worst).
    rng = np.random.default_rng(0)
    centres = _vectors(50, 1)
    x = centres[rng.integers(0, 50, 4000)] + rng.normal(0, 0.08, size=(4000, D)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[rng.choice(4000, 20, replace=False)] + rng.normal(0, 0.05, size=(20, D)).astype(np.float32)
    return x.astype(np.float32), (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(autouse=True, scope="module")
def _one_faiss_thread():
    """OpenMP threads spin-wait; on a busy 2-core CI box that makes small builds several times slower."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


_BUILT: dict[tuple[str, int], FaissDense] = {}


def _built(x: np.ndarray, kind: str) -> FaissDense:
    """Each (kind, size) built once per module: HNSW construction dominates the run time."""
    key = (kind, len(x))
    if key not in _BUILT:
        _BUILT[key] = FaissDense.build(x, kind)
    return _BUILT[key]


def _small_hnsw(x: np.ndarray) -> FaissDense:
    """A cheap HNSW graph (M=8) for the large-allowed-set path: building M=32 on 21k rows takes seconds."""
    index = faiss.IndexHNSWFlat(x.shape[1], 8, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 16
    index.add(x)
    return FaissDense(index, "hnsw", {"efSearch": 64})


def test_choose_kind_by_size() -> None:
    assert choose_faiss_kind(1000, "auto", 200_000) == "flat"
    assert choose_faiss_kind(200_001, "auto", 200_000) == "ivf"
    assert choose_faiss_kind(10, "hnsw", 200_000) == "hnsw"


def test_flat_is_exact(data) -> None:
    x, q = data
    scores, rows = _built(x, "flat").search(q, K)
    exact = np.argsort(-(q @ x.T), axis=1)[:, :K]
    assert rows.dtype == np.int64 and scores.dtype == np.float32
    assert _recall(rows, exact) == 1.0


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_kinds_recall(data, kind: str) -> None:
    x, q = data
    dense = _built(x, kind)
    assert dense.kind == kind and dense.size == len(x) and dense.dimension == D
    _, rows = dense.search(q, K)
    _, exact = _built(x, "flat").search(q, K)
    assert _recall(rows, exact) >= 0.9


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
@pytest.mark.parametrize("n_allowed", [5, 60, 20_500])
def test_filtered_search_returns_only_allowed_rows(data, kind: str, n_allowed: int) -> None:
    x, q = data
    if n_allowed > len(x):  # the large-set path (FAISS selector) needs more rows than the exact path's limit
        x, q = _vectors(21_000, 5, d=8), _vectors(len(q), 6, d=8)
    dense = _small_hnsw(x) if kind == "hnsw" and len(x) > 20_000 else _built(x, kind)
    allowed = np.sort(np.random.default_rng(3).choice(len(x), size=n_allowed, replace=False)).astype(np.int64)
    scores, rows = dense.search(q, K, allowed)
    assert rows.shape == (len(q), K)
    hits = rows[rows >= 0]
    assert np.isin(hits, allowed).all()
    if n_allowed < K:
        assert (rows[:, n_allowed:] == -1).all()
        assert (np.sort(rows[:, :n_allowed], axis=1) == allowed).all()


def test_empty_allowed_and_empty_index(data) -> None:
    x, q = data
    _, rows = _built(x, "flat").search(q, K, np.array([], np.int64))
    assert (rows == -1).all()
    empty = FaissDense.build(np.zeros((0, D), np.float32), "flat", dimension=D)
    assert empty.size == 0 and (empty.search(q, K)[1] == -1).all()


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_save_load_round_trip(data, kind: str, tmp_path) -> None:
    x, q = data
    dense = _built(x, kind)
    dense.save(tmp_path)
    assert (tmp_path / FAISS_FILE).is_file()
    loaded = FaissDense.load(tmp_path)
    assert (loaded.kind, loaded.size, loaded.params) == (dense.kind, dense.size, dense.params)
    np.testing.assert_array_equal(loaded.search(q, K)[1], dense.search(q, K)[1])


def test_single_query_search_leaves_thread_setting_alone(data) -> None:
    x, q = data
    before = faiss.omp_get_max_threads()
    _built(x, "flat").search(q[:1], K)
    _built(x, "flat").search(np.vstack([q] * 2), K)  # a batch above the single-thread limit
    assert faiss.omp_get_max_threads() == before
