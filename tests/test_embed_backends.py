"""Embedding backends against float32 PyTorch: the ONNX int8 export, its cache, bf16.

Slow: loads the real bundled model and exports it to ONNX once (~20 s) into a temporary cache.
"""

from __future__ import annotations

import numpy as np
import pytest

from common.settings import Settings
from indexer.embed import choose_backend, load_embedder

pytestmark = pytest.mark.slow
pytest.importorskip("onnxruntime", reason="onnx-int8 needs onnxruntime: pip install 'councilqa[onnx]'")
pytest.importorskip("onnx", reason="the ONNX export needs onnx: pip install 'councilqa[onnx]'")

TEXTS = [
    "The Planning Committee approved the application for a two-storey rear extension at 14 High Street, "
    "subject to conditions on materials and hours of construction.",
    "Councillor Smith declared a pecuniary interest in item 7 and left the meeting.",
    "Members noted the precept for 2019/20 of £12,500 and resolved to ask the clerk to obtain three quotes "
    "for the repair of the bus shelter on Lynn Road.",
    "Public participation: a resident raised concerns about speeding traffic through the village and "
    "asked whether a speed indicator device could be installed near the school.",
    "The minutes of the previous meeting were approved as a true record and signed by the chairman.",
    "budget",
    "Item 12. Correspondence. " + "The clerk reported letters from the borough council. " * 40,
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("embed")
    return Settings(index_dir=root / "index", cache_dir=root / "cache")


@pytest.fixture(scope="module")
def fp32(settings: Settings):
    return load_embedder(settings, "torch-fp32")


@pytest.fixture(scope="module")
def onnx(settings: Settings):
    return load_embedder(settings, "onnx-int8")


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_int8_matches_fp32_per_passage(fp32, onnx) -> None:
    a, b = fp32.encode_passages(TEXTS), onnx.encode_passages(TEXTS)
    assert b.shape == a.shape and b.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert _cos(a, b).min() >= 0.99
    q = ["when was the bus shelter repaired?"]
    assert _cos(fp32.encode_queries(q), onnx.encode_queries(q)).min() >= 0.99


def test_onnx_order_and_empty_input(onnx) -> None:
    whole = onnx.encode_passages(TEXTS)
    reversed_ = onnx.encode_passages(TEXTS[::-1])[::-1]
    np.testing.assert_allclose(whole, reversed_, atol=1e-5)
    assert onnx.encode_passages([]).shape == (0, onnx.dimension)


def test_onnx_identity_and_token_limit_match_torch(fp32, onnx) -> None:
    assert (onnx.model_id, onnx.dimension, onnx.max_tokens) == (fp32.model_id, fp32.dimension, fp32.max_tokens)
    assert onnx.backend == "onnx-int8"
    for t in TEXTS:
        assert onnx.count_tokens(t) == fp32.count_tokens(t)


def test_onnx_export_is_cached_and_reused(settings: Settings, onnx) -> None:
    from indexer.embed_onnx import INT8_FILE, OnnxInt8Embedder, onnx_cache_folder

    folder = onnx_cache_folder(settings)
    assert folder == onnx.folder and folder.is_relative_to(settings.resolved_model_cache_dir / "onnx")
    before = (folder / INT8_FILE).stat().st_mtime_ns
    again = OnnxInt8Embedder(settings)
    assert (folder / INT8_FILE).stat().st_mtime_ns == before
    np.testing.assert_allclose(again.encode_passages(TEXTS[:2]), onnx.encode_passages(TEXTS[:2]), atol=1e-6)


def test_bf16_close_to_fp32(settings: Settings, fp32) -> None:
    bf16 = load_embedder(settings, "torch-bf16")
    assert _cos(fp32.encode_passages(TEXTS), bf16.encode_passages(TEXTS)).min() >= 0.99


def test_auto_backend_is_the_fastest_installed(settings: Settings) -> None:
    from indexer.embed import cpu_has_bf16
    from indexer.embed_openvino import cpu_has_int8_dot, openvino_available

    if openvino_available() and cpu_has_int8_dot():
        expected = "openvino-int8"
    else:
        expected = "torch-bf16" if cpu_has_bf16() else "torch-fp32"
    assert choose_backend(settings) == expected
