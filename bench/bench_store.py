"""The local store and the Milvus store side by side: build time, /search p50/p95 and memory per passage.

    python -m bench.bench_store --index-dir /tmp/dev/index            # a real build (../shared/corpora)
    python -m bench.bench_store --index-dir /tmp/dev/index --size 1000000   # and 1M passages derived from it
    python -m bench.bench_store --smoke                               # 2,000 synthetic passages, for CI

For each set: the local build (the index folder: passage store, BM25, FAISS) and, on top of it, the
Milvus publish (milvus-lite: the collections, the BM25 function's sparse index, the vector index).
Then each store is served in a fresh process (the real query encoder, the FastAPI app, one request at
a time, the query cache cleared before each so every request encodes its question) and its resident
memory measured after load and the requests. With milvus-lite, Milvus runs inside that process: its
memory is the API node's plus the server's. A Milvus standalone server would hold it instead.

The derived set: the real build's passage texts and vectors, repeated with shuffled word blocks and
small noise (bench/vectors.py), in documents of 20 passages.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from bench.bench_search import QUESTIONS
from bench.common import folder_bytes, machine, table
from bench.vectors import derive_vectors
from common.settings import Settings

REPO = Path(__file__).resolve().parent.parent
MODES = ("bm25", "dense", "hybrid")

_SERVE = """
import json, sys, time
from fastapi.testclient import TestClient
from bench.common import rss_mb
from common.settings import Settings
from core.engine import Engine
from service.app import create_app
args = json.loads(sys.argv[1])
r0 = rss_mb()
t0 = time.perf_counter()
settings = Settings(**args["settings"])
engine = Engine.load(settings)
load_s = time.perf_counter() - t0
r1 = rss_mb()
out = {"load s": load_s, "RSS after load MiB": r1 - r0}
with TestClient(create_app(settings, engine)) as client:
    for q in args["questions"][:3]:
        client.get("/search", params={"q": q, "mode": "hybrid"})
    for mode in args["modes"]:
        took = []
        for q in args["questions"]:
            engine.clear_query_cache()
            t = time.perf_counter()
            r = client.get("/search", params={"q": q, "mode": mode, "k": 10})
            took.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
        took.sort()
        out[f"{mode} p50 ms"] = 1000 * took[len(took) // 2]
        out[f"{mode} p95 ms"] = 1000 * took[min(len(took) - 1, int(round(0.95 * (len(took) - 1))))]
out["RSS after requests MiB"] = rss_mb() - r0
print(json.dumps(out))
"""


def serve_probe(settings: dict, questions: list[str]) -> dict:
    """Load and serve the store in a fresh process; its timings and memory."""
    arg = json.dumps({"settings": settings, "questions": questions, "modes": list(MODES)})
    done = subprocess.run([sys.executable, "-c", _SERVE, arg], cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"serving {settings} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def real_data(folder: Path) -> tuple[list[str], np.ndarray, dict]:
    """Passage texts, vectors (from a flat FAISS index) and the manifest of a real build."""
    from indexer.dense import FaissDense
    from indexer.passages import PassageStore

    manifest = json.loads((folder / "manifest.json").read_text())
    n = int(manifest["passages"])
    store = PassageStore(folder / "passages.sqlite")
    try:
        texts = [p.text for start in range(0, n, 5000) for p in store.get(range(start, min(n, start + 5000)))]
    finally:
        store.close()
    dense = FaissDense.load(folder)
    return texts, dense.vectors(np.arange(n)), manifest


def publish_timed(folder: Path, vectors: np.ndarray, manifest: dict, uri: Path, prefix: str) -> float:
    """Seconds to publish the build in `folder` to a fresh milvus-lite file (in a process of its own, since
    milvus-lite serves one process at a time)."""
    np.save(folder.parent / f"{folder.name}-vectors.npy", vectors)
    code = (
        "import json, sys, time, numpy as np\n"
        "from pathlib import Path\n"
        "from common.settings import Settings\n"
        "from indexer.milvus_store import publish\n"
        "a = json.loads(sys.argv[1])\n"
        "folder = Path(a['folder'])\n"
        "vectors = np.load(a['vectors'], mmap_mode='r')\n"
        "manifest = json.loads((folder / 'manifest.json').read_text())\n"
        "s = Settings(index_dir=folder, store='milvus', milvus_uri=a['uri'], milvus_prefix=a['prefix'])\n"
        "t = time.perf_counter(); publish(folder, vectors, None, manifest, s); print(time.perf_counter() - t)\n"
    )
    arg = json.dumps({"folder": str(folder), "vectors": str(folder.parent / f"{folder.name}-vectors.npy"),
                      "uri": str(uri), "prefix": prefix})
    done = subprocess.run([sys.executable, "-c", code, arg], cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"publishing {folder} failed:\n{done.stderr[-3000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def derived_index(n: int, folder: Path, texts: list[str], vectors: np.ndarray, model: dict) -> tuple[float, np.ndarray]:
    """A complete local index folder of `n` derived passages; its build seconds and its vectors."""
    from bench.bench_index import synthetic_index

    settings = Settings(index_dir=folder)
    t0 = time.perf_counter()
    synthetic_index(n, folder, texts, vectors, settings)
    seconds = time.perf_counter() - t0
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(model=model, build_id=uuid.uuid4().hex[:16], built_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return seconds, derive_vectors(vectors, n)


def measure(name: str, folder: Path, vectors: np.ndarray, local_s: float | None, work: Path) -> list[dict]:
    """The two rows of one set: local, then Milvus."""
    manifest = json.loads((folder / "manifest.json").read_text())
    n = int(manifest["passages"])
    uri = work / f"{name}-milvus.db"
    publish_s = publish_timed(folder, vectors, manifest, uri, "bench")
    rows = []
    for store, settings in (("local", {"index_dir": str(folder), "store": "local"}),
                            ("milvus", {"index_dir": str(work / "nowhere"), "store": "milvus",
                                        "milvus_uri": str(uri), "milvus_prefix": "bench"})):
        probe = serve_probe(settings, QUESTIONS)
        size = folder_bytes(folder) if store == "local" else folder_bytes(uri)
        build = (local_s or 0.0) + (publish_s if store == "milvus" else 0.0)
        rows.append({"set": name, "store": store, "passages": n,
                     "build s": f"{build:.1f}" if local_s is not None else
                     (f"+{publish_s:.1f} publish" if store == "milvus" else "(existing)"),
                     **{k: v for k, v in probe.items() if k.endswith("ms")},
                     "load s": probe["load s"], "on disk B/passage": size / n,
                     "RSS MiB": probe["RSS after requests MiB"],
                     "RSS B/passage": probe["RSS after requests MiB"] * 2**20 / n})
        print(f"  measured {name} {store}", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the side-by-side tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index-dir", type=Path, help="a real local build (flat FAISS) to publish and derive from")
    ap.add_argument("--size", type=int, action="append", default=[], help="also a derived set of this many passages")
    ap.add_argument("--smoke", action="store_true", help="2,000 synthetic passages: checks that it runs")
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args(argv)
    print(f"# Store benchmark: local and Milvus (milvus-lite)\n\nMachine: {machine()}\n")
    work = Path(tempfile.mkdtemp(prefix="councilqa-bench-store-", dir=args.keep))
    rows: list[dict] = []
    try:
        if args.smoke:
            from bench.vectors import load_real

            texts, vectors = load_real(smoke=True)
            from indexer.embed import model_id_for

            model = {"id": model_id_for(Settings().model), "dimension": int(vectors.shape[1]), "normalized": True}
            sizes = [2000]
        else:
            if args.index_dir is None:
                raise SystemExit("Give --index-dir: a local build of ../shared/corpora (BENCHMARKS.md says how)")
            texts, vectors, manifest = real_data(args.index_dir)
            model = manifest["model"]
            rows += measure("real", args.index_dir, vectors, None, work)
            sizes = args.size
        for n in sizes:
            folder = work / f"derived-{n}"
            local_s, derived = derived_index(n, folder, texts, vectors, model)
            rows += measure(f"derived {n:,}", folder, derived, local_s, work)
            del derived
        cols = ["set", "store", "passages", "build s", *(f"{m} {p} ms" for m in MODES for p in ("p50", "p95")),
                "load s", "on disk B/passage", "RSS MiB", "RSS B/passage"]
        print(table(rows, cols))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
