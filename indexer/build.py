"""`councilqa index`: from folders of council papers to a self-describing hybrid index.

The build runs the stages of `indexer.pipeline` (discover, read, reuse, parse, canonicalise, chunk,
embed) and writes into a temporary folder beside the index, swapped in only when complete, so a
failed or killed build leaves the previous index intact and loadable.
"""

from __future__ import annotations

import contextlib
import hashlib
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
from common.fields import CONTEXT_FIELDS, FIELDS
from common.settings import Settings
from indexer import chunk as chunker
from indexer import clean, loaders, sentence_vectors, structure
from indexer.cache import EmbeddingCache, text_key
from indexer.context import MAX_CONTEXT_WORDS, searchable_text
from indexer.dense import FaissDense, choose_faiss_kind
from indexer.embed import Embedder
from indexer.index import (
    FILES,
    FORMAT_VERSION,
    MANIFEST,
    PASSAGES,
    build_files,
    build_id_of,
    damaged_files,
    remove_leftovers,
)
from indexer.loaders import load_document
from indexer.models import Document, DocumentMeta, Passage
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
    printable,
    same_text,
)
from indexer.roles import ROLES_VERSION
from indexer.sparse import SparseBM25

CHUNKER_VERSION = 3
# With the hash of the code that reads, cleans, parses and chunks a paper: a rebuild after a change to it
# chunks every document again (from the embedding cache) instead of reusing the last build's passages.
CHUNKER_CODE = f"{CHUNKER_VERSION}-" + hashlib.sha256(b"".join(
    Path(m.__file__).read_bytes() for m in (loaders, clean, structure, chunker) if m.__file__)).hexdigest()[:12]


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
    sentences: int = 0  # quotable sentences stored with their vectors (0: the index stores none)
    sentences_embedded: int = 0  # of those, the ones sent through the model in this run
    reused_documents: int = 0  # unchanged documents whose chunks were taken from the previous index
    reembedded_documents: int = 0  # of those, the ones whose vectors were not in the embedding cache
    removed_documents: list[str] = field(default_factory=list)
    removed_reasons: dict[str, str] = field(default_factory=dict)  # document id -> why it left the index
    skipped: list[tuple[str, str]] = field(default_factory=list)
    same_text: list[list[str]] = field(default_factory=list)  # files indexed with the same extracted text
    restricted: list[tuple[str, str]] = field(default_factory=list)  # (document id, why) of restricted papers
    sources: list[str] = field(default_factory=list)  # the folders and files the index is built from
    cache_dir: str = ""
    seconds: float = 0.0
    up_to_date: bool = False
    faiss_index: str = ""
    embed_backend: str = ""
    published: str = ""  # with the Milvus store: where the build went live ("<uri>: <collection> as <alias>")

    def summary(self) -> str:
        """A few lines for a person: counts, rates, time, what was removed and why, files with the same
        text, and every skipped file with its reason; names that are not UTF-8 are shown escaped."""
        rate = lambda n: f"{n / self.seconds:,.1f}/s" if self.seconds > 0 else "-"  # noqa: E731
        lines = [
            f"Index: {self.index_dir}" + (" (already up to date)" if self.up_to_date else ""),
            *([f"  sources: {', '.join(self.sources)}"] if self.sources else []),
            f"  documents {self.documents:,} ({rate(self.documents)}), chunks {self.chunks:,}, "
            f"tokens {self.tokens:,} ({rate(self.tokens)})",
            f"  embedded {self.embedded:,} chunks, {self._reused()}, removed {len(self.removed_documents):,}",
            *([f"  sentences {self.sentences:,} stored for answers ({self.sentences_embedded:,} embedded now)"]
              if self.sentences else []),
            f"  {self.seconds:.1f} s" + (f", vectors: {self.faiss_index}" if self.faiss_index else "")
            + (f", embedding backend: {self.embed_backend}" if self.embed_backend else ""),
        ]
        if self.published:
            lines.append(f"  published to Milvus {self.published}")
        lines += self._removed_lines()
        if self.same_text:
            lines.append(f"  {len(self.same_text)} group(s) of files with the same text (all indexed):")
            lines += [f"    {', '.join(paths)}" for paths in self.same_text]
        if self.restricted:
            lines.append(f"  {len(self.restricted)} restricted document(s), served only to keys with the "
                         "restricted scope:")
            lines += [f"    {doc_id}: {why}" for doc_id, why in self.restricted]
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} file(s):")
            lines += [f"    {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(printable(line) for line in lines)

    def _reused(self) -> str:
        text = f"reused {self.reused_documents:,} documents unchanged from the previous index"
        if self.reembedded_documents:
            text += (f" ({self.reembedded_documents:,} of them re-embedded: their vectors were not in the "
                     f"embedding cache {self.cache_dir})")
        return text

    def _removed_lines(self, shown: int = 20) -> list[str]:
        if not self.removed_documents:
            return []
        lines = [f"  removed {len(self.removed_documents):,} document(s):"]
        lines += [f"    {doc_id}: {self.removed_reasons.get(doc_id, 'no longer found')}"
                  for doc_id in self.removed_documents[:shown]]
        if len(self.removed_documents) > shown:
            lines.append(f"    ... and {len(self.removed_documents) - shown:,} more")
        return lines


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


def resolve_sources(paths: Sequence[Path], previous: Sequence[Path], replace: bool) -> list[Path]:
    """What this build reads: the previous index's sources with `paths` added, or exactly `paths` if `replace`.

    Raises IndexBuildError, naming the fix, when a source of the previous index no longer exists.
    """
    given = [Path(p).resolve() for p in paths]
    if replace:
        return list(dict.fromkeys(given))
    gone = [printable(str(p)) for p in previous if not p.exists()]
    if gone:
        raise IndexBuildError(
            f"The index was also built from {', '.join(gone)}, which no longer exists: restore it, or pass "
            "--replace to build from exactly the paths given (its documents are then removed)"
        )
    return list(dict.fromkeys([*previous, *given]))


def build_index(
    paths: Sequence[Path], settings: Settings, *, embedder: Embedder | None = None, progress: bool = True,
    force: bool = False, replace: bool = False,
) -> BuildReport:
    """Index the council papers under `paths` into `settings.index_dir`, reusing what the last build left.

    The manifest keeps the folders the index is built from (`sources`): a later build reads them again
    with `paths` added, so a document leaves only when its file is gone; `replace` builds from exactly
    `paths`. Raises IndexBuildError before any work when the input or index folder is unusable or a
    source is gone, and when no file could be indexed.
    """
    started = time.perf_counter()
    index_dir = Path(settings.index_dir)
    _check_paths(paths, index_dir)
    report = BuildReport(index_dir=index_dir, cache_dir=str(settings.resolved_cache_dir))
    embedders = EmbedderHandle(settings, embedder)
    fingerprint = {"model": embedders.model_id(), "chunk_tokens": settings.chunk_tokens,
                   "chunk_overlap": settings.chunk_overlap, "chunker": CHUNKER_CODE, "roles": ROLES_VERSION,
                   "fields": [f.name for f in FIELDS],
                   "context": {"bm25": settings.context_bm25, "dense": settings.context_dense, "view": 2,
                               "fields": [f.name for f in CONTEXT_FIELDS], "words": MAX_CONTEXT_WORDS}}
    previous = PreviousIndex(index_dir, fingerprint)
    try:
        sources = resolve_sources(paths, previous.sources, replace)
        report.sources = [str(s) for s in sources]
        # `load_document` is looked up here, at call time, so that a substituted loader is the one used.
        records = _load_corpus(sources, previous, report, progress, load_document)
        _stamp_first_indexed(records, index_dir)
        if not force and _up_to_date(previous, index_dir, corpus_hash(_docs(records)), settings, report.sources):
            return _up_to_date_report(report, previous.manifest or {}, started)
        _note_removed(report, previous, records, replace)
        records = _chunk_all(records, previous, make_chunker(settings, embedders), embedders, report, progress)
        report.reused_documents = sum(r.reused for r in records)
    finally:
        previous.close()
    corpus = corpus_hash(_docs(records))  # without any that failed to chunk
    # Known only if this build loaded the embedder; else every document was reused and the limit is the last one.
    max_model_tokens = (embedders.get().max_tokens if embedders.loaded
                        else (previous.manifest or {}).get("chunking", {}).get("max_model_tokens"))
    passages = [p for r in records for p in r.passages or ()]
    vectors, units = _embed_cached(records, passages, embedders, settings, progress, report)
    report.documents, report.chunks = len(records), len(passages)
    report.tokens = sum(p.n_tokens for p in passages)
    dimension = int(vectors.shape[1]) if len(vectors) else embedders.get().dimension
    report.embed_backend = embedders.backend_used()
    manifest = _manifest(settings, report, fingerprint, corpus, embedders.model_id(), dimension, max_model_tokens)
    report.faiss_index = write_index(index_dir, records, vectors, manifest, settings, dimension, units)
    report.published = manifest.get("published", "")
    report.seconds = time.perf_counter() - started
    return report


def _stamp_first_indexed(records: Sequence[FileRecord], index_dir: Path) -> None:
    """Each document's `first_indexed`: when the index first held it (kept from the last build, whatever
    else changed), else now. A new paper is what is new; a changed one keeps its first date."""
    known: dict[str, str] = {}
    if (index_dir / PASSAGES).is_file():
        try:
            store = PassageStore(index_dir / PASSAGES)
            try:
                known = {m.doc_id: m.first_indexed for m in store.all_metadata() if m.first_indexed}
            finally:
                store.close()
        except Exception:  # an old or damaged store: its documents count as new
            known = {}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for doc in _docs(records):
        doc.meta.first_indexed = known.get(doc.meta.doc_id) or doc.meta.first_indexed or now


def _docs(records: Sequence[FileRecord]) -> list[Document]:
    return [r.doc for r in records if r.doc is not None]


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
        raise IndexBuildError(printable(
            "Nothing could be indexed: every file was skipped or none was found. "
            + ("Reasons: " + "; ".join(f"{p}: {r}" for p, r in report.skipped[:10]) if report.skipped
               else "Supported files: .txt .md .html .pdf .docx")
        ))
    report.same_text = same_text(kept)
    canonicalise([r.doc for r in kept if r.doc is not None])
    report.restricted = [(r.doc.meta.doc_id, _why_restricted(r.doc.meta)) for r in kept
                         if r.doc is not None and r.doc.meta.access == "restricted"]
    return kept


def _why_restricted(meta: DocumentMeta) -> str:
    """Where a restricted document's access level came from: its metadata file, or its own words."""
    source = (meta.extra.get("meta_sources") or {}).get("access")
    if source in ("sidecar", "manifest"):
        return f"\"access\": \"restricted\" in its {source}"
    return str(meta.extra.get("access_reason") or "restricted")


def _up_to_date(previous: PreviousIndex, index_dir: Path, corpus: str, settings: Settings,
                sources: list[str]) -> bool:
    """The previous index already holds exactly these documents from these sources, with the same vector
    backend and sentence vectors stored as the settings ask, and its files have the sizes its manifest recorded."""
    m = previous.manifest
    wants_sentences = 0 < int(m.get("passages", 0)) <= settings.sentence_vectors_max if m else False
    return bool(m and previous.store is not None and m.get("corpus_hash") == corpus
                and m.get("vector_backend") == settings.vector_backend and m.get("sources") == sources
                and ("sentences" in m) == wants_sentences
                and damaged_files(index_dir, m, hashes=False) is None and _published(m, settings))


def _published(manifest: dict, settings: Settings) -> bool:
    """With the Milvus store, whether the alias points at this very build (else it is published again)."""
    if settings.store != "milvus":
        return True
    from indexer.milvus_store import MilvusStoreError, live_build_id

    try:
        return live_build_id(settings) == build_id_of(manifest)
    except MilvusStoreError:
        return False


def _note_removed(report: BuildReport, previous: PreviousIndex, kept: Sequence[FileRecord], replace: bool) -> None:
    """The previous index's documents this build drops, each with the reason."""
    now_as = {printable(str(r.path)): r.doc.meta.doc_id for r in kept}  # type: ignore[union-attr]
    skipped = {printable(path): reason for path, reason in report.skipped}
    report.removed_documents = sorted(set(previous.hashes) - set(now_as.values()))
    for doc_id in report.removed_documents:
        report.removed_reasons[doc_id] = _why_removed(previous.paths.get(doc_id, ""), now_as, skipped, replace)


def _why_removed(path: str, now_as: dict[str, str], skipped: dict[str, str], replace: bool) -> str:
    if path in now_as:
        return f"{path} is now indexed as {now_as[path]}"
    if path in skipped:
        return f"{path} is now skipped: {skipped[path]}"
    if not path or not os.path.lexists(path):
        return f"its file {path or '(unknown)'} is gone"
    if replace:
        return f"{path} is not under the paths given with --replace"
    return f"{path} is no longer found in the sources (hidden, or a sidecar gives it another id?)"


def _up_to_date_report(report: BuildReport, manifest: dict, started: float) -> BuildReport:
    report.documents, report.chunks, report.tokens = manifest["documents"], manifest["passages"], manifest["tokens"]
    report.reused_documents, report.up_to_date = manifest["documents"], True
    report.faiss_index = manifest.get("dense", {}).get("kind", "")
    report.seconds = time.perf_counter() - started
    return report


def _chunk_all(
    records: Sequence[FileRecord], previous: PreviousIndex, chunker: Chunker, embedders: EmbedderHandle,
    report: BuildReport, progress: bool,
) -> list[FileRecord]:
    """Chunk every document; one that fails is skipped with the reason (a model that fails to load stops the build)."""
    for record in tqdm(records, desc="Chunking", unit="doc", disable=not progress):
        try:
            chunk(record, previous, chunker)
        except Exception as exc:
            if not embedders.loaded:
                raise
            record.skip = (f"could not be split into passages ({type(exc).__name__}: {exc}); "
                           "check the file's text, or report it with the file")
            report.skipped.append((str(record.path), record.skip))
    return [r for r in records if r.skip is None]


def _embed_cached(
    records: Sequence[FileRecord], passages: Sequence[Passage], embedders: EmbedderHandle, settings: Settings,
    progress: bool, report: BuildReport,
) -> tuple[np.ndarray, Units | None]:
    """The passages' vectors and their sentences', from the embedding cache where it has them; counts what
    was embedded."""
    # Keyed by backend too: bf16 or int8 vectors are close to float32 ones, not equal.
    cache = EmbeddingCache(settings.resolved_cache_dir, f"{embedders.model_id()}-{embedders.backend()}")
    missed: set[str] = set()
    try:
        vectors, report.embedded = embed(passages, embedders.get, cache, settings.embed_batch_size, progress, missed,
                                         text_of=lambda p: searchable_text(p, settings.context_dense))
        units = _sentences(passages, embedders, cache, settings, progress, report)
    finally:
        cache.close()
    report.reembedded_documents = _reembedded(records, missed, settings.context_dense)
    return vectors, units


Units = tuple[np.ndarray, np.ndarray, np.ndarray]  # sentence vectors, their spans, and the row pointer


def _sentences(passages: Sequence[Passage], embedders: EmbedderHandle, cache: EmbeddingCache, settings: Settings,
               progress: bool, report: BuildReport) -> Units | None:
    """Every quotable sentence's vector (indexer/sentence_vectors.py), up to `sentence_vectors_max` passages."""
    if not passages or len(passages) > settings.sentence_vectors_max:
        return None
    spans, ptr = sentence_vectors.unit_spans(passages)

    def encode(texts: list[str]) -> np.ndarray:
        return embedders.get().encode_passages(texts)

    with tqdm(desc="Embedding sentences", unit="sentence", disable=not progress) as bar:
        vecs, report.sentences_embedded = sentence_vectors.embed_units(passages, spans, ptr, encode, cache,
                                                                       on_batch=bar.update)
    report.sentences = len(spans)
    return vecs, spans, ptr


def _reembedded(records: Sequence[FileRecord], missed: set[str], context: bool) -> int:
    """How many documents taken from the previous index had chunks embedded again (not in the cache)."""
    if not missed:
        return 0
    return sum(1 for r in records if r.reused and any(text_key(searchable_text(p, context)) in missed
                                                   for p in r.passages or ()))


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
        "sources": report.sources,  # the folders and files a later build reads again (see `resolve_sources`)
        "versions": _versions(),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_id": uuid.uuid4().hex[:16],  # what a running service reports, and how it sees a new build
    }


