"""OpenVINO embedder: the sentence-transformers model quantised to int8 locally with NNCF.

The first use exports the configured model to ONNX (float32, the same export as the ONNX Runtime
backend), reads it into OpenVINO and quantises weights and activations to int8 with NNCF's
post-training quantisation, calibrated on `indexer/data/calibration.jsonl` (council text, made by
`scripts/make_calibration.py`) plus runs of a repeated phrase. The feed-forward down projections of
the first half of the blocks stay in floating point: their inputs (GELU outputs) have outliers that
int8 activations clip, and errors made early are carried through every later block. The export
then measures itself: the cosine to the float32 model on held-out windows (and repeated phrases
made from them) must reach 0.99, or `auto` falls back to PyTorch. The result goes to
`<model cache>/openvino/<model id>/`; later runs load it in about a second without importing torch.
Nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.settings import Settings
from indexer.embed_onnx import (
    FP32_FILE,
    META_FILE,  # noqa: F401 - the export's metadata file, named here for callers
    TOKENIZER_DIR,
    cpu_threads,
    export_fp32,
    load_tokenizers,
    read_meta,
    safe_model_name,
    source_fingerprint,
    write_folder,
)
from indexer.embedding_base import cpu_has_bf16, cpu_has_flag, normalise, resolve_model

EXPORT_VERSION = 2  # bump when the quantisation recipe changes; older cache folders are rebuilt
MODEL_XML = "model.xml"
CALIBRATION = Path(__file__).parent / "data" / "calibration.jsonl"
HELD_OUT = 32  # calibration windows kept out of calibration to measure the export's fidelity
FIDELITY_BAR = 0.99  # minimum per-passage cosine to float32 on the held-out windows
INSTALL_HINT = "pip install 'councilqa[openvino]' (openvino, nncf and onnx)"

log = logging.getLogger(__name__)


class LowFidelityError(RuntimeError):
    """The quantised model strays too far from float32 for this model; use a PyTorch backend."""


def _need_openvino() -> Any:
    try:
        import openvino as ov
    except ImportError as exc:
        raise RuntimeError(f"The openvino-int8 embedding backend needs OpenVINO: {INSTALL_HINT}") from exc
    return ov


def openvino_available() -> bool:
    """Everything the export needs is importable (checked without importing the heavy modules)."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("openvino", "nncf", "onnx", "tokenizers"))


def openvino_cache_folder(settings: Settings) -> Path:
    """The folder of the configured model's OpenVINO export in the model cache."""
    return settings.resolved_model_cache_dir / "openvino" / safe_model_name(settings)


def calibration_texts() -> list[str]:
    """The bundled council text windows (`data/calibration.jsonl`) that calibrate and test the int8 export."""
    return [json.loads(line) for line in CALIBRATION.read_text().splitlines() if line.strip()]


def repeated_phrases(texts: Sequence[str], every: int, words: int = 150) -> list[str]:
    """Each `every`-th text's first three words said over and over, to passage length.

    Transcripts hold such runs (roll-call votes, "thank you" round the table, caption stutter).
    They push some activations far past what ordinary prose reaches; calibrated on prose alone,
    one "Aye. Aye. ..." passage of the shared corpora fell to cosine 0.98 to float32."""
    out = []
    for text in texts[::every]:
        phrase = text.split()[:3]
        if phrase:
            out.append(" ".join((phrase * words)[:words]))
    return out


def calibration_split() -> tuple[list[str], list[str]]:
    """(calibration, held-out) texts: held-out windows never calibrate, so they test the export."""
    texts = calibration_texts()
    calibrate, held_out = texts[:-HELD_OUT], texts[-HELD_OUT:]
    return calibrate + repeated_phrases(calibrate, 8), held_out + repeated_phrases(held_out, 4)


