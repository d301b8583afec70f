"""What hiding restricted papers costs a public caller's search, side by side in one run.

With restricted papers in an index, every call without the restricted scope searches with a mask of the
rows it may read (core/engine.py). This loads one index, and times the same queries (query vectors cached,
so only retrieval is timed) three ways: unmasked (a caller with the restricted scope, or an index without
restricted papers), masked with 10 % of the documents restricted, and with 50 %. The restricted documents
are chosen at random (seeded) among the index's own; the index is not changed.

    .venv/bin/python bench/bench_access.py --index-dir IDX [--mode hybrid] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_query_encoding import questions  # noqa: E402
from bench.common import machine, percentiles  # noqa: E402
from common.settings import Settings  # noqa: E402
from core.engine import Engine, _View  # noqa: E402
from core.query import Vocabulary  # noqa: E402


def _masked(engine: Engine, share: float, seed: int = 0) -> _View:
    """A public view hiding `share` of the documents, as if they were restricted."""
    store = engine.index.passages
    docs = sorted(store.document_hashes())
    hidden = random.Random(seed).sample(docs, int(len(docs) * share))
    rows = store.rows_of(hidden)
    visible = np.setdiff1d(np.arange(store.count(), dtype=np.int64), rows, assume_unique=True)
    facets = engine.facets(True)
    return _View(visible, facets, Vocabulary(facets))


def _time(engine: Engine, qs: list[str], mode: str, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        for q in qs:
            t = time.perf_counter()
            engine.search(q, mode=mode, k=10)
            out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", type=Path, required=True)
    ap.add_argument("--mode", default="hybrid")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    engine = Engine.load(Settings(index_dir=args.index_dir))
    qs = questions(200)
    for q in qs:  # encode once: the timing is retrieval alone
        engine.search(q, mode=args.mode, k=10)
    print(f"{machine()}\nindex {args.index_dir}: {engine.index.passages.count():,} passages; {len(qs)} queries x "
          f"{args.repeat}, mode {args.mode}, query vectors cached\n")
    print("| restricted documents | p50 ms | p95 ms |\n|---|---|---|")
    full = engine._views[False]
    for label, share in (("none (no mask)", 0.0), ("10 %", 0.10), ("50 %", 0.50)):
        engine._views[False] = full if share == 0 else _masked(engine, share)
        engine._allowed.cache_clear()
        p = percentiles(_time(engine, qs, args.mode, args.repeat))
        print(f"| {label} | {p['p50']:.1f} | {p['p95']:.1f} |")
    engine._views[False] = full
    engine.close()


if __name__ == "__main__":
    main()
