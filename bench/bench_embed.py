"""Embedding throughput and fidelity, every backend side by side in one run.

    python -m bench.bench_embed                 # ~400 real council passages (~150 words, ~200 tokens)
    python -m bench.bench_embed --smoke         # a few passages, two backends: CI checks it runs
    python -m bench.bench_embed --sweep         # also batch sizes and thread counts

Prints passages/s and tokens/s, the speed-up over float32 PyTorch, and the mean and minimum
per-passage cosine similarity to the float32 vectors (the bar is >= 0.99).
Passages are sorted by length before batching (sentence-transformers does this itself).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, real_passages, table
from common.settings import Settings

warnings.filterwarnings("ignore")
COSINE_BAR = 0.99


def _torch_embedder(settings: Settings, backend: str, batch: int, threads: int | None, mode: str = "to"):
    import torch

    from indexer.embed import SentenceTransformerEmbedder

    if threads:
        torch.set_num_threads(threads)
    if mode == "autocast":
        e = SentenceTransformerEmbedder(settings, "torch-fp32")
        e.backend = "torch-bf16-autocast"
        inner = e._encode

        def encode(texts):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return inner(texts)

        e._encode = encode  # type: ignore[method-assign]
    else:
        e = SentenceTransformerEmbedder(settings, backend)
    e.batch_size = batch
    return e


def _onnx_embedder(settings: Settings, precision: str, batch: int, threads: int | None, spin: bool = False):
    from indexer.embed_onnx import OnnxInt8Embedder

    e = OnnxInt8Embedder(settings, precision=precision, threads=threads, batch_size=batch, spin=spin)
    e.backend += "-spin" if spin else ""
    return e


def _openvino_embedder(settings: Settings, batch: int, threads: int | None, streams: int = 1):
    from indexer.embed_openvino import OpenVinoEmbedder

    e = OpenVinoEmbedder(settings, threads=threads, batch_size=batch, streams=streams)
    e.backend += f"-{streams}streams" if streams > 1 else ""
    return e


def run(passages: list[str], configs: list[tuple[str, Callable[[], Any]]], repeat: int = 1) -> list[dict]:
    """Every backend built first, then timed in interleaved rounds (best of `repeat`): on a shared
    machine the load changes minute to minute, and interleaving spreads it over all rows alike."""
    import torch

    default_threads = torch.get_num_threads()
    built = []
    for name, make in configs:
        emb = make()
        threads = torch.get_num_threads()
        torch.set_num_threads(default_threads)
        built.append((name, emb, threads))
    n_tokens = sum(min(built[0][1].count_tokens(p), built[0][1].max_tokens) + 2 for p in passages)
    best = {name: float("inf") for name, _, _ in built}
    cpu = {name: float("inf") for name, _, _ in built}
    vectors: dict[str, np.ndarray] = {}
    for r in range(repeat):
        # Each round starts one backend later, so a load that drifts over the run favours none of them.
        for name, emb, threads in built[r % len(built):] + built[:r % len(built)]:
            torch.set_num_threads(threads)
            if name not in vectors:
                emb.encode_passages(passages[:8])  # warm up (allocations, kernel selection)
            t0, c0 = time.perf_counter(), time.process_time()
            vectors[name] = emb.encode_passages(passages)
            best[name] = min(best[name], time.perf_counter() - t0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
            torch.set_num_threads(default_threads)
            rate = len(passages) / best[name]
            print(f"  round {r + 1} {name}: {rate:.1f} passages/s (load {os.getloadavg()[0]:.1f})",
                  file=sys.stderr, flush=True)
    reference = vectors[built[0][0]]
    rows: list[dict] = []
    for name, _, _ in built:
        vecs = vectors[name]
        cos = np.sum(vecs * reference, axis=1) / (np.linalg.norm(vecs, axis=1) * np.linalg.norm(reference, axis=1))
        rows.append({"backend": name, "passages/s": len(passages) / best[name], "tokens/s": n_tokens / best[name],
                     "seconds": best[name], "passages/CPU-s": len(passages) / cpu[name],
                     "cos mean": float(cos.mean()), "cos min": float(cos.min())})
    base, base_cpu = rows[0]["passages/s"], rows[0]["passages/CPU-s"]
    for row in rows:
        row["speed-up"] = row["passages/s"] / base
        row["CPU speed-up"] = row["passages/CPU-s"] / base_cpu
        row["cos>=0.99"] = "yes" if row["cos min"] >= COSINE_BAR else "NO"
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=400)
    ap.add_argument("--words", type=int, default=150, help="words per passage (150 ~ 200 model tokens)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2, help="interleaved rounds; the best of each is kept")
    ap.add_argument("--sweep", action="store_true", help="also batch sizes and torch thread counts")
    ap.add_argument("--threads", action="store_true",
                    help="only fp32 / bf16 / onnx-int8, each with all cores and with 1 thread")
    ap.add_argument("--main", action="store_true",
                    help="only the shipped backends: torch fp32 / bf16, onnx-int8, openvino-int8")
    ap.add_argument("--smoke", action="store_true", help="tiny run for CI: 16 passages, torch fp32 and bf16")
    ap.add_argument("--cache-dir", type=Path, default=None, help="where the ONNX export is cached")
    args = ap.parse_args(argv)

    cache = args.cache_dir or Path(tempfile.gettempdir()) / "councilqa-bench-cache"
    settings = Settings(index_dir=cache / "index", cache_dir=cache, model_cache_dir=cache / "models")
    n = 16 if args.smoke else args.passages
    passages = real_passages(n, words=args.words, seed=1)
    cores = len(os.sched_getaffinity(0))
    b = args.batch
    configs: list[tuple[str, Callable[[], Any]]] = [
        (f"torch-fp32 b{b}", lambda: _torch_embedder(settings, "torch-fp32", b, None)),
    ]
    if args.smoke:  # the ONNX export alone takes ~20 s; tests/test_embed_backends.py covers it (slow)
        configs.append((f"torch-bf16 b{b}", lambda: _torch_embedder(settings, "torch-bf16", b, None)))
    else:
        configs += [
            (f"torch-bf16 b{b}", lambda: _torch_embedder(settings, "torch-bf16", b, None)),
            (f"torch-bf16-autocast b{b}", lambda: _torch_embedder(settings, "torch-fp32", b, None, "autocast")),
            (f"onnx-fp32 b{b}", lambda: _onnx_embedder(settings, "fp32", b, None)),
            (f"onnx-int8 b{b}", lambda: _onnx_embedder(settings, "int8", b, None)),
            (f"openvino-int8 b{b}", lambda: _openvino_embedder(settings, b, None)),
            (f"openvino-int8 b{b} 2 streams", lambda: _openvino_embedder(settings, b, None, 2)),
        ]
    if args.threads and not args.smoke:
        configs = [
            (f"torch-fp32 b{b}", lambda: _torch_embedder(settings, "torch-fp32", b, None)),
            (f"torch-fp32 b{b} 1 thread", lambda: _torch_embedder(settings, "torch-fp32", b, 1)),
            (f"torch-bf16 b{b}", lambda: _torch_embedder(settings, "torch-bf16", b, None)),
            (f"torch-bf16 b{b} 1 thread", lambda: _torch_embedder(settings, "torch-bf16", b, 1)),
            (f"onnx-int8 b{b}", lambda: _onnx_embedder(settings, "int8", b, None)),
            (f"onnx-int8 b{b} 1 thread", lambda: _onnx_embedder(settings, "int8", b, 1)),
            (f"openvino-int8 b{b}", lambda: _openvino_embedder(settings, b, None)),
            (f"openvino-int8 b{b} 1 thread", lambda: _openvino_embedder(settings, b, 1)),
        ]
    if args.main:  # the four backends `embed_backend` offers, as shipped
        configs = [
            (f"torch-fp32 b{b}", lambda: _torch_embedder(settings, "torch-fp32", b, None)),
            (f"torch-bf16 b{b}", lambda: _torch_embedder(settings, "torch-bf16", b, None)),
            (f"onnx-int8 b{b}", lambda: _onnx_embedder(settings, "int8", b, None)),
            (f"openvino-int8 b{b}", lambda: _openvino_embedder(settings, b, None)),
            (f"openvino-int8 b{b} 2 streams", lambda: _openvino_embedder(settings, b, None, 2)),
        ]
    if args.sweep and not args.smoke:
        for bs in (8, 128):
            configs.append((f"torch-fp32 b{bs}", partial(_torch_embedder, settings, "torch-fp32", bs, None)))
            configs.append((f"onnx-int8 b{bs}", partial(_onnx_embedder, settings, "int8", bs, None)))
    if not args.smoke and not args.threads and not args.main and cores > 1:
        configs.append((f"torch-fp32 b{b} 1 thread", lambda: _torch_embedder(settings, "torch-fp32", b, 1)))
        configs.append((f"torch-bf16 b{b} 1 thread", lambda: _torch_embedder(settings, "torch-bf16", b, 1)))
        configs.append((f"onnx-int8 b{b} 1 thread", lambda: _onnx_embedder(settings, "int8", b, 1)))
        configs.append((f"onnx-int8 b{b} spinning threads", lambda: _onnx_embedder(settings, "int8", b, None, True)))

    print(f"# Embedding benchmark\n\nMachine: {machine()}")
    print(f"Passages: {len(passages)} real council windows of {args.words} words from ../shared/corpora; "
          f"torch threads {cores}; speed-up and cosine against the first row (float32 PyTorch).\n")
    load0 = os.getloadavg()[0]
    rows = run(passages, configs, repeat=1 if args.smoke else args.repeat)
    print(f"Load average (1 min) before / after: {load0:.1f} / {os.getloadavg()[0]:.1f} on {cores} cores\n")
    print(table(rows, ["backend", "passages/s", "tokens/s", "speed-up", "passages/CPU-s", "CPU speed-up",
                       "cos mean", "cos min", "cos>=0.99"]))
    print("\n(passages/CPU-s: passages per second of this process's CPU time, all threads; steadier than wall"
          " time on a shared machine, but it counts spin-waiting threads as work)")
    bad = [r["backend"] for r in rows if r["cos min"] < COSINE_BAR]
    print(f"\nCosine-to-fp32 check (min per passage >= {COSINE_BAR}): "
          + ("all pass" if not bad else "FAIL for " + ", ".join(bad)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
