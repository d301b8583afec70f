"""Queries of concurrent requests are encoded together, each still getting its own vector."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from core.batching import QueryBatcher
from indexer.embed import FakeEmbedder


class _SlowEncoder:
    """FakeEmbedder vectors, taking a fixed time per call (like a model: a batch costs about one call)."""

    def __init__(self, delay: float = 0.02) -> None:
        self.fake = FakeEmbedder()
        self.delay = delay
        self.calls: list[int] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        time.sleep(self.delay)
        return self.fake.encode_queries(list(texts))


def _encode_from_threads(batcher: QueryBatcher, texts: list[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    start = threading.Barrier(len(texts))

    def one(t: str) -> None:
        start.wait()
        out[t] = batcher.encode(t)

    threads = [threading.Thread(target=one, args=(t,)) for t in texts]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    return out


def test_concurrent_queries_share_encoder_calls_and_get_their_own_vectors() -> None:
    enc = _SlowEncoder()
    batcher = QueryBatcher(enc, max_batch=32)
    texts = [f"pothole repair in ward {i}" for i in range(24)]
    got = _encode_from_threads(batcher, texts)
    assert sorted(got) == sorted(texts)
    expected = FakeEmbedder().encode_queries(texts)
    for t, v in zip(texts, expected, strict=True):
        np.testing.assert_allclose(got[t], v, atol=1e-6)
    assert sum(enc.calls) == 24 and len(enc.calls) < 24  # batched: fewer calls than queries
    assert max(enc.calls) > 1


def test_a_batch_never_exceeds_its_size_and_one_query_alone_is_one_call() -> None:
    enc = _SlowEncoder()
    batcher = QueryBatcher(enc, max_batch=4)
    _encode_from_threads(batcher, [f"q{i}" for i in range(12)])
    assert max(enc.calls) <= 4 and sum(enc.calls) == 12
    enc.calls.clear()
    batcher.encode("alone")
    assert enc.calls == [1]


def test_an_encoder_failure_reaches_every_waiting_request() -> None:
    broken = [True]

    def boom(texts: Sequence[str]) -> np.ndarray:
        time.sleep(0.02)
        if broken[0]:
            raise RuntimeError("model gone")
        return FakeEmbedder().encode_queries(list(texts))

    batcher = QueryBatcher(boom)
    errors: list[str] = []

    def one(i: int) -> None:
        with pytest.raises(RuntimeError, match="model gone"):
            batcher.encode(f"q{i}")
        errors.append("raised")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert errors == ["raised"] * 6
    broken[0] = False  # the encoder recovers: the batcher is not stuck busy
    assert batcher.encode("again").shape == (64,)
