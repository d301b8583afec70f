"""What `embed_backend=auto` picks, and the checks around the OpenVINO backend, without the real model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from common.settings import Settings
from indexer import embed
from indexer import embed_openvino as ovb


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", model_cache_dir=tmp_path / "models")


def _machine(monkeypatch: pytest.MonkeyPatch, *, ov: bool, vnni: bool, bf16: bool,
             meta: dict | Exception | None = None) -> list[Settings]:
    exports: list[Settings] = []

    def ensure(s: Settings):
        exports.append(s)
        if isinstance(meta, Exception):
            raise meta
        return Path("unused"), meta or {"fidelity_min_cosine": 0.997}

    monkeypatch.setattr(ovb, "openvino_available", lambda: ov)
    monkeypatch.setattr(ovb, "cpu_has_int8_dot", lambda: vnni)
    monkeypatch.setattr(ovb, "ensure_openvino", ensure)
    monkeypatch.setattr(embed, "cpu_has_bf16", lambda: bf16)
    return exports


@pytest.mark.parametrize(("ov", "vnni", "bf16", "expected"), [
    (True, True, True, "openvino-int8"),
    (True, True, False, "openvino-int8"),
    (True, False, True, "torch-bf16"),  # no int8 dot products: int8 would not pay off
    (False, True, True, "torch-bf16"),  # not installed
    (False, False, False, "torch-fp32"),
])
def test_auto_picks_the_fastest_usable_backend(monkeypatch, settings, ov, vnni, bf16, expected) -> None:
    exports = _machine(monkeypatch, ov=ov, vnni=vnni, bf16=bf16)
    assert embed.choose_backend(settings) == expected
    assert len(exports) == (1 if ov and vnni else 0)


class _Log:
    """Records warnings: other libraries' logging set-up must not hide what this test checks."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, msg: str, *args: object) -> None:
        self.lines.append(msg % args)


def test_auto_falls_back_when_quantisation_is_not_faithful(monkeypatch, settings) -> None:
    _machine(monkeypatch, ov=True, vnni=True, bf16=True, meta={"fidelity_min_cosine": 0.97})
    monkeypatch.setattr(embed, "log", log := _Log())
    assert embed.choose_backend(settings) == "torch-bf16"
    assert len(log.lines) == 1 and "misses the cosine bar (0.97)" in log.lines[0]


def test_auto_falls_back_when_the_export_fails(monkeypatch, settings) -> None:
    _machine(monkeypatch, ov=True, vnni=True, bf16=False, meta=RuntimeError("Model export supports mean or cls"))
    monkeypatch.setattr(embed, "log", log := _Log())
    assert embed.choose_backend(settings) == "torch-fp32"
    assert len(log.lines) == 1 and "openvino-int8 unavailable" in log.lines[0] and "mean or cls" in log.lines[0]


def test_an_explicit_backend_is_kept(monkeypatch, settings) -> None:
    exports = _machine(monkeypatch, ov=True, vnni=True, bf16=True)
    for backend in ("torch-fp32", "torch-bf16", "onnx-int8", "openvino-int8"):
        assert embed.choose_backend(settings.model_copy(update={"embed_backend": backend})) == backend
    assert exports == []


def test_unknown_backend_is_refused_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="openvino-int8"):
        Settings(index_dir=tmp_path, embed_backend="openvino")
    with pytest.raises(ValueError, match="openvino-int8"):
        embed.load_embedder(Settings(index_dir=tmp_path), "tensorrt")


def test_explicit_openvino_refuses_an_unfaithful_export(monkeypatch, settings) -> None:
    pytest.importorskip("openvino")
    monkeypatch.setattr(ovb, "ensure_openvino", lambda s: (Path("x"), {"fidelity_min_cosine": 0.95}))
    with pytest.raises(ovb.LowFidelityError, match="use --embed-backend torch-bf16"):
        ovb.OpenVinoEmbedder(settings)


def test_model_cache_defaults_to_the_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COUNCILQA_MODEL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Settings(index_dir=tmp_path).resolved_model_cache_dir == tmp_path / "xdg" / "councilqa"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Settings(index_dir=tmp_path).resolved_model_cache_dir == tmp_path / "home" / ".cache" / "councilqa"


def test_down_projections_are_found_by_shape() -> None:
    """A two-layer feed-forward block (8 -> 32 -> 8), one weight transposed: only the narrowing one."""
    ov = pytest.importorskip("openvino")
    import numpy as np
    from openvino import opset13 as ops

    x = ops.parameter([1, 4, 8], np.float32, name="x")
    up = ops.matmul(x, ops.constant(np.ones((8, 32), np.float32)), False, False)
    up.set_friendly_name("ffn/up")
    act = ops.relu(up)
    down = ops.matmul(act, ops.constant(np.ones((8, 32), np.float32)), False, True)  # weight stored [out, in]
    down.set_friendly_name("ffn/down")
    model = ov.Model([down], [x], "ffn")
    assert ovb.down_projections(model) == ["ffn/down"]


def test_repeated_phrases_and_the_held_out_split() -> None:
    texts = ["Aye all in favour", "Thank you chair and members", "x"]
    assert ovb.repeated_phrases(texts, 2, words=7) == ["Aye all in Aye all in Aye", "x x x x x x x"]
    calibrate, held_out = ovb.calibration_split()
    windows = ovb.calibration_texts()
    assert calibrate[:-20] == windows[:-ovb.HELD_OUT] and held_out[:ovb.HELD_OUT] == windows[-ovb.HELD_OUT:]
    assert not set(calibrate) & set(held_out)


def test_calibration_text_ships_with_the_package() -> None:
    texts = ovb.calibration_texts()
    assert len(texts) == 192 and len(texts) > ovb.HELD_OUT * 4
    assert all(isinstance(t, str) and t.strip() for t in texts)
