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


def _mmr_reference(scores, vecs, q_terms, unit_terms, cfg):  # type: ignore[no-untyped-def]
    """The original loop, kept to check the vectorised one."""
    first = int(np.argmax(scores))
    chosen, best, covered = [first], float(scores[first]), set(q_terms & unit_terms[first])
    banned = np.zeros(len(scores), dtype=bool)
    banned[first] = True
    while len(chosen) < cfg.max_sentences:
        sims = (vecs @ vecs[chosen].T).max(axis=1)
        banned |= sims > 0.9
        gain = (np.array([len((q_terms - covered) & t) / len(q_terms) for t in unit_terms], dtype=np.float32)
                if q_terms else np.zeros(len(scores), dtype=np.float32))
        mmr = cfg.mmr_lambda * scores - (1 - cfg.mmr_lambda) * sims + cfg.new_keyword_weight * gain
        mmr[banned | (scores < cfg.keep_ratio * best)] = -np.inf
        nxt = int(np.argmax(mmr))
        if not np.isfinite(mmr[nxt]):
            break
        chosen.append(nxt)
        banned[nxt] = True
        covered |= q_terms & unit_terms[nxt]
    return chosen


def test_vectorised_mmr_matches_the_reference() -> None:
    rng = np.random.default_rng(7)
    vocab = [f"w{i}" for i in range(12)]
    cfg = ans.AnswerConfig()
    for trial in range(200):
        n = int(rng.integers(1, 40))
        vecs = rng.normal(size=(n, 8)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        if trial % 3 == 0 and n > 2:
            vecs[1] = vecs[0]  # a near repeat
        scores = rng.uniform(0.2, 1.0, size=n).astype(np.float32)
        unit_terms = [set(rng.choice(vocab, size=int(rng.integers(0, 5)), replace=False)) for _ in range(n)]
        q_terms = set(rng.choice(vocab, size=int(rng.integers(0, 5)), replace=False))
        assert ans._mmr(scores, vecs, q_terms, unit_terms, cfg) == _mmr_reference(scores, vecs, q_terms,
                                                                                   unit_terms, cfg)
