"""Shared helpers for the benchmark scripts: real council passages, machine description, timing."""

from __future__ import annotations

import os
import platform
import random
import re
import resource
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED_CORPORA = (REPO.parent / "shared" / "corpora").resolve()
LOCAL_CORPUS = REPO / "corpus"


def corpus_files(root: Path = SHARED_CORPORA) -> list[Path]:
    return sorted(root.glob("*/*.txt")) + sorted(root.glob("*.txt"))


def word_windows(text: str, words: int = 150, stride: int | None = None) -> Iterator[str]:
    """Chunk-like passages: windows of `words` words (~200 model tokens for 150 English words)."""
    toks = re.findall(r"\S+", text)
    stride = stride or words
    for i in range(0, max(1, len(toks) - words // 3), stride):
        window = toks[i:i + words]
        if len(window) >= words // 3:
            yield " ".join(window)


def real_passages(n: int | None = None, words: int = 150, seed: int = 0, root: Path = SHARED_CORPORA) -> list[str]:
    """Passages from the shared corpora (all of them when n is None, else a seeded sample of n)."""
    files = corpus_files(root)
    if not files:
        raise SystemExit(f"No corpus text under {root}: these benchmarks need ../shared/corpora")
    out: list[str] = []
    for f in files:
        out.extend(word_windows(f.read_text(errors="replace"), words))
    if n is not None and n < len(out):
        out = random.Random(seed).sample(out, n)
    return out


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines()
                       if ln.startswith("MemTotal")).split()[1]) / 2**20
    except (OSError, StopIteration):
        mem = 0.0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}, {date.today()}"


def rss_mb() -> float:
    """Current resident set size in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
            "p99": float(np.percentile(ms, 99)), "mean": float(ms.mean())}


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = time.perf_counter() - self.t0


def folder_bytes(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def table(rows: list[dict], cols: list[str] | None = None) -> str:
    """A Markdown table from dicts (floats to 3 significant places)."""
    if not rows:
        return "(no rows)"
    cols = cols or list(rows[0])

    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)
