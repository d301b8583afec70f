"""The OpenVINO int8 backend with the real model: fidelity to float32, caching, identity.

Slow: exports and quantises the bundled model once (~25 s) into the session's model cache.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from common.settings import Settings
from indexer import embed
from indexer.embed import load_embedder

pytestmark = pytest.mark.slow
pytest.importorskip("openvino", reason="openvino-int8 needs OpenVINO: pip install 'councilqa[openvino]'")
pytest.importorskip("nncf", reason="openvino-int8 needs NNCF: pip install 'councilqa[openvino]'")

from indexer import embed_openvino as ovb  # noqa: E402
from tests.test_embed_backends import TEXTS, _cos  # noqa: E402


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("embed_ov")
    return Settings(index_dir=root / "index", cache_dir=root / "cache")


@pytest.fixture(scope="module")
def fp32(settings: Settings):
    return load_embedder(settings, "torch-fp32")


NO_INT8_DOT = ("this CPU has no int8 dot-product instructions (VNNI/AMX): `auto` never picks openvino-int8 "
               "here, and its int8 kernels stray from float32 below the bar, so the backend refuses itself "
               "(test_without_int8_dot_products_the_export_refuses_or_is_faithful)")


@pytest.fixture(scope="module")
def ov(settings: Settings):
    try:
        return load_embedder(settings, "openvino-int8")
    except ovb.LowFidelityError as exc:
        if ovb.cpu_has_int8_dot():
            raise  # where `auto` would pick it, the export must be faithful
        pytest.skip(f"{NO_INT8_DOT}: {exc}")


def test_without_int8_dot_products_the_export_refuses_or_is_faithful(settings: Settings, fp32) -> None:
    if ovb.cpu_has_int8_dot():
        pytest.skip("this CPU has int8 dot products: the fidelity tests of this file run instead")
    assert embed.choose_backend(settings) != "openvino-int8"
    try:
        ov = load_embedder(settings, "openvino-int8")
    except ovb.LowFidelityError as exc:  # an explicit choice is refused, naming the fix
        assert "torch-bf16 or torch-fp32" in str(exc)
        return
    assert _cos(fp32.encode_passages(TEXTS), ov.encode_passages(TEXTS)).min() >= ovb.FIDELITY_BAR


def test_openvino_int8_matches_fp32_per_passage(fp32, ov) -> None:
    a, b = fp32.encode_passages(TEXTS), ov.encode_passages(TEXTS)
    assert b.shape == a.shape and b.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert _cos(a, b).min() >= 0.99
    q = ["when was the bus shelter repaired?", "youth zone funding"]
    assert _cos(fp32.encode_queries(q), ov.encode_queries(q)).min() >= 0.99


def test_openvino_ranks_like_fp32(fp32, ov) -> None:
    query = ["what did the council decide about the bus shelter?"]
    def order(e): return list(np.argsort(-(e.encode_passages(TEXTS) @ e.encode_queries(query)[0])))
    assert order(ov)[:3] == order(fp32)[:3]


def test_openvino_order_batches_and_empty_input(ov) -> None:
    whole = ov.encode_passages(TEXTS)
    np.testing.assert_allclose(ov.encode_passages(TEXTS[::-1])[::-1], whole, atol=1e-5)
    ov.batch_size = 2  # several batches, sorted by length, must land back in place
    try:
        np.testing.assert_allclose(ov.encode_passages(TEXTS), whole, atol=2e-3)
    finally:
        ov.batch_size = 64
    assert ov.encode_passages([]).shape == (0, ov.dimension)


def test_openvino_identity_and_token_limit_match_torch(fp32, ov) -> None:
    assert (ov.model_id, ov.dimension, ov.max_tokens) == (fp32.model_id, fp32.dimension, fp32.max_tokens)
    assert ov.backend == "openvino-int8"
    for t in TEXTS:
        assert ov.count_tokens(t) == fp32.count_tokens(t)


def test_export_records_what_it_did(settings: Settings, ov) -> None:
    meta = json.loads((ov.folder / ovb.META_FILE).read_text())
    assert meta["export_version"] == ovb.EXPORT_VERSION
    # MiniLM has six blocks: the feed-forward down projections of the first three stay in floating point.
    assert meta["fp_layers"] == [f"/hf/encoder/layer.{i}/output/dense/MatMul" for i in range(3)]
    calibrate, held_out = ovb.calibration_split()
    assert (meta["calibration_windows"], meta["fidelity_windows"]) == (len(calibrate), len(held_out)) == (180, 40)
    assert meta["fidelity_min_cosine"] >= ovb.FIDELITY_BAR
    assert not (ov.folder / "model.onnx").exists()  # the float32 intermediate is not kept


def test_export_is_cached_reused_and_redone_when_stale(settings: Settings, ov, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = ovb.openvino_cache_folder(settings)
    assert folder == ov.folder and folder.is_relative_to(settings.resolved_model_cache_dir / "openvino")
    before = (folder / ovb.MODEL_XML).stat().st_mtime_ns
    again = ovb.OpenVinoEmbedder(settings)
    assert (folder / ovb.MODEL_XML).stat().st_mtime_ns == before
    np.testing.assert_allclose(again.encode_passages(TEXTS[:2]), ov.encode_passages(TEXTS[:2]), atol=1e-6)

    stale = settings.model_copy(update={"model_cache_dir": tmp_path})
    copy = ovb.openvino_cache_folder(stale)
    shutil.copytree(folder, copy)
    meta = json.loads((copy / ovb.META_FILE).read_text())
    (copy / ovb.META_FILE).write_text(json.dumps({**meta, "export_version": 0}))
    calls: list[Path] = []
    monkeypatch.setattr(ovb, "export_openvino", lambda s, f: calls.append(f) or meta)
    ovb.ensure_openvino(stale)
    assert calls == [copy]
