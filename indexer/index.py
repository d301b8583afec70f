"""The index folder: it describes itself with `manifest.json`, and loading checks it.

    index/
      manifest.json     model, dimension, chunking, corpus hash, counts, versions, build time
      passages.sqlite   passages with citations, documents with their cleaned text
      vectors.faiss     dense vectors (or milvus.db for the Milvus backend)
      bm25/             the BM25 index (bm25s)
"""

from __future__ import annotations

import json
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
    folder: Path
    manifest: dict[str, Any]
    passages: PassageStore
    dense: DenseIndex
    sparse: SparseBM25

    @property
    def model_id(self) -> str:
        return str(self.manifest["model"]["id"])

    @classmethod
    def load(cls, folder: Path, expected_model_id: str | None = None) -> CouncilIndex:
        folder = Path(folder)
        recover_interrupted(folder)
        manifest = read_manifest(folder)
        model = manifest["model"]["id"]
        if expected_model_id is not None and expected_model_id != model:
            raise IndexLoadError(
                f"The index at {folder} was built with model {model!r} but the configured model is "
                f"{expected_model_id!r}. Set COUNCILQA_MODEL to {model!r}, or rebuild with: "
                f"councilqa index corpus/ --index-dir {folder} --model {expected_model_id}"
            )
        try:
            passages = PassageStore(folder / PASSAGES)
            dense = load_dense(folder, manifest)
            sparse = SparseBM25.load(folder, int(manifest["passages"]))
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


def load_dense(folder: Path, manifest: dict[str, Any]) -> DenseIndex:
    backend = manifest.get("vector_backend", "faiss")
    if backend == "faiss":
        return FaissDense.load(folder)
    if backend == "milvus":
        from indexer.dense_milvus import MilvusDense

        return MilvusDense.load(folder)
    raise IndexLoadError(f"Unknown vector backend {backend!r} in {folder / MANIFEST}")
