"""The stages of an index build, each a small function over one `FileRecord` per input file.

    discover → read → reuse → parse → drop duplicates → canonicalise → chunk → embed → (write)

`read` takes each file's bytes once and fingerprints them; an unchanged file is then taken whole
from the previous index (`reuse`) and never parsed; any other file is parsed from the bytes
already read. Councils are canonicalised once, when every document is known. `indexer.build`
runs the stages in order and writes the index.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.settings import Settings
from indexer.cache import EmbeddingCache, text_key
from indexer.chunk import ChunkSettings, chunk_document
from indexer.discover import find_files
from indexer.embed import Embedder, choose_backend, load_embedder, model_id_for
from indexer.index import PASSAGES, IndexLoadError, read_manifest, recover_interrupted
from indexer.loaders import read_file
from indexer.metadata import MANIFEST_NAMES, CouncilRegistry, default_doc_ids, recanonicalise, unsafe_doc_id
from indexer.models import Document, Passage, SkipFile, passage_id
from indexer.passages import PassageStore

# Called as loader(path, None, raw): `load_document`'s signature, given the bytes the build already read.
Loader = Callable[[Path, None, bytes], Document]
Chunker = Callable[[Document], list[Passage]]


@dataclass
class FileRecord:
    """One input file on its way through the build; each stage fills in its part."""

    path: Path
    raw: bytes | None = None  # the file's bytes: read once, dropped as soon as they are parsed
    fingerprint: str = ""  # the file's path, bytes and metadata files, hashed once: the reuse key
    doc: Document | None = None
    passages: list[Passage] | None = None  # the previous index's for an unchanged file, then the final ones
    reused: bool = False  # the passages came from the previous index rather than from chunking
    skip: str | None = None  # why the file is not indexed
    default_id: str = ""  # its id unless a sidecar or manifest gives one (`default_doc_ids`); "": the loader's

    @property
    def indexed(self) -> bool:
        """Loaded and not skipped: the document goes into the index."""
        return self.doc is not None and self.skip is None


class PreviousIndex:
    """What the last build left: reusable documents when the chunking and model are the same."""

    def __init__(self, index_dir: Path, fingerprint: dict) -> None:
        self.store: PassageStore | None = None
        self.hashes: dict[str, str] = {}
        self.by_fingerprint: dict[str, str] = {}
        self.paths: dict[str, str] = {}  # document id -> the file it was read from
        self.manifest: dict | None = None
        try:
            recover_interrupted(index_dir)
            self.manifest = read_manifest(index_dir)
        except IndexLoadError:
            return
        if self.manifest.get("fingerprint") != fingerprint:
            # Nothing is reused (another model or chunking), but what the index holds still says what a
            # build that names only new folders must not drop.
            self.hashes, self.paths = _contents(index_dir)
            return
        try:
            self.store = PassageStore(index_dir / PASSAGES)
            self.hashes = self.store.document_hashes()
            self.by_fingerprint = self.store.fingerprints()
            self.paths = self.store.document_paths()
        except Exception:  # a damaged old index is simply not reused
            self.store, self.hashes, self.by_fingerprint, self.paths = None, {}, {}, {}

    @property
    def sources(self) -> list[Path]:
        """The input folders and files the previous index was built from.

        An index built before sources were recorded names none: its documents' own files that still
        exist stand in for them, so adding a folder to it does not drop what it held.
        """
        recorded = (self.manifest or {}).get("sources")
        if recorded:
            return [Path(p) for p in recorded]
        files = (Path(p) for p in dict.fromkeys(self.paths.values()) if p)
        return [f for f in files if f.is_file()]

    def unchanged(self, fingerprint: str) -> tuple[Document, list[Passage]] | None:
        """The stored document and passages of a file whose bytes and metadata files are unchanged."""
        doc_id = self.by_fingerprint.get(fingerprint)
        if self.store is None or doc_id is None:
            return None
        return self.store.document_record(doc_id)

    def reuse(self, doc: Document) -> list[Passage] | None:
        """The stored passages of a document with the same content hash (e.g. a moved file), if any."""
        if self.store is None or self.hashes.get(doc.meta.doc_id) != doc.content_hash:
            return None
        record = self.store.document_record(doc.meta.doc_id)
        return record[1] if record else None

    def close(self) -> None:
        """Release the old passage store; the new index replaces its folder."""
        if self.store is not None:
            self.store.close()


class EmbedderHandle:
    """The build's embedder, loaded on first use: a build that reuses every chunk never loads the model."""

    def __init__(self, settings: Settings, given: Embedder | None = None) -> None:
        self._settings = settings
        self._given = given
        self._embedder = given

    @property
    def loaded(self) -> bool:
        """Whether the embedder exists yet (a given one always does)."""
        return self._embedder is not None

    def get(self) -> Embedder:
        """The embedder, loading it from the settings the first time."""
        if self._embedder is None:
            self._embedder = load_embedder(self._settings)
        return self._embedder

    def model_id(self) -> str:
        """The model's identity for the manifest, without loading the model."""
        return self._given.model_id if self._given is not None else model_id_for(self._settings.model)

    def backend(self) -> str:
        """The backend the vectors come from, without loading the model: the embedding cache is keyed by it."""
        return self._given.backend if self._given is not None else choose_backend(self._settings)

    def backend_used(self) -> str:
        """The backend of the embedder actually loaded in this build; "" when none was."""
        return self._embedder.backend if self._embedder is not None else ""


