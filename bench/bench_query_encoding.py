"""Uncached query encoding, p50/p95 per backend and thread count, on an idle machine and with one core busy.

A service's uncached /search pays for one query encoding; on a small shared machine the other cores
are busy (BM25 on the second core, another request, a build). This compares, in one run and on this
CPU, each way of encoding a query, each with 1 thread and with every core, with no load and with a
busy-looping process taking one core. Queries are the gold sets' questions, each encoded once.

    .venv/bin/python bench/bench_query_encoding.py            # all backends
    .venv/bin/python bench/bench_query_encoding.py --quick    # 40 queries, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, machine, percentiles  # noqa: E402
from common.settings import Settings  # noqa: E402

BUSY = "import time\nend = time.time() + {s}\nwhile time.time() < end:\n    pass\n"


def questions(n: int) -> list[str]:
    """Distinct questions from the gold sets, in file order."""
    out: list[str] = []
    for name in ("gold.jsonl", "gold_shared.jsonl"):
        path = REPO / "eval" / name
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            out += [json.loads(line)["question"] for line in lines if line.strip()]
    return list(dict.fromkeys(out))[:n]


def encoders(settings: Settings) -> dict[str, Callable[[int], Callable[[list[str]], object]]]:
    """Backend name -> a factory taking a thread count and giving an encode_queries function."""
    def torch_fp32(threads: int) -> Callable[[list[str]], object]:
        import torch

        from indexer.embed import load_embedder

        torch.set_num_threads(threads)
        emb = load_embedder(settings.model_copy(update={"embed_backend": "torch-fp32"}))
        return emb.encode_queries

    def onnx(precision: str) -> Callable[[int], Callable[[list[str]], object]]:
        def make(threads: int) -> Callable[[list[str]], object]:
            from indexer.embed_onnx import OnnxInt8Embedder

            return OnnxInt8Embedder(settings, precision=precision, threads=threads).encode_queries
        return make

    return {"torch-fp32": torch_fp32, "onnx-fp32": onnx("fp32"), "onnx-int8": onnx("int8")}


def measure(encode: Callable[[list[str]], object], qs: list[str]) -> dict[str, float]:
    for q in qs[:5]:  # warm-up: first calls allocate
        encode([q + " warm"])
    times = []
    for q in qs:
        t0 = time.perf_counter()
        encode([q])
        times.append(time.perf_counter() - t0)
    return percentiles(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="40 queries instead of 200")
    ap.add_argument("--backends", default="torch-fp32,onnx-fp32,onnx-int8")
    args = ap.parse_args(argv)
    qs = questions(40 if args.quick else 200)
    settings = Settings()
    makers = encoders(settings)
    cores = len(__import__("os").sched_getaffinity(0))
    threads = sorted({1, cores})
    print(f"# Uncached query encoding, {len(qs)} queries, model {settings.model}")
    print(f"# {machine()}")
    print("| backend | threads | load | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for name in args.backends.split(","):
        for t in threads:
            try:
                encode = makers[name](t)
            except Exception as exc:  # an optional backend that is not installed is reported, not fatal
                print(f"| {name} | {t} | – | unavailable: {exc} | | |")
                continue
            for load in ("idle", "one core busy"):
                busy = None
                if load != "idle":
                    busy = subprocess.Popen([sys.executable, "-c", BUSY.format(s=600)])
                    time.sleep(0.5)
                try:
                    p = measure(encode, qs)
                finally:
                    if busy is not None:
                        busy.kill()
                        busy.wait()
                print(f"| {name} | {t} | {load} | {p['p50']:.1f} | {p['p95']:.1f} | {p['p99']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
