"""The /ask fast path: bounded sentence-vector cache, batched encoding, vectorised MMR."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core import answer as ans
from core.engine import VectorLRU
from tests.test_service_api import make_engine


def test_vector_lru_is_bounded_and_keeps_recent_entries() -> None:
    cache = VectorLRU(maxsize=3)
    cache.put_many({t: np.full(2, i, np.float32) for i, t in enumerate("abc")})
    assert set(cache.get_many(["a"])) == {"a"}  # "a" is now the most recent
    cache.put_many({"d": np.zeros(2, np.float32), "e": np.zeros(2, np.float32)})
    assert len(cache) == 3
    assert set(cache.get_many(list("abcde"))) == {"a", "d", "e"}
    assert (cache.hits, cache.misses) == (4, 2)


def test_encode_units_encodes_each_text_once_and_keeps_order(tiny_index_dir: Path) -> None:
    engine = make_engine(tiny_index_dir)
    texts = [f"sentence number {i} " + "word " * (i % 7) for i in range(20)]
    asked = texts + texts[:5][::-1]
    before = engine.embedder.calls
    got = engine.encode_units(asked)
    assert engine.embedder.calls - before == len(texts)  # duplicates encoded once
    np.testing.assert_allclose(got, engine.embedder.encode_passages(asked), atol=1e-6)
    before = engine.embedder.calls
    np.testing.assert_allclose(engine.encode_units(asked[::-1]), got[::-1], atol=1e-6)
    assert engine.embedder.calls == before  # all cached
    assert engine.encode_units([]).shape == (0, engine.embedder.dimension)


def test_pick_keeps_score_order_limits_and_skips_repeats() -> None:
    rng = np.random.default_rng(7)
    cfg = ans.AnswerConfig(max_quotes=5, max_sources=2, max_per_source=2)
    for trial in range(200):
        n = int(rng.integers(1, 40))
        vecs = rng.normal(size=(n, 8)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        if trial % 3 == 0 and n > 2:
            vecs[1] = vecs[0]  # a near repeat
        scores = rng.uniform(0.2, 1.0, size=n).astype(np.float32)
        units = [ans.Unit(int(rng.integers(0, 4)), 0, 1, "x") for _ in range(n)]
        allowed = rng.uniform(size=n) > 0.2
        got = ans.pick(scores, vecs, units, allowed, cfg)
        assert got == sorted(got, key=lambda i: -scores[i])
        assert all(allowed[i] for i in got) and len(got) <= 5
        sources = [units[i].passage_index for i in got]
        assert len(set(sources)) <= 2
        for src in set(sources):  # quotes per source: chosen units more than two apart from every earlier one
            mine = [i for i in got if units[i].passage_index == src]
            assert sum(all(abs(i - j) > 2 for j in mine[:n]) for n, i in enumerate(mine)) <= 2
        assert not (0 in got and 1 in got and trial % 3 == 0 and n > 2)
