"""Real and derived vectors for the index/search benchmarks, cached under the bench cache folder.

Real: every ~150-word window of ../shared/corpora embedded with the chosen backend.
Derived (synthetic sizes): real vectors plus small Gaussian noise, renormalised; their texts are
real windows with their words shuffled within 30-word blocks, so BM25 sees real vocabulary and
realistic document lengths but no exact duplicates.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import real_passages
from common.settings import Settings

BENCH_CACHE = Path(tempfile.gettempdir()) / "councilqa-bench-cache"
NOISE = 0.35  # per-dimension sigma relative to 1/sqrt(d): derived vectors stay near, not on, real ones


def real_vectors(backend: str = "onnx-int8", limit: int | None = None, batch: int = 32,
                 cache: Path = BENCH_CACHE) -> tuple[list[str], np.ndarray]:
    texts = real_passages(None)
    if limit:
        texts = texts[:limit]
    tag = f"{backend}-{len(texts)}"
    vec_file, meta_file = cache / f"real_vectors-{tag}.npy", cache / f"real_vectors-{tag}.json"
    if vec_file.is_file() and meta_file.is_file():
        return texts, np.load(vec_file)
    cache.mkdir(parents=True, exist_ok=True)
    from indexer.embed import load_embedder

    settings = Settings(index_dir=cache / "index", cache_dir=cache, embed_batch_size=batch)
    emb = load_embedder(settings, backend)
    t0 = time.perf_counter()
    out = []
    step = 1024
    for i in range(0, len(texts), step):
        out.append(emb.encode_passages(texts[i:i + step]))
        print(f"  embedded {min(i + step, len(texts))}/{len(texts)} "
              f"({(i + step) / (time.perf_counter() - t0):.1f}/s)", file=sys.stderr, flush=True)
    vecs = np.vstack(out).astype(np.float32)
    np.save(vec_file, vecs)
    meta_file.write_text(json.dumps({"backend": backend, "n": len(texts), "seconds": time.perf_counter() - t0}))
    return texts, vecs


def derive_vectors(real: np.ndarray, n: int, seed: int = 0, noise: float = NOISE) -> np.ndarray:
    """n vectors: real ones (all of them first) then noisy copies, renormalised, in float32."""
    rng = np.random.default_rng(seed)
    d = real.shape[1]
    out = np.empty((n, d), np.float32)
    m = min(n, len(real))
    out[:m] = real[:m]
    sigma = noise / np.sqrt(d)
    for start in range(m, n, 100_000):
        stop = min(n, start + 100_000)
        src = real[rng.integers(0, len(real), stop - start)]
        block = src + rng.normal(0, sigma, size=src.shape).astype(np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def derive_texts(real: list[str], n: int, seed: int = 0, block: int = 30) -> list[str]:
    rng = random.Random(seed)
    out = list(real[:n])
    while len(out) < n:
        words = real[rng.randrange(len(real))].split()
        blocks = [words[i:i + block] for i in range(0, len(words), block)]
        for b in blocks:
            rng.shuffle(b)
        rng.shuffle(blocks)
        out.append(" ".join(w for b in blocks for w in b))
    return out


def query_vectors(real: np.ndarray, nq: int, seed: int = 7) -> np.ndarray:
    """Query-like vectors: real passage vectors, perturbed (a query is near, not equal to, a passage)."""
    rng = np.random.default_rng(seed)
    q = real[rng.choice(len(real), size=nq, replace=False)]
    q = q + rng.normal(0, 0.6 / np.sqrt(real.shape[1]), size=q.shape).astype(np.float32)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Embed every shared-corpus window once (cached).")
    ap.add_argument("--backend", default="onnx-int8")
    ap.add_argument("--limit", type=int, default=None)
    a = ap.parse_args()
    t, v = real_vectors(a.backend, a.limit)
    print(len(t), v.shape)


SNAPSHOT = BENCH_CACHE / "real_vectors-shared-chunks.npy"


def load_real(smoke: bool = False, snapshot: Path = SNAPSHOT) -> tuple[list[str], np.ndarray]:
    """Real passage texts (windows) and real chunk vectors.

    Vectors come from `snapshot` when present: the embedding cache of a `councilqa index
    ../shared/corpora` build exported to .npy (see BENCHMARKS.md); otherwise every window is
    embedded here once with onnx-int8 (slow on 2 cores: ~1 h). The smoke run uses 500 windows and,
    without a snapshot, seeded random clustered vectors: it only checks that the scripts run.
    """
    texts = real_passages(None)
    if snapshot.is_file():
        vecs = np.load(snapshot)
    elif smoke:
        rng = np.random.default_rng(0)
        centres = rng.normal(size=(40, 384)).astype(np.float32)
        vecs = centres[rng.integers(0, 40, 2000)] + rng.normal(0, 0.3, size=(2000, 384)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    else:
        texts, vecs = real_vectors()
    if smoke:
        return texts[:500], vecs[:2000]
    return texts, vecs.astype(np.float32)
