"""Which encoder a service uses for queries: ONNX Runtime float32 where it is faithful, else the passages'."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from common.settings import Settings
from indexer import embed
from indexer.embed import FakeEmbedder, load_query_embedder


class _TorchLike(FakeEmbedder):
    backend = "torch-fp32"


def test_same_and_non_torch_passage_embedders_are_used_for_queries(tmp_path: Path) -> None:
    fake = FakeEmbedder()
    assert load_query_embedder(Settings(query_backend="same"), fake) is fake
    assert load_query_embedder(Settings(query_backend="auto"), fake) is fake  # fakes, int8: their own encoder


def test_auto_falls_back_to_the_passage_embedder_when_onnx_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "indexer.embed_onnx", None)  # import fails, as without onnxruntime
    torchlike = _TorchLike()
    assert load_query_embedder(Settings(query_backend="auto"), torchlike) is torchlike
    with pytest.raises(RuntimeError, match=r"onnx-fp32 is unavailable.*COUNCILQA_QUERY_BACKEND=same"):
        load_query_embedder(Settings(query_backend="onnx-fp32"), torchlike)


def test_an_unfaithful_query_encoder_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import indexer.embed_onnx as onnx_mod

    class _Stray(FakeEmbedder):
        def __init__(self, settings: Settings, precision: str = "fp32", threads: int | None = None) -> None:
            super().__init__(model_id="other")

        def encode_queries(self, texts):  # type: ignore[no-untyped-def]
            return -super().encode_queries(texts)

    monkeypatch.setattr(onnx_mod, "OnnxInt8Embedder", _Stray)
    torchlike = _TorchLike()
    assert load_query_embedder(Settings(query_backend="auto"), torchlike) is torchlike
    with pytest.raises(RuntimeError, match="stray"):
        load_query_embedder(Settings(query_backend="onnx-fp32"), torchlike)


@pytest.mark.slow
def test_onnx_float32_queries_match_pytorch_and_rank_the_same(tmp_path: Path) -> None:
    settings = Settings(embed_backend="torch-fp32", model_cache_dir=tmp_path / "models")
    torch_emb = embed.load_embedder(settings)
    fast = load_query_embedder(settings, torch_emb)
    assert fast.backend == "onnx-fp32"
    queries = ["what did Wolverhampton say about youth zone funding", "How many foster carers were recruited?",
               "Cllr Jane Francis risk register question", "savings targets in children's services for 2025"]
    a, b = torch_emb.encode_queries(queries), fast.encode_queries(queries)
    assert float((a * b).sum(axis=1).min()) > 0.9999
    passages = torch_emb.encode_passages([
        "There is a reduction in the contribution to the youth zone.", "We recruited 35 foster carers this year.",
        "Does that need to go on a risk register?", "The savings target for 2025 is four million pounds.",
    ])
    np.testing.assert_array_equal(np.argsort(-(a @ passages.T), axis=1), np.argsort(-(b @ passages.T), axis=1))