# ------------------------------------------------------------------------------------------ stages


def _contents(index_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(document id -> content hash, document id -> source file) of an index, or empty when unreadable."""
    try:
        store = PassageStore(index_dir / PASSAGES)
    except Exception:  # a damaged old index: nothing to keep
        return {}, {}
    try:
        return store.document_hashes(), store.document_paths()
    except Exception:
        return {}, {}
    finally:
        store.close()


def discover_files(paths: Sequence[Path]) -> tuple[list[FileRecord], list[tuple[str, str]]]:
    """One record per supported file under `paths`, in sorted order, each with its default id, and
    (path, reason) for everything else found there."""
    found = find_files([Path(p) for p in paths])
    ids = default_doc_ids(found.files)
    return [FileRecord(path, default_id=ids[path]) for path, _ in found.files], sorted(found.skipped.items())


def printable(text: str) -> str:
    """`text` safe to print and store as UTF-8: a name's undecodable bytes shown as \\xff escapes."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no file name decodes to
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class MetadataBytes:
    """The bytes of the metadata files a fingerprint covers; a folder manifest is read once per build."""

    def __init__(self) -> None:
        self._manifests: dict[Path, bytes | None] = {}

    def get(self, path: Path) -> bytes | None:
        """The file's bytes, None if there is no such file."""
        if path.name not in MANIFEST_NAMES:  # sidecars belong to one file: caching them would only hold memory
            return _read_if_file(path)
        if path not in self._manifests:
            self._manifests[path] = _read_if_file(path)
        return self._manifests[path]


def _read_if_file(path: Path) -> bytes | None:
    if not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SkipFile(f"cannot read its metadata file {path.name}: {exc.strerror or exc}; "
                       "check that file's permissions") from exc


def metadata_paths(path: Path) -> tuple[Path, ...]:
    """Every file the document's metadata can come from: its sidecar, then its folder's manifests."""
    return (path.with_suffix(".json"), *(path.parent / name for name in MANIFEST_NAMES))


def fingerprint(path: Path, raw: bytes, metadata: MetadataBytes) -> str:
    """Hash of the file's path and bytes and of its metadata files' names and bytes.

    Stored in the index and compared by the next build, so its recipe must not change.
    """
    # Names as the file system's bytes (os.fsencode): the same as UTF-8 for any name that decodes, and
    # a name that is not UTF-8 (b"bad\xff.txt") hashes too.
    h = hashlib.sha256(os.fsencode(path.resolve()))
    h.update(os.fsencode(path.name) + b"\x00")
    h.update(raw)
    for meta_path in metadata_paths(path):
        data = metadata.get(meta_path)
        if data is not None:
            h.update(os.fsencode(meta_path.name) + b"\x00")
            h.update(data)
    return h.hexdigest()


def read(record: FileRecord, metadata: MetadataBytes) -> None:
    """Read the file's bytes, the only time they are read, and fingerprint them with its metadata files."""
    try:
        record.raw = read_file(record.path)
        record.fingerprint = fingerprint(record.path, record.raw, metadata)
    except SkipFile as exc:
        record.raw, record.skip = None, str(exc)
    except Exception as exc:  # one bad file must not stop the build; its reason is reported
        record.raw, record.skip = None, f"cannot read or fingerprint the file ({type(exc).__name__}: {exc})"


def reuse_unchanged(record: FileRecord, previous: PreviousIndex) -> None:
    """Take the document and passages of a file unchanged since the last build, which is then not parsed."""
    found = previous.unchanged(record.fingerprint)
    if found is not None:
        record.doc, record.passages = found


def parse(record: FileRecord, loader: Loader) -> None:
    """Extract, clean and describe the file from the bytes already read; a failure becomes its skip reason.

    Councils are only tidied here: `canonicalise` maps them once every document is loaded.
    """
    assert record.raw is not None, "read the file first"
    try:
        record.doc = loader(record.path, None, record.raw)
    except SkipFile as exc:
        record.skip = str(exc)
    except Exception as exc:  # one bad file must not stop the build; its reason is reported
        record.skip = (f"could not extract its text ({type(exc).__name__}: {exc}): the file may be damaged; "
                       "open and re-save or re-export it")


def settle(record: FileRecord) -> None:
    """Give a loaded document its final id (the default one unless its metadata names one) and check
    that it can be stored and fetched; a problem becomes the file's skip reason."""
    doc = record.doc
    assert doc is not None, "load the file first"
    sources = doc.meta.extra.get("meta_sources")
    if record.default_id and isinstance(sources, dict) and "doc_id" not in sources:
        doc.meta.doc_id = record.default_id
    doc.source_path = printable(str(record.path))
    record.skip = unsafe_doc_id(doc.meta.doc_id, _id_source(record.path, sources)) or _unstorable(doc)


def _id_source(path: Path, sources: object) -> str:
    """Where the document's id came from, for a skip reason: its sidecar, its folder's manifest or its name."""
    source = sources.get("doc_id") if isinstance(sources, dict) else None
    if source == "sidecar":
        return f"sidecar {printable(path.with_suffix('.json').name)}"
    if source == "manifest":
        return next((n for n in MANIFEST_NAMES if (path.parent / n).is_file()), "the folder's manifest")
    return f"the file name {printable(path.name)}"


def _unstorable(doc: Document) -> str | None:
    """Why the document cannot be written to the passage store (text that is not valid Unicode), or None."""
    try:
        json.dumps(doc.meta.to_dict(), ensure_ascii=False, default=str).encode("utf-8")
        doc.text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"its text or metadata holds characters that are not valid Unicode ({exc.reason}): "
                "re-save the file, or its sidecar, as UTF-8")
    return None


