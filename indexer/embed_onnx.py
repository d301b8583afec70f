"""ONNX Runtime embedder: the sentence-transformers model exported locally, quantised to int8.

The first use exports the configured model (transformer + pooling + L2 normalisation in one
graph) with `torch.onnx.export`, fuses it with ONNX Runtime's transformer optimiser and
quantises the weights to int8 (`quantize_dynamic`, VNNI kernels on CPUs that have them). The
files, the tokenizer and a small `meta.json` go to `<cache_dir>/onnx/<model id>/`; later runs
load them without importing torch. Nothing is downloaded.

Vectors match float32 PyTorch to cosine >= 0.99 per passage on council text (see BENCHMARKS.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.settings import Settings
from indexer.embedding_base import model_id_for, normalise, quiet_transformers, resolve_model

EXPORT_VERSION = 3  # bump when the exported graph changes; older cache folders are rebuilt
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
META_FILE = "meta.json"
TOKENIZER_DIR = "tokenizer"

FFN_OUT = re.compile(r"layer\.\d+/output/dense/MatMul$")  # BERT-style names of the FFN output projection

log = logging.getLogger(__name__)


def _need_onnxruntime():
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise RuntimeError(
            "The onnx-int8 embedding backend needs onnxruntime and onnx: pip install 'councilqa[onnx]'"
        ) from exc
    return ort


def cpu_threads() -> int:
    """How many CPUs this process may run on (its affinity set where the OS has one), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def onnx_cache_folder(settings: Settings) -> Path:
    """The folder of the configured model's ONNX export in the model cache."""
    return settings.resolved_model_cache_dir / "onnx" / safe_model_name(settings)


def safe_model_name(settings: Settings) -> str:
    """The configured model's identity as a safe file name (letters, digits, `._-`; "model" if nothing is left)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model_id_for(settings.model)).strip("_") or "model"


def source_fingerprint(name: str) -> str:
    """What the export was made from: a local folder by its weight files' sizes and times."""
    path = Path(name)
    if not path.exists():
        return name
    parts = []
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.suffix in {".safetensors", ".bin", ".json", ".txt"}:
            st = f.stat()
            parts.append(f"{f.relative_to(path)}:{st.st_size}:{int(st.st_mtime)}")
    return f"{path.resolve()}|" + ";".join(parts)