def write_index(
    index_dir: Path, records: Sequence[FileRecord], vectors: np.ndarray, manifest: dict, settings: Settings,
    dimension: int, units: Units | None = None,
) -> str:
    """Write the index into a fresh folder beside `index_dir` and swap it in; returns the dense index's kind."""
    parent = index_dir.resolve().parent
    remove_leftovers(parent / index_dir.name)  # what killed builds left; never a running build's folder
    tmp = parent / f".{index_dir.name}.tmp-{os.getpid()}-{int(time.time())}"
    tmp.mkdir()
    try:
        manifest["dense"] = _write_parts(tmp, records, vectors, settings, dimension)
        if units is not None:
            sentence_vectors.save(tmp, *units)
            manifest["sentences"] = {"count": int(len(units[1])), "dtype": "float16"}
        manifest[FILES] = build_files(tmp)  # how recovery tells a complete build from a damaged one
        # The manifest goes last: a folder without one is never taken for an index.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if settings.store == "milvus":  # goes live for every API node when the alias switches
            from indexer.milvus_store import MilvusStoreError, publish

            try:
                names = publish(tmp, vectors, units, manifest, settings)
                manifest["published"] = f"{settings.resolved_milvus_uri}: {names.passages} as {names.prefix}"
            except MilvusStoreError as exc:
                raise IndexBuildError(str(exc)) from exc
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
    texts = [searchable_text(p, settings.context_bm25) for r in records for p in r.passages or ()]
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
