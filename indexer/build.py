"""`councilqa index`: from folders of council papers to a self-describing hybrid index.

The build runs the stages of `indexer.pipeline` (discover, read, reuse, parse, canonicalise, chunk,
embed) and writes into a temporary folder beside the index, swapped in only when complete, so a
failed or killed build leaves the previous index intact and loadable.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common import __version__
from common.fields import FIELDS
from common.settings import Settings
from indexer.cache import EmbeddingCache
from indexer.dense import FaissDense, choose_faiss_kind
from indexer.embed import Embedder
from indexer.index import FORMAT_VERSION, MANIFEST, PASSAGES
from indexer.loaders import load_document
from indexer.models import Passage
from indexer.passages import PassageStore
from indexer.pipeline import (
    Chunker,
    EmbedderHandle,
    FileRecord,
    Loader,
    PreviousIndex,
    canonicalise,
    chunk,
    corpus_hash,
    discover_files,
    drop_duplicates,
    embed,
    load_files,
    make_chunker,
)
from indexer.sparse import SparseBM25

CHUNKER_VERSION = 2


class IndexBuildError(RuntimeError):
    """Nothing could be built; the message names the problem and the fix."""


@dataclass
class BuildReport:
    """What one build did, for the command line's summary."""

    index_dir: Path
    documents: int = 0
    chunks: int = 0
    tokens: int = 0
    embedded: int = 0  # chunks sent through the model in this run
    reused_documents: int = 0  # unchanged documents whose chunks were taken from the previous index
    removed_documents: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    up_to_date: bool = False
    faiss_index: str = ""
    embed_backend: str = ""

    def summary(self) -> str:
        """A few lines for a person: counts, rates, time, and every skipped file with its reason."""
        rate = lambda n: f"{n / self.seconds:,.1f}/s" if self.seconds > 0 else "-"  # noqa: E731
        lines = [
            f"Index: {self.index_dir}" + (" (already up to date)" if self.up_to_date else ""),
            f"  documents {self.documents:,} ({rate(self.documents)}), chunks {self.chunks:,}, "
            f"tokens {self.tokens:,} ({rate(self.tokens)})",
            f"  embedded {self.embedded:,} chunks, reused {self.reused_documents:,} unchanged documents, "
            f"removed {len(self.removed_documents):,}",
            f"  {self.seconds:.1f} s" + (f", vectors: {self.faiss_index}" if self.faiss_index else "")
            + (f", embedding backend: {self.embed_backend}" if self.embed_backend else ""),
        ]
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} file(s):")
            lines += [f"    {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def _check_paths(paths: Sequence[Path], index_dir: Path) -> None:
    if not paths:
        raise IndexBuildError("No input given: name one or more folders or files, e.g. councilqa index corpus/")
    for p in paths:
        if not Path(p).exists():
            raise IndexBuildError(f"{p} does not exist: give a folder or file of council papers")
    parent = index_dir.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".{index_dir.name}.probe-{os.getpid()}"
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        raise IndexBuildError(
            f"Cannot write the index beside {index_dir} ({exc.strerror or exc}): choose a writable --index-dir"
        ) from exc
    if index_dir.exists() and not os.access(index_dir, os.W_OK):
        raise IndexBuildError(f"The index folder {index_dir} is not writable: fix its permissions or choose another")


def build_index(
    paths: Sequence[Path], settings: Settings, *, embedder: Embedder | None = None, progress: bool = True,
    force: bool = False,
) -> BuildReport:
    """Index the council papers under `paths` into `settings.index_dir`, reusing what the last build left.

    Raises IndexBuildError before any work when the input or index folder is unusable, and when no
    file could be indexed.
    """
    started = time.perf_counter()
    index_dir = Path(settings.index_dir)
    _check_paths(paths, index_dir)
    report = BuildReport(index_dir=index_dir)
    embedders = EmbedderHandle(settings, embedder)
    fingerprint = {"model": embedders.model_id(), "chunk_tokens": settings.chunk_tokens,
                   "chunk_overlap": settings.chunk_overlap, "chunker": CHUNKER_VERSION,
                   "fields": [f.name for f in FIELDS]}
    previous = PreviousIndex(index_dir, fingerprint)
    try:
        # `load_document` is looked up here, at call time, so that a substituted loader is the one used.
        records = _load_corpus(paths, previous, report, progress, load_document)
        docs = [r.doc for r in records if r.doc is not None]
        corpus = corpus_hash(docs)
        if not force and _up_to_date(previous, corpus, settings):
            return _up_to_date_report(report, previous.manifest or {}, started)
        report.removed_documents = sorted(set(previous.hashes) - {d.meta.doc_id for d in docs})
        _chunk_all(records, previous, make_chunker(settings, embedders), progress)
        report.reused_documents = sum(r.reused for r in records)
    finally:
        previous.close()
    # Known only if this build loaded the embedder; else every document was reused and the limit is the last one.
    max_model_tokens = (embedders.get().max_tokens if embedders.loaded
                        else (previous.manifest or {}).get("chunking", {}).get("max_model_tokens"))
    passages = [p for r in records for p in r.passages or ()]
    vectors, report.embedded = _embed_cached(passages, embedders, settings, progress)
    report.documents, report.chunks = len(records), len(passages)
    report.tokens = sum(p.n_tokens for p in passages)
    dimension = int(vectors.shape[1]) if len(vectors) else embedders.get().dimension
    report.embed_backend = embedders.backend_used()
    manifest = _manifest(settings, report, fingerprint, corpus, embedders.model_id(), dimension, max_model_tokens)
    report.faiss_index = write_index(index_dir, records, vectors, manifest, settings, dimension)
    report.seconds = time.perf_counter() - started
    return report


def _load_corpus(
    paths: Sequence[Path], previous: PreviousIndex, report: BuildReport, progress: bool, loader: Loader,
) -> list[FileRecord]:
    """discover → read → reuse → parse → drop duplicates → canonicalise: the records to index."""
    records, report.skipped = discover_files(paths)
    load_files(records, previous, loader, progress)
    drop_duplicates(records)
    report.skipped += [(str(r.path), r.skip) for r in records if r.skip is not None]
    kept = [r for r in records if r.indexed]
    if not kept:
        raise IndexBuildError(
            "Nothing could be indexed: every file was skipped or none was found. "
            + ("Reasons: " + "; ".join(f"{p}: {r}" for p, r in report.skipped[:10]) if report.skipped
               else "Supported files: .txt .md .html .pdf .docx")
        )
    canonicalise([r.doc for r in kept if r.doc is not None])
    return kept


def _up_to_date(previous: PreviousIndex, corpus: str, settings: Settings) -> bool:
    """The previous index already holds exactly these documents, with the same vector backend."""
    m = previous.manifest
    return bool(m and previous.store is not None and m.get("corpus_hash") == corpus
                and m.get("vector_backend") == settings.vector_backend)


def _up_to_date_report(report: BuildReport, manifest: dict, started: float) -> BuildReport:
    report.documents, report.chunks, report.tokens = manifest["documents"], manifest["passages"], manifest["tokens"]
    report.reused_documents, report.up_to_date = manifest["documents"], True
    report.faiss_index = manifest.get("dense", {}).get("kind", "")
    report.seconds = time.perf_counter() - started
    return report


def _chunk_all(records: Sequence[FileRecord], previous: PreviousIndex, chunker: Chunker, progress: bool) -> None:
    for record in tqdm(records, desc="Chunking", unit="doc", disable=not progress):
        chunk(record, previous, chunker)


def _embed_cached(
    passages: Sequence[Passage], embedders: EmbedderHandle, settings: Settings, progress: bool,
) -> tuple[np.ndarray, int]:
    # Keyed by backend too: bf16 or int8 vectors are close to float32 ones, not equal.
    cache = EmbeddingCache(settings.resolved_cache_dir, f"{embedders.model_id()}-{embedders.backend()}")
    try:
        return embed(passages, embedders.get, cache, settings.embed_batch_size, progress)
    finally:
        cache.close()


def _manifest(
    settings: Settings, report: BuildReport, fingerprint: dict, corpus: str, model_id: str, dimension: int,
    max_model_tokens: int | None,
) -> dict:
    """Everything a reader needs to load and check the index; `dense` is added when it is written."""
    return {
        "format_version": FORMAT_VERSION,
        "model": {"id": model_id, "dimension": dimension, "normalized": True, "metric": "inner_product",
                  "backend_used": report.embed_backend or None},
        "chunking": {"tokenizer": "cl100k_base", "chunk_tokens": settings.chunk_tokens,
                     "chunk_overlap": settings.chunk_overlap, "max_model_tokens": max_model_tokens,
                     "chunker_version": CHUNKER_VERSION},
        "fingerprint": fingerprint,
        "corpus_hash": corpus,
        "documents": report.documents,
        "passages": report.chunks,
        "tokens": report.tokens,
        "vector_backend": settings.vector_backend,
        "versions": _versions(),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_id": uuid.uuid4().hex[:16],  # what a running service reports, and how it sees a new build
    }


def write_index(
    index_dir: Path, records: Sequence[FileRecord], vectors: np.ndarray, manifest: dict, settings: Settings,
    dimension: int,
) -> str:
    """Write the index into a fresh folder beside `index_dir` and swap it in; returns the dense index's kind."""
    parent = index_dir.resolve().parent
    for stale in parent.glob(f".{index_dir.name}.tmp-*"):  # left by a killed build
        shutil.rmtree(stale, ignore_errors=True)
    tmp = parent / f".{index_dir.name}.tmp-{os.getpid()}-{int(time.time())}"
    tmp.mkdir()
    try:
        manifest["dense"] = _write_parts(tmp, records, vectors, settings, dimension)
        # The manifest goes last: a folder without one is never taken for an index.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        _swap_in(tmp, index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest["dense"]["kind"]


def _write_parts(
    tmp: Path, records: Sequence[FileRecord], vectors: np.ndarray, settings: Settings, dimension: int,
) -> dict:
    """The passage store, the BM25 index and the dense index; returns the dense index's kind and params."""
    store = PassageStore.create(tmp / PASSAGES)
    row = 0
    for r in records:
        store.add_document(r.doc, r.passages or [], row, r.fingerprint)  # type: ignore[arg-type]
        row += len(r.passages or [])
    store.finish()
    texts = [p.text for r in records for p in r.passages or ()]
    SparseBM25.build(texts).save(tmp)
    if settings.vector_backend == "milvus":
        from indexer.dense_milvus import MilvusDense

        milvus = MilvusDense.build(vectors, tmp, dimension=dimension)
        return {"kind": "milvus", "params": milvus.params}
    kind = choose_faiss_kind(len(texts), settings.faiss_index, settings.exact_search_max)
    faiss_dense = FaissDense.build(vectors, kind, dimension=dimension)
    faiss_dense.save(tmp)
    return {"kind": faiss_dense.kind, "params": faiss_dense.params}


def _swap_in(tmp: Path, index_dir: Path) -> None:
    """Replace the index folder with the finished build; `recover_interrupted` mends a kill midway."""
    old = index_dir.resolve().parent / f".{index_dir.name}.old-{os.getpid()}-{int(time.time())}"
    if index_dir.exists():
        index_dir.rename(old)
    tmp.rename(index_dir)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"councilqa": __version__}
    for pkg in ("faiss-cpu", "bm25s", "sentence-transformers", "torch", "tiktoken"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out
