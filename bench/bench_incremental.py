"""Incremental indexing: a no-change re-run of `councilqa index`, then adding one document.

    python -m bench.bench_incremental --index-dir /tmp/idx_shared --cache-dir /tmp/.councilqa-cache
        # copies an existing index of ../shared/corpora (and its embedding cache) to a temporary folder
    python -m bench.bench_incremental --build        # builds ../shared/corpora first (slow: embeds everything)
    python -m bench.bench_incremental --smoke        # 4 files of corpus/ with the hashing embedder, for CI

The corpus is copied to a temporary folder so one document can be added: a copy of an existing
paper under a new id with its first paragraph changed (new text, so its chunks are new).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import LOCAL_CORPUS, SHARED_CORPORA, machine, table
from common.settings import Settings


def _copy_corpus(src: Path, dst: Path, limit: int | None = None) -> None:
    files = sorted(p for p in src.rglob("*") if p.is_file())
    if limit:
        stems = sorted({p.with_suffix("") for p in files})[:limit]
        files = [p for p in files if p.with_suffix("") in stems]
    for p in files:
        target = dst / p.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, target)


def _add_document(corpus: Path) -> Path:
    txt = sorted(corpus.rglob("*.txt"))[0]
    new = txt.with_name(f"zz_bench_added_{txt.name}")
    body = txt.read_text(errors="replace")
    new.write_text("Added for the incremental benchmark: the parish council discussed a new village sign.\n\n"
                   + body)
    sidecar = txt.with_suffix(".json")
    if sidecar.is_file():
        meta = json.loads(sidecar.read_text())
        meta["doc_id"] = f"zz_bench_added_{meta.get('doc_id', txt.stem)}"
        new.with_suffix(".json").write_text(json.dumps(meta))
    return new


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=SHARED_CORPORA)
    ap.add_argument("--index-dir", type=Path, default=None, help="an existing index of --corpus to start from")
    ap.add_argument("--cache-dir", type=Path, default=None, help="that index's embedding cache folder")
    ap.add_argument("--build", action="store_true", help="build the starting index here first")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)

    from indexer.build import build_index

    work = Path(tempfile.mkdtemp(prefix="councilqa-bench-incr-"))
    rows = []
    try:
        corpus = work / "corpus"
        embedder = None
        if args.smoke:
            from indexer.embed import FakeEmbedder

            _copy_corpus(LOCAL_CORPUS, corpus, limit=4)
            embedder = FakeEmbedder()
        else:
            _copy_corpus(args.corpus, corpus)
        settings = Settings(index_dir=work / "index", cache_dir=work / "cache")
        if args.index_dir and not args.smoke:
            shutil.copytree(args.index_dir, settings.index_dir)
            if args.cache_dir:
                shutil.copytree(args.cache_dir, work / "cache")
        elif args.build or args.smoke:
            r = build_index([corpus], settings, embedder=embedder, progress=False)
            rows.append({"run": "initial build", "seconds": r.seconds, "documents": r.documents,
                         "chunks": r.chunks, "embedded": r.embedded, "reused docs": r.reused_documents})
        else:
            raise SystemExit("Give --index-dir (an existing index of the corpus) or --build")
        r = build_index([corpus], settings, embedder=embedder, progress=False)
        if not r.up_to_date:  # a copied index may differ (another file set or build version): first catch up
            rows.append({"run": "catch-up re-run (copied index differed)", "seconds": r.seconds,
                         "documents": r.documents, "chunks": r.chunks, "embedded": r.embedded,
                         "reused docs": r.reused_documents, "up to date": r.up_to_date})
            r = build_index([corpus], settings, embedder=embedder, progress=False)
        rows.append({"run": "no-change re-run", "seconds": r.seconds, "documents": r.documents,
                     "chunks": r.chunks, "embedded": r.embedded, "reused docs": r.reused_documents,
                     "up to date": r.up_to_date})
        added = _add_document(corpus)
        t0 = time.perf_counter()
        r = build_index([corpus], settings, embedder=embedder, progress=False)
        rows.append({"run": f"add one document ({added.name[:40]})", "seconds": time.perf_counter() - t0,
                     "documents": r.documents, "chunks": r.chunks, "embedded": r.embedded,
                     "reused docs": r.reused_documents, "up to date": r.up_to_date})
        source = "corpus/ (4 files, hashing embedder)" if args.smoke else str(args.corpus)
        print(f"# Incremental indexing\n\nMachine: {machine()}\nCorpus: {source}\n")
        print(table(rows, ["run", "seconds", "documents", "chunks", "embedded", "reused docs", "up to date"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
