"""Index build time and size per component, and memory per passage.

    python -m bench.bench_index                                   # build corpus/ (real pipeline)
    python -m bench.bench_index --paths ../shared/corpora         # build the shared corpora (slow: embeds ~10k chunks)
    python -m bench.bench_index --index-dir /tmp/idx_shared       # sizes of an existing index only
    python -m bench.bench_index --size 100000 --size 1000000      # synthetic index folders
    python -m bench.bench_index --smoke                           # 2,000 synthetic passages, for CI

Synthetic folders are complete, loadable index folders (manifest, passages.sqlite, bm25/, FAISS with
the `auto` kind) made from derived vectors and texts (bench/vectors.py), documents of 20 passages.
Each is then loaded in a fresh process (CouncilIndex.load + one dense and one BM25 query) to time the
service's index start and measure resident memory. `--keep DIR` keeps them (bench_search
--index-dir can then time service start on them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import LOCAL_CORPUS, folder_bytes, machine, table
from bench.vectors import BENCH_CACHE, derive_texts, derive_vectors, load_real
from common.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def components(folder: Path) -> dict:
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    n = int(manifest["passages"])
    vec_files = [p for p in ("vectors.faiss", "vectors.json", "milvus.db", "milvus.json") if (folder / p).exists()]
    sizes = {
        "vectors": sum(folder_bytes(folder / p) for p in vec_files),
        "bm25": folder_bytes(folder / "bm25"),
        "passages.sqlite": folder_bytes(folder / "passages.sqlite"),
    }
    sizes["total"] = folder_bytes(folder)
    out: dict = {"index": str(folder), "passages": n, "dense": manifest.get("dense", {}).get("kind", "?")}
    for k, v in sizes.items():
        out[f"{k} MiB"] = v / 2**20
        out[f"{k} B/passage"] = v / max(n, 1)
    return out


def load_probe(folder: Path) -> dict:
    """Fresh process: RSS before and after CouncilIndex.load and after one dense + one BM25 query."""
    code = (
        "import time, numpy as np\n"
        "from bench.common import rss_mb\n"
        "from indexer.index import CouncilIndex\n"
        "r0 = rss_mb(); t0 = time.perf_counter()\n"
        f"idx = CouncilIndex.load({str(folder)!r}); t1 = time.perf_counter(); r1 = rss_mb()\n"
        "q = np.random.default_rng(0).normal(size=(1, idx.dense.dimension)).astype('float32')\n"
        "q /= np.linalg.norm(q)\n"
        "idx.dense.search(q, 10); idx.sparse.search(['planning application'], 50)\n"
        "idx.passages.get([0, 1, 2]); t2 = time.perf_counter(); r2 = rss_mb()\n"
        "print(f'{t1-t0:.3f} {t2-t1:.3f} {r1-r0:.1f} {r2-r0:.1f}')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    load_s, query_s, rss_load, rss_query = map(float, out.stdout.split()[-4:])
    return {"index load s": load_s, "first queries s": query_s, "RSS after load MiB": rss_load,
            "RSS after first queries MiB": rss_query}


def synthetic_index(n: int, folder: Path, real_texts: list[str], real_vecs: np.ndarray,
                    settings: Settings, per_doc: int = 20) -> dict:
    from indexer.dense import FaissDense, choose_faiss_kind
    from indexer.index import FORMAT_VERSION
    from indexer.models import Document, DocumentMeta, Passage
    from indexer.passages import PassageStore
    from indexer.sparse import SparseBM25

    folder.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    texts = derive_texts(real_texts, n)
    t0 = time.perf_counter()
    store = PassageStore.create(folder / "passages.sqlite")
    councils = ["Stoke Ferry Parish Council", "City of London (Ontario)", "Knox County"]
    for d, start in enumerate(range(0, n, per_doc)):
        chunk = texts[start:start + per_doc]
        doc_text = "\n\n".join(chunk)
        meta = DocumentMeta(doc_id=f"syn-{d:07d}", council=councils[d % 3], committee="Full Council",
                            date=f"20{10 + d % 15:02d}-0{1 + d % 9}-1{d % 9}", title=f"Synthetic minutes {d}",
                            doc_type="minutes")
        passages, pos = [], 0
        for i, t in enumerate(chunk):
            passages.append(Passage(id=f"syn-{d:07d}-{i}", doc_id=meta.doc_id, text=t, char_start=pos,
                                    char_end=pos + len(t), council=meta.council, committee=meta.committee))
            pos += len(t) + 2
        store.add_document(Document(meta=meta, text=doc_text, segments=[], content_hash=str(d)), passages, start)
    store.finish()
    times["passages s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    SparseBM25.build(texts).save(folder)
    times["bm25 s"] = time.perf_counter() - t0
    text_bytes = sum(len(t.encode()) for t in texts)
    del texts
    vecs = derive_vectors(real_vecs, n)
    kind = choose_faiss_kind(n, "auto", settings.exact_search_max)
    t0 = time.perf_counter()
    dense = FaissDense.build(vecs, kind)
    dense.save(folder)
    times["vectors s"] = time.perf_counter() - t0
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": {"id": "sentence-transformers/all-MiniLM-L6-v2", "dimension": int(vecs.shape[1]),
                  "normalized": True, "metric": "inner_product", "backend_used": "synthetic"},
        "documents": (n + per_doc - 1) // per_doc, "passages": n, "tokens": 0, "vector_backend": "faiss",
        "dense": {"kind": dense.kind, "params": dense.params}, "synthetic": True,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return {**times, "passage text MiB": text_bytes / 2**20}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paths", type=Path, action="append", help="build these with the real pipeline")
    ap.add_argument("--index-dir", type=Path, action="append", help="report an existing index folder")
    ap.add_argument("--size", type=int, action="append", help="synthetic index of this many passages")
    ap.add_argument("--embed-backend", default="onnx-int8")
    ap.add_argument("--keep", type=Path, default=None, help="keep built folders under this folder")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)

    print(f"# Index benchmark\n\nMachine: {machine()}\n")
    work = Path(tempfile.mkdtemp(prefix="councilqa-bench-index-", dir=args.keep))
    rows, builds = [], []
    try:
        if args.smoke:
            real_texts, real_vecs = load_real(smoke=True)
            sizes, paths = [2000], list[Path]()
        else:
            sizes = args.size or []
            paths = args.paths if args.paths is not None else ([LOCAL_CORPUS] if not (sizes or args.index_dir)
                                                              else [])
            real_texts, real_vecs = load_real() if sizes else ([], np.zeros((0, 384), np.float32))
        for p in paths:
            from indexer.build import build_index

            folder = work / f"real-{p.resolve().name}"
            settings = Settings(index_dir=folder, cache_dir=work / "cache", embed_backend=args.embed_backend)
            report = build_index([p], settings, progress=False)
            builds.append({"source": str(p), "documents": report.documents, "passages": report.chunks,
                           "build s": report.seconds, "embedded": report.embedded, "backend": report.embed_backend,
                           "passages/s": report.chunks / max(report.seconds, 1e-9)})
            t0 = time.perf_counter()
            again = build_index([p], settings, progress=False)
            builds.append({"source": f"{p} (no-change re-run)", "documents": again.documents,
                           "passages": again.chunks, "build s": time.perf_counter() - t0, "embedded": again.embedded})
            rows.append({**components(folder), **load_probe(folder)})
        for d in args.index_dir or []:
            rows.append({**components(d), **load_probe(d)})
        for n in sizes:
            folder = work / f"synthetic-{n}"
            settings = Settings(index_dir=folder, cache_dir=BENCH_CACHE)
            t0 = time.perf_counter()
            info = synthetic_index(n, folder, real_texts, real_vecs, settings)
            builds.append({"source": f"synthetic {n:,}", "passages": n, "build s": time.perf_counter() - t0,
                           **{k: v for k, v in info.items() if k.endswith(" s")}})
            comp = components(folder)
            comp["text B/passage"] = info["passage text MiB"] * 2**20 / n
            rows.append({**comp, **load_probe(folder)})
            print(f"  built synthetic {n:,}", file=sys.stderr, flush=True)
        if builds:
            print("## Builds\n")
            print(table(builds))
        print("\n## Components (on disk) and memory\n")
        cols = ["index", "passages", "dense", "vectors B/passage", "bm25 B/passage", "passages.sqlite B/passage",
                "text B/passage", "total MiB", "index load s", "first queries s", "RSS after load MiB",
                "RSS after first queries MiB"]
        print(table(rows, cols))
        for r in rows:
            mem = r["RSS after first queries MiB"] * 2**20 / max(r["passages"], 1)
            print(f"{r['index']}: resident memory after load + first queries {mem:,.0f} B/passage "
                  f"(vectors {r['vectors B/passage']:,.0f} B/passage on disk)")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