def down_projections(model: Any) -> list[str]:
    """MatMuls with a constant weight that narrows (in features > out features): in a transformer
    these are the feed-forward output projections. Found by shape, so any BERT-like model works."""
    names = []
    for op in model.get_ops():
        if op.get_type_name() != "MatMul":
            continue
        weight = op.input_value(1).get_node()
        while weight.get_type_name() in ("Convert", "Reshape") and weight.get_input_size():
            weight = weight.input_value(0).get_node()
        if weight.get_type_name() != "Constant":
            continue
        shape = list(weight.get_output_shape(0))
        if len(shape) != 2:
            continue
        transposed = bool(op.get_attributes().get("transpose_b", False))
        in_features, out_features = (shape[1], shape[0]) if transposed else (shape[0], shape[1])
        if in_features > out_features:
            names.append(op.get_friendly_name())
    return names


def _feeds(tokenizer: Any, texts: Sequence[str], input_names: Sequence[str]) -> dict[str, np.ndarray]:
    encs = tokenizer.encode_batch(list(texts))
    arrays = {
        "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
    }
    return {name: arrays[name] for name in input_names}


def _precision() -> str:
    # bf16 for the layers left in floating point where the CPU has it natively: faster, and the
    # cosine to float32 stays >= 0.999 for those layers (measured in BENCHMARKS.md).
    return "bf16" if cpu_has_bf16() else "f32"


