"""`councilqa index`: from folders of council papers to a self-describing hybrid index.

The build writes into a temporary folder beside the index and swaps it in only when complete,
so a failed or killed build leaves the previous index intact and loadable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common import __version__
from common.settings import Settings
from indexer.cache import EmbeddingCache, text_key
from indexer.chunk import ChunkSettings, chunk_document
from indexer.dense import FaissDense, choose_faiss_kind
from indexer.embed import Embedder, choose_backend, load_embedder, model_id_for
from indexer.index import FORMAT_VERSION, MANIFEST, PASSAGES, IndexLoadError, read_manifest, recover_interrupted
from indexer.loaders import CouncilRegistry, discover, load_document
from indexer.metadata import recanonicalise
from indexer.models import Document, Passage, SkipFile
from indexer.passages import PassageStore
from indexer.sparse import SparseBM25

CHUNKER_VERSION = 2


class IndexBuildError(RuntimeError):
    """Nothing could be built; the message names the problem and the fix."""


@dataclass
class BuildReport:
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


class _Previous:
    """What the last build left: reusable documents when the chunking and model are the same."""

    def __init__(self, index_dir: Path, fingerprint: dict) -> None:
        self.store: PassageStore | None = None
        self.hashes: dict[str, str] = {}
        self.by_fingerprint: dict[str, str] = {}
        self.manifest: dict | None = None
        try:
            recover_interrupted(index_dir)
            self.manifest = read_manifest(index_dir)
        except IndexLoadError:
            return
        if self.manifest.get("fingerprint") != fingerprint:
            return
        try:
            self.store = PassageStore(index_dir / PASSAGES)
            self.hashes = self.store.document_hashes()
            self.by_fingerprint = self.store.fingerprints()
        except Exception:  # a damaged old index is simply not reused
            self.store, self.hashes, self.by_fingerprint = None, {}, {}

    def unchanged(self, fingerprint: str) -> tuple[Document, list[Passage]] | None:
        """The stored document and passages of a file whose bytes and metadata files are unchanged."""
        doc_id = self.by_fingerprint.get(fingerprint)
        if self.store is None or doc_id is None:
            return None
        return self.store.document_record(doc_id)

    def reuse(self, doc: Document) -> list[Passage] | None:
        if self.store is None or self.hashes.get(doc.meta.doc_id) != doc.content_hash:
            return None
        record = self.store.document_record(doc.meta.doc_id)
        return record[1] if record else None

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def file_fingerprint(path: Path) -> str:
    """Hash of a file and of everything its metadata can come from (sidecar, folder manifest)."""
    h = hashlib.sha256(str(path.resolve()).encode())
    for p in (path, path.with_suffix(".json"), path.parent / "manifest.jsonl", path.parent / "manifest.csv"):
        if p.is_file():
            h.update(p.name.encode() + b"\x00" + p.read_bytes())
    return h.hexdigest()


def _corpus_hash(docs: Sequence[Document]) -> str:
    h = hashlib.sha256()
    for d in sorted(docs, key=lambda d: d.meta.doc_id):
        h.update(f"{d.meta.doc_id}\x00{d.content_hash}\n".encode())
    return h.hexdigest()


def _embed_all(
    passages: Sequence[Passage], get_embedder: Callable[[], Embedder], cache: EmbeddingCache,
    batch_size: int, progress: bool,
) -> tuple[np.ndarray, int]:
    """Vectors for every passage, from the cache where possible; new ones embedded shortest first."""
    keys = [text_key(p.text) for p in passages]
    cached = cache.get_many(list(dict.fromkeys(keys)))
    missing = sorted({k: p.text for k, p in zip(keys, passages, strict=True) if k not in cached}.items(),
                     key=lambda kv: len(kv[1]))
    if missing:
        embedder = get_embedder()
        bar = tqdm(total=len(missing), desc="Embedding", unit="chunk", disable=not progress)
        for batch in _batches(missing, batch_size * 8):  # sorted by length: little padding per batch
            vecs = embedder.encode_passages([t for _, t in batch])
            cache.put_many([k for k, _ in batch], vecs)
            cached.update({k: v for (k, _), v in zip(batch, vecs, strict=True)})
            bar.update(len(batch))
        bar.close()
    if not passages:
        return np.zeros((0, 0), np.float32), 0
    return np.vstack([cached[k] for k in keys]).astype(np.float32), len(missing)


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def build_index(
    paths: Sequence[Path], settings: Settings, *, embedder: Embedder | None = None, progress: bool = True,
    force: bool = False,
) -> BuildReport:
    started = time.perf_counter()
    index_dir = Path(settings.index_dir)
    _check_paths(paths, index_dir)
    report = BuildReport(index_dir=index_dir)

    model_id = embedder.model_id if embedder else model_id_for(settings.model)
    lazy: dict[str, Embedder] = {}

    def get_embedder() -> Embedder:
        if "e" not in lazy:
            lazy["e"] = embedder or load_embedder(settings)
        return lazy["e"]

    max_model_tokens = get_embedder().max_tokens if embedder else None
    files, report.skipped = discover([Path(p) for p in paths])
    fingerprint = {"model": model_id, "chunk_tokens": settings.chunk_tokens,
                   "chunk_overlap": settings.chunk_overlap, "chunker": CHUNKER_VERSION}
    previous = _Previous(index_dir, fingerprint)
    registry = CouncilRegistry()
    docs: list[Document] = []
    known: dict[str, list[Passage]] = {}  # doc id -> passages of files unchanged since the last build
    fingerprints: dict[str, str] = {}
    seen_ids: dict[str, str] = {}
    bar = tqdm(files, desc="Reading", unit="file", disable=not progress)
    for path in bar:
        fp = file_fingerprint(path)
        record = previous.unchanged(fp)
        try:
            doc = record[0] if record else load_document(path, registry)
        except SkipFile as exc:
            report.skipped.append((str(path), str(exc)))
            continue
        except Exception as exc:  # one bad file must not stop the build; its reason is reported
            report.skipped.append((str(path), f"could not be read: {type(exc).__name__}: {exc}"))
            continue
        if doc.meta.doc_id in seen_ids:
            report.skipped.append(
                (str(path), f"duplicate document id {doc.meta.doc_id!r} (also {seen_ids[doc.meta.doc_id]})")
            )
            continue
        if record:
            known[doc.meta.doc_id] = record[1]
            registry.add(doc.meta.extra.get("council_raw") or doc.meta.council or "")
        seen_ids[doc.meta.doc_id] = str(path)
        fingerprints[doc.meta.doc_id] = fp
        docs.append(doc)

    if not docs:
        raise IndexBuildError(
            "Nothing could be indexed: every file was skipped or none was found. "
            + ("Reasons: " + "; ".join(f"{p}: {r}" for p, r in report.skipped[:10]) if report.skipped
               else "Supported files: .txt .md .html .pdf .docx")
        )

    for doc in docs:  # an early document may have met its council before its most official spelling
        recanonicalise(doc.meta, registry)
    corpus_hash = _corpus_hash(docs)
    if (not force and previous.manifest and previous.store is not None
            and previous.manifest.get("corpus_hash") == corpus_hash
            and previous.manifest.get("vector_backend") == settings.vector_backend):
        previous.close()
        m = previous.manifest
        report.documents, report.chunks, report.tokens = m["documents"], m["passages"], m["tokens"]
        report.reused_documents, report.up_to_date = m["documents"], True
        report.faiss_index = m.get("dense", {}).get("kind", "")
        report.seconds = time.perf_counter() - started
        return report

    report.removed_documents = sorted(set(previous.hashes) - set(seen_ids))
    per_doc: list[tuple[Document, list[Passage]]] = []
    for doc in tqdm(docs, desc="Chunking", unit="doc", disable=not progress):
        passages = known.get(doc.meta.doc_id) or previous.reuse(doc)
        if passages is not None:
            report.reused_documents += 1
        else:
            if max_model_tokens is None:
                max_model_tokens = get_embedder().max_tokens
            chunk_settings = ChunkSettings(settings.chunk_tokens, settings.chunk_overlap, max_model_tokens)
            passages = chunk_document(doc, chunk_settings, get_embedder().count_tokens)
        for p in passages:
            p.council = doc.meta.council
        per_doc.append((doc, passages))
    previous.close()

    all_passages = [p for _, ps in per_doc for p in ps]
    backend = embedder.backend if embedder else choose_backend(settings)
    # Keyed by backend too: bf16 or int8 vectors are close to float32 ones, not equal.
    cache = EmbeddingCache(settings.resolved_cache_dir, f"{model_id}-{backend}")
    try:
        vectors, report.embedded = _embed_all(all_passages, get_embedder, cache, settings.embed_batch_size, progress)
    finally:
        cache.close()

    report.documents = len(per_doc)
    report.chunks = len(all_passages)
    report.tokens = sum(p.n_tokens for p in all_passages)
    dimension = int(vectors.shape[1]) if len(vectors) else (get_embedder().dimension)
    if max_model_tokens is None:  # every document reused: the limit is the one recorded last time
        max_model_tokens = (previous.manifest or {}).get("chunking", {}).get("max_model_tokens")
    report.embed_backend = lazy["e"].backend if "e" in lazy else ""
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": {"id": model_id, "dimension": dimension, "normalized": True, "metric": "inner_product",
                  "backend_used": report.embed_backend or None},
        "chunking": {"tokenizer": "cl100k_base", "chunk_tokens": settings.chunk_tokens,
                     "chunk_overlap": settings.chunk_overlap, "max_model_tokens": max_model_tokens,
                     "chunker_version": CHUNKER_VERSION},
        "fingerprint": fingerprint,
        "corpus_hash": corpus_hash,
        "documents": report.documents,
        "passages": report.chunks,
        "tokens": report.tokens,
        "vector_backend": settings.vector_backend,
        "versions": _versions(),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    dense_kind = _write_index(index_dir, per_doc, vectors, manifest, settings, dimension, fingerprints)
    report.faiss_index = dense_kind
    report.seconds = time.perf_counter() - started
    return report


def _write_index(
    index_dir: Path, per_doc: Sequence[tuple[Document, list[Passage]]], vectors: np.ndarray,
    manifest: dict, settings: Settings, dimension: int, fingerprints: dict[str, str],
) -> str:
    parent = index_dir.resolve().parent
    for stale in parent.glob(f".{index_dir.name}.tmp-*"):  # left by a killed build
        shutil.rmtree(stale, ignore_errors=True)
    tmp = parent / f".{index_dir.name}.tmp-{os.getpid()}-{int(time.time())}"
    tmp.mkdir()
    try:
        store = PassageStore.create(tmp / PASSAGES)
        row = 0
        for doc, passages in per_doc:
            store.add_document(doc, passages, row, fingerprints.get(doc.meta.doc_id, ""))
            row += len(passages)
        store.finish()
        texts = [p.text for _, ps in per_doc for p in ps]
        SparseBM25.build(texts).save(tmp)
        if settings.vector_backend == "milvus":
            from indexer.dense_milvus import MilvusDense

            milvus = MilvusDense.build(vectors, tmp, dimension=dimension)
            kind, params = "milvus", milvus.params
        else:
            kind = choose_faiss_kind(len(texts), settings.faiss_index, settings.exact_search_max)
            faiss_dense = FaissDense.build(vectors, kind, dimension=dimension)
            faiss_dense.save(tmp)
            kind, params = faiss_dense.kind, faiss_dense.params
        manifest["dense"] = {"kind": kind, "params": params}
        # The manifest goes last: a folder without one is never taken for an index.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        _swap_in(tmp, index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return kind


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