def load_one(record: FileRecord, metadata: MetadataBytes, previous: PreviousIndex, loader: Loader) -> None:
    """read → reuse → parse → settle for one file; any failure becomes its skip reason, never the build's."""
    try:
        read(record, metadata)
        if record.skip is None:
            reuse_unchanged(record, previous)
        if record.skip is None and record.doc is None:
            parse(record, loader)
        if record.skip is None and record.doc is not None:
            settle(record)
    except Exception as exc:  # e.g. a damaged previous index: this file is reported, the rest go on
        record.skip = f"could not be loaded ({type(exc).__name__}: {exc}); rerun with --force to rebuild it"
    finally:
        record.raw = None


def load_files(records: Sequence[FileRecord], previous: PreviousIndex, loader: Loader, progress: bool) -> None:
    """read → reuse → parse → settle for each file in turn, so only one file's bytes are held at a time."""
    metadata = MetadataBytes()
    for record in tqdm(records, desc="Reading", unit="file", disable=not progress):
        load_one(record, metadata, previous, loader)


def drop_duplicates(records: Sequence[FileRecord]) -> None:
    """Skip a file whose document id an earlier file (in sorted order) already has."""
    seen: dict[str, Path] = {}
    for record in records:
        if not record.indexed:
            continue
        doc_id = record.doc.meta.doc_id  # type: ignore[union-attr]
        if doc_id in seen:
            record.skip = f"duplicate document id {doc_id!r} (also {seen[doc_id]})"
        else:
            seen[doc_id] = record.path


