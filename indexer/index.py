"""The index folder: it describes itself with `manifest.json`, and loading checks it.

    index/
      manifest.json     model, dimension, chunking, corpus hash, counts, versions, build time
      passages.sqlite   passages with citations, documents with their cleaned text
      vectors.faiss     dense vectors (or milvus.db for the Milvus backend)
      bm25/             the BM25 index (bm25s)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.dense import DenseIndex, FaissDense
from indexer.passages import PassageStore
from indexer.sparse import SparseBM25

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
PASSAGES = "passages.sqlite"


class IndexLoadError(RuntimeError):
    """The index folder is missing, incomplete or incompatible; the message says what to run."""


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the index in `folder`.

    Raises IndexLoadError, naming the command that fixes it, when it is missing, unreadable or of another
    format version.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise IndexLoadError(
            f"No index at {folder} (no {MANIFEST}). Build one with: councilqa index corpus/ --index-dir {folder}"
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexLoadError(
            f"{path} is unreadable ({exc}). Rebuild the index with: councilqa index corpus/ --index-dir {folder}"
        ) from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(
            f"The index at {folder} has format {manifest.get('format_version')!r}, this version reads "
            f"{FORMAT_VERSION}. Rebuild it with: councilqa index corpus/ --index-dir {folder}"
        )
    return dict(manifest)


def recover_interrupted(folder: Path) -> None:
    """Finish a swap that a killed build left half done (old folder moved aside, new one not yet in)."""
    folder = Path(folder)
    if folder.exists():
        return
    for old in sorted(folder.parent.glob(f".{folder.name}.old-*"), reverse=True):
        if (old / MANIFEST).is_file():
            old.rename(folder)
            return


@dataclass
class CouncilIndex:
    """One complete build of the index, loaded: its manifest, passage store, vectors and BM25.

    Every part is opened from the same build even while a rebuild swaps the folder: the files are
    reached through one open handle on the build's directory (see `_pinned`), and the swap renames
    whole folders, never files inside them.
    """

    folder: Path
    manifest: dict[str, Any]
    passages: PassageStore
    dense: DenseIndex
    sparse: SparseBM25

    @property
    def model_id(self) -> str:
        """The embedding model the index was built with."""
        return str(self.manifest["model"]["id"])

    @property
    def build_id(self) -> str:
        """The build this index is: a new id for every build that writes the folder."""
        return build_id_of(self.manifest)

    @classmethod
    def load(cls, folder: Path, expected_model_id: str | None = None) -> CouncilIndex:
        """Load and check the index in `folder`; IndexLoadError names the command that fixes it."""
        folder = Path(folder)
        recover_interrupted(folder)
        with _pinned(folder) as base:
            return cls._load(folder, base, expected_model_id)

    @classmethod
    def _load(cls, folder: Path, base: Path, expected_model_id: str | None) -> CouncilIndex:
        manifest = read_manifest(base)
        model = manifest["model"]["id"]
        if expected_model_id is not None and expected_model_id != model:
            raise IndexLoadError(
                f"The index at {folder} was built with model {model!r} but the configured model is "
                f"{expected_model_id!r}. Set COUNCILQA_MODEL to {model!r}, or rebuild with: "
                f"councilqa index corpus/ --index-dir {folder} --model {expected_model_id}"
            )
        try:
            passages = PassageStore(base / PASSAGES)
            dense = load_dense(base if manifest.get("vector_backend", "faiss") == "faiss" else folder, manifest)
            sparse = SparseBM25.load(base, int(manifest["passages"]))
        except Exception as exc:
            raise IndexLoadError(
                f"The index at {folder} is incomplete or damaged ({exc}). Rebuild it with: "
                f"councilqa index corpus/ --index-dir {folder}"
            ) from exc
        missing = passages.missing_columns()
        if missing:
            raise IndexLoadError(
                f"The index at {folder} was built before the field(s) {', '.join(missing)} were declared. "
                f"Rebuild it with: councilqa index corpus/ --index-dir {folder}"
            )
        if dense.size != manifest["passages"] or passages.count() != manifest["passages"]:
            raise IndexLoadError(
                f"The index at {folder} is inconsistent: manifest says {manifest['passages']} passages, "
                f"vectors hold {dense.size}. Rebuild it with: councilqa index corpus/ --index-dir {folder}"
            )
        return cls(folder, manifest, passages, dense, sparse)


def build_id_of(manifest: dict[str, Any]) -> str:
    """The manifest's build id; an index written before builds had ids gets one from its hash and time."""
    if manifest.get("build_id"):
        return str(manifest["build_id"])
    seed = f"{manifest.get('corpus_hash', '')}|{manifest.get('built_at', '')}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def current_build_id(folder: Path) -> str | None:
    """The id of the build in `folder` now, or None when there is no readable index there."""
    try:
        return build_id_of(read_manifest(Path(folder)))
    except IndexLoadError:
        return None


@contextlib.contextmanager
def _pinned(folder: Path) -> Iterator[Path]:
    """A path that stays on this build's directory while it is open, even if the folder is swapped.

    On Linux, /proc/self/fd/N names the directory the handle was opened on, whatever is renamed
    later; elsewhere the folder itself (a swap during the load is then caught by the count checks).
    """
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield folder  # read_manifest reports the missing folder with the fix
        return
    try:
        proc = Path(f"/proc/self/fd/{fd}")
        yield proc if proc.is_dir() else folder
    finally:
        os.close(fd)


def load_dense(folder: Path, manifest: dict[str, Any]) -> DenseIndex:
    """The dense vectors in `folder` on the backend the manifest names (faiss or milvus).

    Raises IndexLoadError for an unknown backend.
    """
    backend = manifest.get("vector_backend", "faiss")
    if backend == "faiss":
        return FaissDense.load(folder)
    if backend == "milvus":
        from indexer.dense_milvus import MilvusDense

        return MilvusDense.load(folder)
    raise IndexLoadError(f"Unknown vector backend {backend!r} in {folder / MANIFEST}")