def export_fp32(settings: Settings, out_dir: Path) -> tuple[dict, Any]:
    """Export the configured model (transformer, pooling, L2 norm) to `out_dir/model.onnx` in float32,
    with its tokenizer in `out_dir/tokenizer`. Returns the metadata and the Hugging Face config."""
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover
        raise RuntimeError("Exporting the model needs torch and sentence-transformers") from exc

    source = resolve_model(settings.model)
    if Path(source).exists():  # a local model must never reach for the hub
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quiet_transformers()
    try:
        st = SentenceTransformer(source, device="cpu")
    except Exception as exc:
        raise RuntimeError(f"Could not load embedding model {settings.model!r} for export: {exc}") from exc

    modules = [type(m).__name__ for m in st]
    if modules[:2] != ["Transformer", "Pooling"] or any(m not in ("Normalize",) for m in modules[2:]):
        raise RuntimeError(
            f"Model export supports Transformer + Pooling (+ Normalize) models; {settings.model!r} has {modules}. "
            "Use --embed-backend torch-fp32 for this model."
        )
    pooling = getattr(st[1], "pooling_mode", "mean")
    if isinstance(pooling, list | tuple):
        pooling = pooling[0] if len(pooling) == 1 else ",".join(pooling)
    if pooling not in ("mean", "cls"):
        raise RuntimeError(f"Model export supports mean or cls pooling, not {pooling!r}; use torch-fp32")
    first: Any = st[0]
    hf: Any = first.auto_model.eval().float()
    # The classic (eager) attention exports as the MatMul/Softmax pattern ONNX Runtime fuses into
    # one Attention op, which quantises to QAttention; SDPA exports as a pattern it does not fuse.
    with contextlib.suppress(Exception):
        hf.set_attn_implementation("eager")
    if getattr(hf.config, "_attn_implementation", "eager") != "eager":
        with contextlib.suppress(Exception):
            hf.config._attn_implementation = "eager"
    tokenizer = st.tokenizer
    input_names = [n for n in tokenizer.model_input_names if n in ("input_ids", "attention_mask", "token_type_ids")]
    if "attention_mask" not in input_names:
        input_names.append("attention_mask")

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hf = hf

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            kw = dict(zip(input_names, inputs, strict=True))
            tokens = self.hf(**kw).last_hidden_state
            if pooling == "cls":
                emb = tokens[:, 0]
            else:
                mask = kw["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                emb = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(emb, p=2.0, dim=1)

    meta = {
        "model_id": model_id_for(settings.model),
        "source": source_fingerprint(source),
        "dimension": int(st.get_embedding_dimension() or 0),
        "max_seq_length": int(st.max_seq_length or 0),
        "special_tokens": int(tokenizer.num_special_tokens_to_add(pair=False)),
        "pooling": pooling,
        "input_names": input_names,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    sample = tokenizer(["a council meeting", "minutes of the planning committee"], padding=True, return_tensors="pt")
    args = tuple(sample[n] if n in sample else torch.zeros_like(sample["input_ids"]) for n in input_names)
    axes = {n: {0: "batch", 1: "sequence"} for n in input_names}
    axes["sentence_embedding"] = {0: "batch"}
    # The tracer warns about Python branches in the masking code; they are constant for encoders.
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(open(os.devnull, "w")):  # noqa: SIM115
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled().eval(), args, str(out_dir / FP32_FILE), input_names=input_names,
            output_names=["sentence_embedding"], dynamic_axes=axes, opset_version=17, do_constant_folding=True,
            dynamo=False,
        )
    tokenizer.save_pretrained(str(out_dir / TOKENIZER_DIR))
    return meta, hf.config


def write_folder(folder: Path, fill: Callable[[Path], dict]) -> dict:
    """Build a cache folder in a temporary sibling, then move it in whole: an interrupted export
    leaves nothing half-written, and of two processes exporting at once the first one wins."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        meta = fill(tmp)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        try:
            tmp.rename(folder)
        except OSError:  # another process moved its export in first; it is equivalent
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def export_model(settings: Settings, folder: Path, *, optimize: bool = True) -> dict:
    """Export and quantise the configured model into `folder` for ONNX Runtime."""
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise RuntimeError(
            "Exporting to ONNX needs the onnx package as well as onnxruntime: pip install 'councilqa[onnx]'"
        ) from exc

    def fill(tmp: Path) -> dict:
        meta, config = export_fp32(settings, tmp)
        meta.update(export_version=EXPORT_VERSION, optimized=False)
        fp32 = tmp / FP32_FILE
        to_quantise = fp32
        if optimize:
            # Fuse attention, layer norm and GELU first: the fused Attention op quantises to int8 too.
            try:
                from onnxruntime.transformers.optimizer import optimize_model

                opt = optimize_model(
                    str(fp32), model_type="bert", num_heads=int(getattr(config, "num_attention_heads", 0)),
                    hidden_size=int(getattr(config, "hidden_size", 0)), opt_level=1,
                )
                fused = tmp / "model.opt.onnx"
                opt.save_model_to_file(str(fused))
                to_quantise = fused
                meta["optimized"] = True
            except Exception as exc:  # the plain graph still works, only slower
                log.warning("ONNX transformer fusion failed (%s); quantising the unfused graph", exc)
        # Keep the feed-forward output projections in float32: their inputs (GELU outputs) have
        # outliers that per-tensor int8 activations clip, which alone pulls some passages below
        # cosine 0.99 to float32. The other 30 projections and attention run in int8.
        graph = onnx.load(str(to_quantise), load_external_data=False).graph
        keep_fp32 = [n.name for n in graph.node if n.op_type == "MatMul" and FFN_OUT.search(n.name)]
        meta["fp32_nodes"] = keep_fp32
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic logs a "consider pre-processing" warning at root
        try:
            quantize_dynamic(
                str(to_quantise), str(tmp / INT8_FILE), weight_type=QuantType.QInt8, per_channel=True,
                nodes_to_exclude=keep_fp32,
                # Fused ops (com.microsoft domain) defeat ONNX shape inference; their outputs are float.
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            root.setLevel(level)
        if to_quantise != fp32:
            to_quantise.unlink()
        return meta

    return write_folder(folder, fill)


def read_meta(folder: Path) -> dict | None:
    """The export's metadata from `meta.json` in the folder, or None when it is missing or unreadable."""
    try:
        return dict(json.loads((folder / META_FILE).read_text()))
    except (OSError, json.JSONDecodeError):
        return None


def ensure_exported(settings: Settings) -> tuple[Path, dict]:
    """The cache folder for the configured model, exporting it first when missing or stale."""
    folder = onnx_cache_folder(settings)
    meta = read_meta(folder)
    source = resolve_model(settings.model)
    fresh = (
        meta is not None and meta.get("export_version") == EXPORT_VERSION
        and meta.get("source") == source_fingerprint(source)
        and (folder / INT8_FILE).is_file() and (folder / FP32_FILE).is_file()
        and (folder / TOKENIZER_DIR).is_dir()
    )
    if not fresh:
        meta = export_model(settings, folder)
    assert meta is not None
    return folder, meta


def load_tokenizers(folder: Path, max_length: int):
    """Two copies of the saved fast tokenizer: one plain (counting), one truncating and padding (batches)."""
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: delete {folder.parent} to export the model again")
    plain = Tokenizer.from_file(str(path))
    plain.no_truncation()
    plain.no_padding()
    batch = Tokenizer.from_file(str(path))
    batch.enable_truncation(max_length=max_length)
    pad_token = "[PAD]"
    with contextlib.suppress(OSError, json.JSONDecodeError, TypeError):
        config = json.loads((folder / "tokenizer_config.json").read_text())
        pad = config.get("pad_token")
        pad_token = pad.get("content", pad_token) if isinstance(pad, dict) else (pad or pad_token)
    pad_id = batch.token_to_id(pad_token)
    batch.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad_token)
    return plain, batch