def _embed_with(ov: Any, model: Any, tokenizer: Any, texts: list[str], names: list[str],
                precision: str) -> np.ndarray:
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": precision})
    request = compiled.create_infer_request()
    out = [np.asarray(request.infer(_feeds(tokenizer, texts[i:i + 8], names))[0]) for i in range(0, len(texts), 8)]
    vecs = np.concatenate(out).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def export_openvino(settings: Settings, folder: Path) -> dict:
    """Export, quantise and check the configured model into `folder`."""
    ov = _need_openvino()
    try:
        import nncf
    except ImportError as exc:
        raise RuntimeError(f"Quantising for OpenVINO needs NNCF: {INSTALL_HINT}") from exc

    def fill(tmp: Path) -> dict:
        log.warning("Quantising %s for OpenVINO int8 (first use only, about a minute)", settings.model)
        meta, _ = export_fp32(settings, tmp)
        meta.update(export_version=EXPORT_VERSION)
        core = ov.Core()
        model = core.read_model(str(tmp / FP32_FILE))
        _, tokenizer = load_tokenizers(tmp / TOKENIZER_DIR, int(meta["max_seq_length"]))
        names = [n for n in meta["input_names"] if n in {i.get_any_name() for i in model.inputs}]
        calibrate, held_out = calibration_split()
        batches = [_feeds(tokenizer, calibrate[i:i + 8], names) for i in range(0, len(calibrate), 8)]
        downs = down_projections(model)  # in graph order: block 1 first
        # Measured on MiniLM over 1,000 passages of other councils: keeping the first half of them in
        # floating point gives the same fidelity as keeping all six (min cosine 0.992) and is 8% faster.
        keep = downs[: (len(downs) + 1) // 2]
        nncf.set_log_level(logging.ERROR)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            quantised = nncf.quantize(
                model, nncf.Dataset(batches), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(batches),
                ignored_scope=nncf.IgnoredScope(names=keep, validate=False),
            )
        # The reference in float32; the quantised model as it will run (bf16 where the CPU has it).
        reference = _embed_with(ov, core.read_model(str(tmp / FP32_FILE)), tokenizer, held_out, names, "f32")
        got = _embed_with(ov, quantised, tokenizer, held_out, names, _precision())
        cosines = np.sum(reference * got, axis=1)
        meta.update(fp_layers=keep, calibration_windows=len(calibrate), fidelity_windows=len(held_out),
                    fidelity_min_cosine=round(float(cosines.min()), 5),
                    fidelity_mean_cosine=round(float(cosines.mean()), 5))
        ov.save_model(quantised, str(tmp / MODEL_XML), compress_to_fp16=False)
        (tmp / FP32_FILE).unlink()
        return meta

    return write_folder(folder, fill)


def ensure_openvino(settings: Settings) -> tuple[Path, dict]:
    """The quantised model's folder and metadata, exporting it first when missing or stale."""
    folder = openvino_cache_folder(settings)
    meta = read_meta(folder)
    fresh = (
        meta is not None and meta.get("export_version") == EXPORT_VERSION
        and meta.get("source") == source_fingerprint(resolve_model(settings.model))
        and (folder / MODEL_XML).is_file() and (folder / TOKENIZER_DIR).is_dir()
    )
    if not fresh:
        meta = export_openvino(settings, folder)
    assert meta is not None
    return folder, meta


def passes_fidelity(meta: dict) -> bool:
    """Whether the export kept cosine >= `FIDELITY_BAR` to float32 on every held-out window."""
    return float(meta.get("fidelity_min_cosine", 0.0)) >= FIDELITY_BAR


class OpenVinoEmbedder:
    """Embedder protocol on OpenVINO (CPU) with the NNCF int8 model."""

    backend = "openvino-int8"

    def __init__(self, settings: Settings, threads: int | None = None, batch_size: int | None = None,
                 streams: int = 1) -> None:
        ov = _need_openvino()
        folder, meta = ensure_openvino(settings)
        if not passes_fidelity(meta):
            raise LowFidelityError(
                f"int8 quantisation of {settings.model!r} strays from float32 (cosine "
                f"{meta.get('fidelity_min_cosine')} < {FIDELITY_BAR} on held-out text); "
                "use --embed-backend torch-bf16 or torch-fp32 for this model"
            )
        self.folder = folder
        self.model_id = str(meta["model_id"])
        self.dimension = int(meta["dimension"])
        self.max_seq_length = int(meta["max_seq_length"])
        self.max_tokens = self.max_seq_length - int(meta["special_tokens"])
        self.tokenizer, self._batch_tokenizer = load_tokenizers(folder / TOKENIZER_DIR, self.max_seq_length)
        self.batch_size = batch_size or settings.embed_batch_size
        self.query_prefix = settings.query_prefix
        self.passage_prefix = settings.passage_prefix
        threads = threads or cpu_threads()
        config = {"INFERENCE_PRECISION_HINT": _precision(), "INFERENCE_NUM_THREADS": threads,
                  "NUM_STREAMS": max(1, streams), "PERFORMANCE_HINT": "LATENCY" if streams <= 1 else "THROUGHPUT"}
        compiled = ov.Core().compile_model(str(folder / MODEL_XML), "CPU", config)
        self._input_names = [n for n in meta["input_names"] if n in {i.get_any_name() for i in compiled.inputs}]
        self._queue = ov.AsyncInferQueue(compiled, max(1, streams))
        self.streams = max(1, streams)
        # One queue of requests and one callback: concurrent API requests take turns.
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        """How many tokens the saved tokenizer makes of the text, without special tokens or truncation."""
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            return self._encode_locked(texts)

    def _encode_locked(self, texts: Sequence[str]) -> np.ndarray:
        # Batches of similar length pad little: sort by character length, encode, restore the order.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)

        def done(request: Any, idx: np.ndarray) -> None:
            out[idx] = request.get_output_tensor(0).data

        self._queue.set_callback(done)
        # With several streams, smaller batches keep every stream busy.
        step = max(1, self.batch_size // self.streams) if len(texts) > self.batch_size else self.batch_size
        for start in range(0, len(texts), step):
            idx = order[start:start + step]
            self._queue.start_async(_feeds(self._batch_tokenizer, [texts[i] for i in idx], self._input_names), idx)
        self._queue.wait_all()
        return normalise(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors of the queries, each with the query prefix; shape (len(texts), dimension)."""
        return self._encode([self.query_prefix + t for t in texts])

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors of the passages, each with the passage prefix; shape (len(texts), dimension)."""
        return self._encode([self.passage_prefix + t for t in texts])


def cpu_has_int8_dot() -> bool:
    """True where the CPU has int8 dot-product instructions (VNNI or AMX), where int8 pays off."""
    return cpu_has_flag("avx512_vnni", "avx_vnni", "amx_int8")
