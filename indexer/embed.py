"""Embedders: turn passages and queries into normalised vectors, searched by inner product.

Query and passage encoding are separate so that models with prefixes ("query: ", "passage: ")
drop in through settings. `load_embedder` picks the backend; `FakeEmbedder` is a deterministic
hashing embedder for fast unit tests only. The protocol and shared helpers are in
`indexer.embedding_base`, which the ONNX and OpenVINO backends import instead of this module.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from common.settings import Settings

# The shared pieces live in `indexer.embedding_base`, so the backends need not import this module;
# they are re-exported here, where callers have always found them.
from indexer.embedding_base import (
    Embedder,
    cpu_has_bf16,
    model_id_for,
    normalise,
    quiet_transformers,
    resolve_model,
)

__all__ = [
    "Embedder", "FakeEmbedder", "SentenceTransformerEmbedder", "choose_backend", "cpu_has_bf16",
    "load_embedder", "model_id_for", "normalise", "quiet_transformers", "resolve_model",
]

log = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """sentence-transformers in PyTorch, float32 or bfloat16."""

    def __init__(self, settings: Settings, backend: str = "torch-fp32") -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover
            raise RuntimeError("Embedding needs sentence-transformers: pip install sentence-transformers") from exc
        path = resolve_model(settings.model)
        if Path(path).exists():  # a local model must never reach for the hub
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        quiet_transformers()
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except Exception as exc:
            raise RuntimeError(
                f"Could not load embedding model {settings.model!r}: {exc}. Give a local sentence-transformers "
                "folder or a model name available offline in COUNCILQA_MODEL / --model."
            ) from exc
        if backend == "torch-bf16":
            self._model = self._model.to(torch.bfloat16)
        self.backend = backend
        self.model_id = model_id_for(settings.model)
        dimension, max_len = self._model.get_embedding_dimension(), self._model.max_seq_length
        if dimension is None or max_len is None:
            raise RuntimeError(f"Model {settings.model!r} does not declare its dimension and maximum sequence length")
        self.dimension = int(dimension)
        # The encoder silently drops tokens past max_seq_length; [CLS] and [SEP] take two of them.
        specials = self._model.tokenizer.num_special_tokens_to_add(pair=False)
        self.max_tokens = int(max_len) - specials
        self.batch_size = settings.embed_batch_size
        self.query_prefix = settings.query_prefix
        self.passage_prefix = settings.passage_prefix
        self.tokenizer = self._model.tokenizer

    def count_tokens(self, text: str) -> int:
        """How many tokens the model's own tokenizer makes of the text, without special tokens or truncation."""
        return len(self.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return normalise(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors of the queries, each with the query prefix; shape (len(texts), dimension)."""
        return self._encode([self.query_prefix + t for t in texts])

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors of the passages, each with the passage prefix; shape (len(texts), dimension)."""
        return self._encode([self.passage_prefix + t for t in texts])


class FakeEmbedder:
    """Deterministic hashed bag-of-words vectors. For unit tests only: no semantics beyond word overlap."""

    backend = "fake"

    def __init__(self, dimension: int = 64, max_tokens: int = 254, model_id: str = "fake-hash-64") -> None:
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.model_id = model_id
        self.calls = 0  # passages encoded, so tests can count re-embedding

    @staticmethod
    def _words(text: str) -> list[str]:
        return re.findall(r"[a-z0-9]+", text.lower())

    def count_tokens(self, text: str) -> int:
        """Roughly what a wordpiece tokenizer counts: one token per word and one per punctuation mark."""
        return len(re.findall(r"\w+|[^\w\s]", text))

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        for w in self._words(text):
            h = int.from_bytes(hashlib.md5(w.encode()).digest()[:4], "little")
            v[h % self.dimension] += 1.0 if (h >> 31) & 1 else -1.0
        return v

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised hashed bag-of-words vectors of the texts; shape (len(texts), dimension)."""
        return normalise(np.stack([self._vec(t) for t in texts])) if texts else np.zeros((0, self.dimension))

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """The same vectors as `encode_queries`, counting the passages in `calls`."""
        self.calls += len(texts)
        return self.encode_queries(texts)


def _openvino_usable(settings: Settings) -> bool:
    """openvino-int8 for `auto`: installed, a CPU with int8 dot products, and an export of this model
    that keeps cosine >= 0.99 to float32 (made here on first use, then read from the model cache)."""
    from indexer import embed_openvino as ovb

    if not (ovb.openvino_available() and ovb.cpu_has_int8_dot()):
        return False
    try:
        _, meta = ovb.ensure_openvino(settings)
    except Exception as exc:  # an unusual model the export cannot handle: PyTorch still can
        log.warning("openvino-int8 unavailable for %s (%s); using PyTorch", settings.model, exc)
        return False
    if not ovb.passes_fidelity(meta):
        log.warning("int8 quantisation of %s misses the cosine bar (%s); using PyTorch",
                    settings.model, meta.get("fidelity_min_cosine"))
        return False
    return True


def choose_backend(settings: Settings) -> str:
    """The backend `auto` means on this machine: the fastest one that is installed and faithful."""
    if settings.embed_backend != "auto":
        return settings.embed_backend
    if _openvino_usable(settings):
        return "openvino-int8"
    return "torch-bf16" if cpu_has_bf16() else "torch-fp32"


def load_embedder(settings: Settings, backend: str | None = None) -> Embedder:
    """The embedder of the settings' model on the given backend (default: `choose_backend`).

    Raises ValueError for an unknown backend, RuntimeError when the model or the backend cannot be loaded.
    """
    backend = backend or choose_backend(settings)
    if backend in ("torch-fp32", "torch-bf16"):
        return SentenceTransformerEmbedder(settings, backend)
    if backend == "onnx-int8":
        from indexer.embed_onnx import OnnxInt8Embedder

        return OnnxInt8Embedder(settings)
    if backend == "openvino-int8":
        from indexer.embed_openvino import OpenVinoEmbedder

        return OpenVinoEmbedder(settings)
    raise ValueError(
        f"Unknown embedding backend {backend!r}; use auto, torch-fp32, torch-bf16, onnx-int8 or openvino-int8"
    )


QUERY_FIDELITY = 0.999  # least cosine between the query encoder's vectors and the passage embedder's
_PROBES = ("what did the council decide about the budget?", "Cllr Jane Francis asked about school transport.",
           "The committee approved the pothole repair programme for 2025.")


def load_query_embedder(settings: Settings, passages: Embedder) -> Embedder:
    """The encoder of queries (and of sentences scored at answer time) for a service whose passages
    `passages` embeds.

    `auto` takes ONNX Runtime on the model's float32 export where onnxruntime is installed: the same
    float32 vectors as PyTorch (cosine > 0.9999; checked here on a few probes) at about four times the
    speed for one short text, which is what a query is. Otherwise, or if the export or the check fails,
    it is the passage embedder itself. `same` always uses the passage embedder.
    """
    choice = settings.query_backend
    if choice == "same" or (choice == "auto" and not passages.backend.startswith("torch")):
        return passages  # int8 passage vectors are matched by the same int8 encoder; fakes stay fakes
    try:
        from indexer.embed_onnx import OnnxInt8Embedder

        fast = OnnxInt8Embedder(settings, precision="fp32", threads=settings.query_threads or None)
        cos = (fast.encode_queries(list(_PROBES)) * passages.encode_queries(list(_PROBES))).sum(axis=1)
        if float(cos.min()) < QUERY_FIDELITY:
            raise RuntimeError(f"its vectors stray from the passage embedder's (cosine {float(cos.min()):.4f})")
    except Exception as exc:  # onnxruntime missing, or an unusual model the export cannot handle
        if choice == "onnx-fp32":
            raise RuntimeError(f"query backend onnx-fp32 is unavailable: {exc}. Install it with "
                               "pip install 'councilqa[onnx]', or set COUNCILQA_QUERY_BACKEND=same") from exc
        log.info("queries use the passage embedder (%s): onnx-fp32 unavailable (%s)", passages.backend, exc)
        return passages
    return fast