def same_text(records: Sequence[FileRecord]) -> list[list[str]]:
    """The paths of indexed files that hold the same extracted text, in groups of two or more."""
    groups: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record.indexed:
            digest = hashlib.sha256(record.doc.text.encode("utf-8")).hexdigest()  # type: ignore[union-attr]
            groups[digest].append(printable(str(record.path)))
    return [paths for paths in groups.values() if len(paths) > 1]


def canonicalise(docs: Sequence[Document]) -> CouncilRegistry:
    """Give each document the most official spelling of its council seen in any document.

    Once per document, after all are loaded: a document read early has then met the spellings
    of later ones ("Wolverhampton" becomes "City of Wolverhampton Council").
    """
    registry = CouncilRegistry()
    for doc in docs:
        registry.add(doc.meta.extra.get("council_raw") or doc.meta.council or "")
    for doc in docs:
        recanonicalise(doc.meta, registry)
    return registry


def corpus_hash(docs: Sequence[Document]) -> str:
    """One hash of every document's id and content hash: equal when nothing needs re-indexing."""
    h = hashlib.sha256()
    for d in sorted(docs, key=lambda d: d.meta.doc_id):
        h.update(f"{d.meta.doc_id}\x00{d.content_hash}\n".encode())
    return h.hexdigest()


def make_chunker(settings: Settings, embedders: EmbedderHandle) -> Chunker:
    """Chunks a document within the embedder's own token limit; loads the embedder on first use."""

    def chunk_one(doc: Document) -> list[Passage]:
        model = embedders.get()
        limits = ChunkSettings(settings.chunk_tokens, settings.chunk_overlap, model.max_tokens)
        return chunk_document(doc, limits, model.count_tokens)

    return chunk_one


def chunk(record: FileRecord, previous: PreviousIndex, chunker: Chunker) -> None:
    """The document's passages: the previous index's when its content is unchanged, else chunked anew."""
    doc = record.doc
    assert doc is not None, "load the file first"
    passages = record.passages if record.passages is not None else previous.reuse(doc)
    record.reused = passages is not None
    if passages is None:
        passages = chunker(doc)
    for p in passages:  # reused passages carry the council as canonicalised by the last build
        p.council = doc.meta.council
        if p.doc_id != doc.meta.doc_id:  # and the id it had then: an id that is now unique changed
            p.doc_id, p.id = doc.meta.doc_id, passage_id(doc.meta.doc_id, p.text)
    record.passages = passages


def embed(
    passages: Sequence[Passage], get_embedder: Callable[[], Embedder], cache: EmbeddingCache,
    batch_size: int, progress: bool, missed: set[str] | None = None,
    text_of: Callable[[Passage], str] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for every passage and how many were embedded: from the cache where possible, new ones
    embedded shortest first. `missed`, when given, receives the cache keys of the texts embedded;
    `text_of` gives what is embedded of a passage (its text unless said otherwise)."""
    texts = [text_of(p) if text_of else p.text for p in passages]
    keys = [text_key(t) for t in texts]
    cached = cache.get_many(list(dict.fromkeys(keys)))
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cached}.items(),
                     key=lambda kv: len(kv[1]))
    if missed is not None:
        missed.update(k for k, _ in missing)
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
