"""MilvusDense (milvus-lite) against exact FAISS search; skipped where pymilvus/milvus-lite are absent."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="pymilvus not installed: pip install 'councilqa[milvus]'")
pytest.importorskip("milvus_lite", reason="milvus-lite not installed: pip install 'councilqa[milvus]'")

from indexer.dense import FaissDense  # noqa: E402
from indexer.dense_milvus import MILVUS_FILE, MilvusDense  # noqa: E402

N, D, K = 600, 32, 10


def _vectors(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MilvusDense, FaissDense, np.ndarray]]:
    folder = tmp_path_factory.mktemp("milvus")
    vectors = _vectors(N, D, 0)
    dense = MilvusDense.build(vectors, folder, dimension=D)
    yield dense, FaissDense.build(vectors, "flat"), _vectors(5, D, 1)
    dense.close()


def test_build_persists_in_folder_and_describes_itself(built) -> None:
    dense, _, _ = built
    assert (dense.folder / MILVUS_FILE).exists()
    assert (dense.kind, dense.size, dense.dimension) == ("milvus", N, D)
    assert dense.params["index_type"] == "FLAT"


def test_search_matches_exact_faiss(built) -> None:
    dense, flat, queries = built
    scores, rows = dense.search(queries, K)
    f_scores, f_rows = flat.search(queries, K)
    assert scores.dtype == np.float32 and rows.dtype == np.int64 and rows.shape == (5, K)
    for a, b in zip(rows, f_rows, strict=True):
        assert set(a.tolist()) == set(b.tolist())
    np.testing.assert_allclose(np.sort(scores, axis=1), np.sort(f_scores, axis=1), atol=1e-4)


def test_filtered_search_returns_only_allowed_rows_and_pads(built) -> None:
    dense, flat, queries = built
    allowed = np.arange(0, N, 7, dtype=np.int64)
    scores, rows = dense.search(queries, K, allowed)
    f_scores, f_rows = flat.search(queries, K, allowed)
    assert np.isin(rows, allowed).all()
    for a, b in zip(rows, f_rows, strict=True):
        assert set(a.tolist()) == set(b.tolist())
    few = np.array([3, 5, 11], dtype=np.int64)
    scores, rows = dense.search(queries, K, few)
    assert (rows[:, 3:] == -1).all() and set(rows[0, :3].tolist()) == {3, 5, 11}
    _, rows = dense.search(queries, K, np.array([], dtype=np.int64))
    assert (rows == -1).all()


def test_nearly_all_allowed_uses_exclusions(built) -> None:
    dense, flat, queries = built
    allowed = np.setdiff1d(np.arange(N), [0, 1, 2])
    _, rows = dense.search(queries, K, allowed)
    _, f_rows = flat.search(queries, K, allowed)
    assert not np.isin(rows, [0, 1, 2]).any()
    assert set(rows[0].tolist()) == set(f_rows[0].tolist())


def test_save_elsewhere_and_load_round_trip(built, tmp_path) -> None:
    dense, _, queries = built
    expected = dense.search(queries, K)[1]
    dense.save(dense.folder)  # built in place: a no-op
    dense.save(tmp_path)
    loaded = MilvusDense.load(tmp_path)
    try:
        assert (loaded.size, loaded.dimension, loaded.kind) == (N, D, "milvus")
        np.testing.assert_array_equal(loaded.search(queries, K)[1], expected)
    finally:
        loaded.close()


def test_empty_build_searches_to_padding(tmp_path) -> None:
    dense = MilvusDense.build(np.zeros((0, D), np.float32), tmp_path, dimension=D)
    try:
        scores, rows = dense.search(_vectors(2, D, 3), 4)
        assert rows.shape[0] == 2 and (rows == -1).all()
    finally:
        dense.close()
