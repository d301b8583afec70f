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
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.dense import DenseIndex, FaissDense
from indexer.passages import PassageStore
from indexer.sentence_vectors import SentenceVectors
from indexer.sparse import SparseBM25

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
PASSAGES = "passages.sqlite"
FILES = "files"  # the manifest's record of each file of the build: {path: {"size", "sha256"}}
_UNRECORDED = (MANIFEST, "milvus.db")  # milvus-lite rewrites its own file when it is opened
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
_OLD, _TMP = ".old-", ".tmp-"  # how a build names the folders beside the index: .index.tmp-<pid>-<time>
_STARTED = int(time.time())  # a leftover named with this process's pid but older is a former process's


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


def build_files(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file of the build in `folder`, by path inside it: what the manifest records.

    Not the manifest itself, nor milvus-lite's own file (which it rewrites when opened).
    """
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] in _UNRECORDED or path.name.endswith(_SQLITE_SIDE_FILES) or not path.is_file():
            continue
        out[rel.as_posix()] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    return out


def damaged_files(folder: Path, manifest: dict[str, Any], *, hashes: bool) -> str | None:
    """What differs between the build's files and the manifest's record of them, None if nothing does.

    Sizes only unless `hashes` (every byte is read then: for recovery, not for every load). A manifest
    written before files were recorded has nothing to compare.
    """
    for rel, expected in (manifest.get(FILES) or {}).items():
        path = Path(folder) / rel
        try:
            size = path.stat().st_size
        except OSError:
            return f"{rel} is missing"
        if size != expected.get("size"):
            return f"{rel} has {size:,} bytes, the manifest recorded {expected.get('size')}"
        if hashes and _sha256(path) != expected.get("sha256"):
            return f"{rel} does not match the hash the manifest recorded"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def recover_interrupted(folder: Path) -> None:
    """Finish a swap that a killed build left half done, and delete what killed builds left beside the index.

    When the folder is missing, the newest complete build (by its manifest's `built_at`, then the
    manifest's mtime) among the moved-aside `.old-*` folders and the finished `.tmp-*` folders of dead
    builds is moved in: complete means every file matches the size and hash its manifest recorded.
    """
    folder = Path(folder)
    if not folder.exists():
        best = _newest_complete(folder)
        if best is not None:
            with contextlib.suppress(OSError):  # another process recovered it first
                best.rename(folder)
    remove_leftovers(folder)


def remove_leftovers(folder: Path) -> None:
    """Delete the `.<name>.old-*` and `.<name>.tmp-*` folders beside `folder` of builds no longer running."""
    for path, marker in _leftovers(Path(folder)):
        if not _in_progress(path, marker):
            shutil.rmtree(path, ignore_errors=True)


def _leftovers(folder: Path) -> list[tuple[Path, str]]:
    """(path, marker) of each folder a build named after `folder`: `.index.old-<pid>-<time>`, `.index.tmp-...`."""
    try:
        entries = list(folder.parent.iterdir())
    except OSError:
        return []
    found = []
    for path in entries:
        for marker in (_OLD, _TMP):
            if path.name.startswith(f".{folder.name}{marker}") and path.is_dir():
                found.append((path, marker))
    return found


def _in_progress(path: Path, marker: str) -> bool:
    """Whether the build that named `path` (`<marker><pid>-<time>`) may still be running."""
    try:
        pid, stamp = (int(x) for x in path.name.rsplit(marker, 1)[1].split("-")[:2])
    except ValueError:
        return False
    if pid <= 0:
        return False
    if pid == os.getpid():  # this process: a build in another thread, unless a former process had our pid
        return stamp >= _STARTED
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is not ours to signal
        return True
    return True


def _newest_complete(folder: Path) -> Path | None:
    """The newest build beside `folder` that is complete: moved aside by a swap, or finished by a dead build."""
    candidates = [p for p, marker in _leftovers(folder)
                  if (p / MANIFEST).is_file() and (marker == _OLD or not _in_progress(p, marker))]
    for candidate in sorted(candidates, key=_newness, reverse=True):
        if _complete(candidate):
            return candidate
    return None


def _newness(candidate: Path) -> tuple[str, float, str]:
    try:
        built = str(json.loads((candidate / MANIFEST).read_text()).get("built_at") or "")
        mtime = (candidate / MANIFEST).stat().st_mtime
    except (OSError, ValueError):
        built, mtime = "", 0.0
    return built, mtime, candidate.name


def _complete(candidate: Path) -> bool:
    """Every file the manifest records is there with its size and hash (for an older build: its passages)."""
    try:
        manifest = read_manifest(candidate)
    except IndexLoadError:
        return False
    if not manifest.get(FILES):
        return (candidate / PASSAGES).is_file()
    return damaged_files(candidate, manifest, hashes=True) is None


class BuildInfo:
    """What a loaded build says of itself through its manifest (the local and the Milvus index alike)."""

    manifest: dict[str, Any]

    @property
    def model_id(self) -> str:
        """The embedding model the index was built with."""
        return str(self.manifest["model"]["id"])

    @property
    def build_id(self) -> str:
        """The build this index is: a new id for every build."""
        return build_id_of(self.manifest)


@dataclass
class CouncilIndex(BuildInfo):
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
    sentences: SentenceVectors | None = None  # unit vectors stored by the build, when it stored them

    @property
    def location(self) -> str:
        """Where the index is served from: its folder."""
        return str(self.folder)

    def current_build_id(self) -> str | None:
        """The build in the folder now (None when none is readable): a service reloads when it differs."""
        return current_build_id(self.folder)

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
        damage = damaged_files(base, manifest, hashes=False)  # sizes only: cheap, every load
        if damage:
            raise IndexLoadError(
                f"The index at {folder} is damaged ({damage}). Rebuild it with: "
                f"councilqa index corpus/ --index-dir {folder} --force"
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
        sentences = SentenceVectors.load(base, int(manifest["passages"]))
        return cls(folder, manifest, passages, dense, sparse, sentences)


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