class OnnxInt8Embedder:
    """Embedder protocol on ONNX Runtime (CPU): int8 weights by default, float32 with precision='fp32'."""

    def __init__(self, settings: Settings, precision: str = "int8", threads: int | None = None,
                 batch_size: int | None = None, spin: bool = False) -> None:
        ort = _need_onnxruntime()

        if precision not in ("int8", "fp32"):
            raise ValueError(f"precision must be int8 or fp32, not {precision!r}")
        folder, meta = ensure_exported(settings)
        self.folder = folder
        self.backend = "onnx-int8" if precision == "int8" else "onnx-fp32"
        self.model_id = str(meta["model_id"])
        self.dimension = int(meta["dimension"])
        self.max_seq_length = int(meta["max_seq_length"])
        # Same limit as SentenceTransformerEmbedder: the sequence length less [CLS] and [SEP].
        self.max_tokens = self.max_seq_length - int(meta["special_tokens"])
        self.input_names = list(meta["input_names"])
        # The `tokenizers` library straight from tokenizer.json: importing transformers would import
        # torch (~8 s on a busy 2-core box), most of the service's start-up budget.
        self.tokenizer, self._batch_tokenizer = load_tokenizers(folder / TOKENIZER_DIR, self.max_seq_length)
        self.batch_size = batch_size or settings.embed_batch_size
        self.query_prefix = settings.query_prefix
        self.passage_prefix = settings.passage_prefix

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or cpu_threads()
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: on a shared or small machine spinning threads
        # steal the cores the other worker needs (measured several times slower under load).
        if not spin:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model_file = folder / (INT8_FILE if precision == "int8" else FP32_FILE)
        self.session = ort.InferenceSession(str(model_file), sess_options=opts, providers=["CPUExecutionProvider"])
        self._session_inputs = {i.name for i in self.session.get_inputs()}

    def count_tokens(self, text: str) -> int:
        """How many tokens the saved tokenizer makes of the text, without special tokens or truncation."""
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def _run(self, texts: list[str]) -> np.ndarray:
        encs = self._batch_tokenizer.encode_batch(texts)
        arrays = {
            "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
        }
        feeds = {name: arrays[name] for name in self.input_names if name in self._session_inputs}
        (out,) = self.session.run(["sentence_embedding"], feeds)
        return np.asarray(out, dtype=np.float32)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Batches of similar length pad little: sort by character length, encode, restore the order.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            idx = order[start:start + self.batch_size]
            out[idx] = self._run([texts[i] for i in idx])
        return normalise(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors of the queries, each with the query prefix; shape (len(texts), dimension)."""
        return self._encode([self.query_prefix + t for t in texts])

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors of the passages, each with the passage prefix; shape (len(texts), dimension)."""
        return self._encode([self.passage_prefix + t for t in texts])
