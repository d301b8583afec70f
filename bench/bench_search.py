"""Query latency and recall per search mode and FAISS index type, at several collection sizes.

    python -m bench.bench_search                        # the real chunk vectors (~10k) and 100k derived
    python -m bench.bench_search --size 1000000         # 1M derived (builds take minutes; ~6 GiB RAM)
    python -m bench.bench_search --index-dir /tmp/idx   # service start only: CouncilIndex.load + first query
    python -m bench.bench_search --smoke                # 2,000 vectors, a few queries: CI checks it runs

Vectors: real all-MiniLM-L6-v2 embeddings of the shared corpora's chunks (bench/vectors.py), and for
larger sizes real vectors plus small Gaussian noise, renormalised. BM25 texts: real windows, and for
larger sizes real windows with shuffled word blocks. Queries: council questions (for BM25, hybrid
and query encoding) and perturbed real passage vectors (for dense recall). Recall@10 is against
exact inner-product search over the same vectors. Latency is one query at a time, as the service
runs them; `hybrid` = encode the query (onnx-int8) + dense (the `auto` FAISS kind) + BM25 + RRF.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from bench.common import folder_bytes, machine, percentiles, rss_mb, table
from bench.vectors import BENCH_CACHE, derive_texts, derive_vectors, load_real, query_vectors
from common.settings import Settings
from indexer.dense import FaissDense, choose_faiss_kind

QUESTIONS = [
    "planning application for a rear extension", "bus shelter repairs", "precept for next year",
    "speeding traffic through the village", "street lighting maintenance contract", "allotment rents",
    "playing field grass cutting", "declaration of pecuniary interest", "budget gap and savings",
    "affordable housing development", "council tax increase", "flood risk and drainage",
    "tree preservation order", "footpath closure", "village hall refurbishment grant",
    "minutes of the previous meeting approved", "clerk's salary and pension", "dog fouling bins",
    "speed indicator device", "litter picking volunteers", "road resurfacing by the county council",
    "police report crime figures", "defibrillator installation", "war memorial cleaning",
    "cemetery fees", "broadband connection", "wind farm consultation", "parking enforcement",
    "youth club funding", "transit stop relocation on the city bus route", "zoning by-law amendment",
    "sheriff department budget request", "school board property tax", "water main replacement",
    "bicycle lanes on downtown streets", "homeless shelter services", "community safety plan",
    "insurance renewal", "audit of accounts", "election of chairman",
]
K = 10


def _recall(rows: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(rows.tolist(), exact.tolist(), strict=True)]))


def _time_each(fn, items) -> list[float]:
    out = []
    for it in items:
        t0 = time.perf_counter()
        fn(it)
        out.append(time.perf_counter() - t0)
    return out


def bench_size(n: int, real_vecs: np.ndarray, real_texts: list[str], kinds: list[str], nq: int,
               embedder, settings: Settings, faiss_threads: list[int]) -> tuple[list[dict], dict]:
    from indexer.sparse import SparseBM25

    rows: list[dict] = []
    vecs = derive_vectors(real_vecs, n)
    qv = query_vectors(real_vecs, nq)
    exact = faiss.IndexFlatIP(vecs.shape[1])
    exact.add(vecs)
    _, truth = exact.search(qv, K)
    del exact
    auto_kind = choose_faiss_kind(n, "auto", settings.exact_search_max)
    built: dict[str, FaissDense] = {}
    info: dict = {"n": n, "auto": auto_kind}

    def sparse_and_hybrid() -> None:
        nonlocal rows
        texts = derive_texts(real_texts, n)
        t0 = time.perf_counter()
        built_bm25 = SparseBM25.build(texts)
        info["bm25 build s"] = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            built_bm25.save(Path(tmp))
            info["bm25 disk MiB"] = folder_bytes(Path(tmp)) / 2**20
            del built_bm25, texts
            gc.collect()
            r0 = rss_mb()
            bm25 = SparseBM25.load(Path(tmp), n)
            qs = (QUESTIONS * (nq // len(QUESTIONS) + 1))[:nq]
            bm25.search(qs[:2], 50)
            lat = _time_each(lambda q: bm25.search([q], 50), qs)
            rows.append({"size": n, "mode": "bm25 (k=50)", **percentiles(lat)})
            info["bm25 rss MiB after queries"] = rss_mb() - r0
            print(f"  {n:,} bm25: p50 {rows[-1]['p50']:.2f} ms", file=sys.stderr, flush=True)
            # Query encoding alone and the hybrid path (encode + dense auto kind + BM25 + RRF).
            if embedder is not None:
                from core.retrieval import candidate_count, ranked_rows, rrf

                embedder.encode_queries(qs[:2])
                lat = _time_each(lambda q: embedder.encode_queries([q]), qs)
                rows.append({"size": n, "mode": f"encode query ({embedder.backend})", **percentiles(lat)})
                dense = built.get(auto_kind) or FaissDense.build(vecs, auto_kind)
                faiss.omp_set_num_threads(1)

                def hybrid(q: str) -> None:
                    v = embedder.encode_queries([q])
                    ds, dr = dense.search(v, candidate_count(K))
                    bs, br = bm25.search([q], candidate_count(K))
                    fused = rrf([ranked_rows(ds[0], dr[0]), ranked_rows(bs[0], br[0])])
                    sorted(fused.items(), key=lambda kv: -kv[1])[:K]

                lat = _time_each(hybrid, qs)
                rows.append({"size": n, "mode": f"hybrid (dense {auto_kind} + bm25)", "faiss threads": 1,
                             **percentiles(lat)})
                print(f"  {n:,} hybrid: p50 {rows[-1]['p50']:.2f} ms p95 {rows[-1]['p95']:.2f}", file=sys.stderr,
                      flush=True)
                faiss.omp_set_num_threads(max(faiss_threads))

    kinds = sorted(kinds, key=lambda k: k != auto_kind)  # the auto kind first: hybrid uses it
    for kind in kinds:
        gc.collect()
        r0 = rss_mb()
        t0 = time.perf_counter()
        dense = FaissDense.build(vecs, kind)
        build_s = time.perf_counter() - t0
        mem = rss_mb() - r0
        _, got = dense.search(qv, K)
        for threads in faiss_threads:
            faiss.omp_set_num_threads(threads)
            # The raw FAISS call: FaissDense.search itself pins single queries to one thread.
            lat = _time_each(lambda q, d=dense: d.index.search(q[None, :], K), qv)
            rows.append({"size": n, "mode": f"dense {kind}" + (" (auto)" if kind == auto_kind else ""),
                         "faiss threads": threads, **percentiles(lat), "recall@10": _recall(got, truth),
                         "build s": build_s, "index MiB": mem, "params": str(dense.params)})
            print(f"  {n:,} {kind} t{threads}: p50 {rows[-1]['p50']:.2f} ms recall {rows[-1]['recall@10']:.3f} "
                  f"build {build_s:.1f}s", file=sys.stderr, flush=True)
        faiss.omp_set_num_threads(max(faiss_threads))
        built[kind] = dense
        if kind == kinds[0]:
            sparse_and_hybrid()
    return rows, info


def service_start(index_dir: Path, settings: Settings) -> dict:
    """Cold start: load the index folder and the embedder, then answer one hybrid query."""
    import subprocess

    code = (
        "import time; t0=time.perf_counter()\n"
        "from pathlib import Path\n"
        "from common.settings import Settings\n"
        "from indexer.index import CouncilIndex\n"
        "from indexer.embed import load_embedder\n"
        f"s = Settings(index_dir=Path({str(index_dir)!r}))\n"
        "idx = CouncilIndex.load(s.index_dir); t1=time.perf_counter()\n"
        "emb = load_embedder(s); t2=time.perf_counter()\n"
        "v = emb.encode_queries(['planning application']); idx.dense.search(v, 10)\n"
        "idx.sparse.search(['planning application'], 10); t3=time.perf_counter()\n"
        "print(f'{t1-t0:.2f} {t2-t1:.2f} {t3-t2:.2f} {t3-t0:.2f} {idx.dense.size} {emb.backend}')\n"
    )
    repo = Path(__file__).resolve().parent.parent
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    load, emb, first, inproc, size, backend = out.stdout.split()[-6:]
    return {"index": str(index_dir), "passages": int(size), "embedder": backend, "index load s": float(load),
            "embedder load s": float(emb), "first query s": float(first), "total in process s": float(inproc),
            "process wall s (incl. imports)": wall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, action="append", help="collection size(s); default: real and 100,000")
    ap.add_argument("--kinds", default="flat,hnsw,ivf")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--faiss-threads", default=None, help="comma list, e.g. 1,2 (default: 1 and all cores)")
    ap.add_argument("--embed-backend", default="onnx-int8", help="query encoder for hybrid ('none' to skip)")
    ap.add_argument("--index-dir", type=Path, action="append", help="also time service start on this index")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)

    cores = len(os.sched_getaffinity(0))
    threads = [int(t) for t in args.faiss_threads.split(",")] if args.faiss_threads else sorted({1, cores})
    settings = Settings(index_dir=BENCH_CACHE / "index", cache_dir=BENCH_CACHE)
    real_texts, real_vecs = load_real(smoke=args.smoke)
    if args.smoke:
        sizes, nq, threads, kinds = [2000], 10, [1], args.kinds.split(",")
        embedder = None
    else:
        # With only --index-dir, just time the service start on those folders.
        sizes = args.size or ([] if args.index_dir else [len(real_vecs), 100_000])
        nq, kinds = args.queries, args.kinds.split(",")
        embedder = None
        if args.embed_backend != "none":
            from indexer.embed import load_embedder

            embedder = load_embedder(settings, args.embed_backend)
    print(f"# Search benchmark\n\nMachine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    print(f"Real vectors: {len(real_vecs):,}; queries: {nq}; k={K}; sizes: {sizes}\n")
    all_rows, infos = [], []
    for n in sizes:
        rows, info = bench_size(n, real_vecs, real_texts, kinds, nq, embedder, settings, threads)
        all_rows += rows
        infos.append(info)
        gc.collect()
    print(table(all_rows, ["size", "mode", "faiss threads", "p50", "p95", "p99", "recall@10", "build s",
                           "index MiB", "params"]))
    print("\n(latencies in ms; 'index MiB' is the RSS growth while building, a rough in-memory size)")
    for info in infos:
        print(f"size {info['n']:,}: auto FAISS kind {info['auto']}, BM25 build {info.get('bm25 build s', 0):.1f} s, "
              f"BM25 on disk {info.get('bm25 disk MiB', 0):.1f} MiB, "
              f"BM25 RSS after load+queries {info.get('bm25 rss MiB after queries', 0):.1f} MiB")
    starts = [service_start(d, settings) for d in (args.index_dir or [])]
    if starts:
        print("\n## Service start\n")
        print(table(starts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
