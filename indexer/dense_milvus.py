"""Milvus as the dense backend: a milvus-lite file (`milvus.db`) inside the index folder.

Same contract as `FaissDense`: normalised vectors, inner product, primary key = passage row,
`search(queries, k, allowed)` returns float32 scores and int64 rows of shape (nq, k) padded with -1.
A filtered search sends the allowed rows as a Milvus filter expression (`id in [...]`), in pieces
for large sets, merging the pieces' top-k.

pymilvus is optional: `pip install 'councilqa[milvus]'`.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from indexer.milvus_expr import search_within

MILVUS_FILE = "milvus.db"
MILVUS_META = "milvus.json"
COLLECTION = "passages"
INSERT_BATCH = 10_000
MAX_TOPK = 16_384  # Milvus's limit on k
IVF_MIN_ROWS = 200_000  # "auto" uses FLAT (exact) below this, IVF_FLAT above


def _milvus():
    try:
        import pymilvus
    except ImportError as exc:
        raise RuntimeError(
            "The Milvus vector backend needs pymilvus and milvus-lite: pip install 'councilqa[milvus]' "
            "(or set COUNCILQA_VECTOR_BACKEND=faiss)"
        ) from exc
    return pymilvus


def _index_spec(index_type: str, n: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Index type, build params, search params."""
    if index_type == "auto":
        index_type = "FLAT" if n <= IVF_MIN_ROWS else "IVF_FLAT"
    index_type = index_type.upper()
    if index_type == "FLAT":
        return "FLAT", {}, {}
    if index_type == "IVF_FLAT":
        nlist = int(max(1, min(65_536, 4 * np.sqrt(max(n, 1)))))
        return "IVF_FLAT", {"nlist": nlist}, {"nprobe": max(8, min(nlist, int(round(nlist * 0.03)) + 8))}
    raise ValueError(f"Unknown Milvus index type {index_type!r}; use auto, FLAT or IVF_FLAT")


class MilvusDense:
    """Milvus (milvus-lite) vectors in the index folder, searched by inner product; rows are passage rows."""

    kind = "milvus"

    def __init__(self, folder: Path, size: int, dimension: int, params: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.size = int(size)
        self.dimension = int(dimension)
        self.params = params
        self._client: Any = None

    # -- connection -----------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """Opened on first use, so a folder built under a temporary name can be renamed first."""
        if self._client is None:
            pymilvus = _milvus()
            self._client = pymilvus.MilvusClient(str(self.folder / MILVUS_FILE))
            self._client.load_collection(COLLECTION)
        return self._client

    def close(self) -> None:
        """Close the Milvus client if one is open; the next use opens it again."""
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def __del__(self) -> None:  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()

    # -- build / save / load --------------------------------------------------------------------
    @classmethod
    def build(
        cls, vectors: np.ndarray, folder: Path, dimension: int | None = None, index_type: str = "auto"
    ) -> MilvusDense:
        """A new index of the vectors in `folder`, replacing any collection there, with its metadata file.

        "auto" picks exact FLAT search up to `IVF_MIN_ROWS` vectors, IVF_FLAT above. `dimension` is needed only
        when there are no vectors; ValueError without either, or for an unknown index type.
        """
        pymilvus = _milvus()
        from pymilvus import DataType

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n = int(vectors.shape[0]) if vectors.size else 0
        d = int(vectors.shape[1]) if vectors.size else int(dimension or 0)
        if d <= 0:
            raise ValueError("MilvusDense.build needs vectors or a dimension")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        itype, build_params, search_params = _index_spec(index_type, n)
        client = pymilvus.MilvusClient(str(folder / MILVUS_FILE))
        try:
            if client.has_collection(COLLECTION):
                client.drop_collection(COLLECTION)
            schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=d)
            index_params = client.prepare_index_params()
            index_params.add_index(field_name="vector", index_type=itype, metric_type="IP", params=build_params)
            client.create_collection(COLLECTION, schema=schema, index_params=index_params)
            for start in range(0, n, INSERT_BATCH):
                chunk = vectors[start:start + INSERT_BATCH]
                client.insert(COLLECTION, [{"id": start + i, "vector": v} for i, v in enumerate(chunk)])
            client.flush(COLLECTION)
        finally:
            client.close()
        params = {"index_type": itype, "build": build_params, "search": search_params}
        (folder / MILVUS_META).write_text(
            json.dumps({"size": n, "dimension": d, "params": params}, indent=2)
        )
        return cls(folder, n, d, params)

    def save(self, folder: Path) -> None:
        """Built in place; saving elsewhere copies the milvus-lite file."""
        folder = Path(folder)
        if folder.resolve() == self.folder.resolve():
            return
        self.close()
        folder.mkdir(parents=True, exist_ok=True)
        src = self.folder / MILVUS_FILE
        if src.is_dir():
            shutil.copytree(src, folder / MILVUS_FILE, dirs_exist_ok=True)
        else:
            shutil.copy2(src, folder / MILVUS_FILE)
        shutil.copy2(self.folder / MILVUS_META, folder / MILVUS_META)

    @classmethod
    def load(cls, folder: Path) -> MilvusDense:
        """The vectors saved in the folder, opened at once so a broken file fails here.

        Raises FileNotFoundError when the folder holds no Milvus file or metadata.
        """
        folder = Path(folder)
        if not (folder / MILVUS_FILE).exists() or not (folder / MILVUS_META).is_file():
            raise FileNotFoundError(f"No Milvus vectors ({MILVUS_FILE}, {MILVUS_META}) in {folder}")
        meta = json.loads((folder / MILVUS_META).read_text())
        dense = cls(folder, meta["size"], meta["dimension"], meta.get("params", {}))
        _ = dense.client  # open now: a broken file fails at load, not at the first query
        return dense

    # -- search ---------------------------------------------------------------------------------
    def _search(self, queries: np.ndarray, k: int, expr: str | None) -> tuple[np.ndarray, np.ndarray]:
        nq = len(queries)
        scores = np.zeros((nq, k), np.float32)
        rows = np.full((nq, k), -1, np.int64)
        sp: dict[str, Any] = {"metric_type": "IP", "params": dict(self.params.get("search", {}))}
        kwargs: dict[str, Any] = {"filter": expr} if expr else {}
        hits = self.client.search(
            COLLECTION, data=[q for q in queries], limit=k, search_params=sp, output_fields=["id"], **kwargs
        )
        for i, row in enumerate(hits):
            for j, h in enumerate(row[:k]):
                rows[i, j] = int(h["id"])
                scores[i, j] = float(h["distance"])
        return scores, rows

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the best `k` vectors per query, shape (len(queries), k); missing hits are row -1.

        `allowed` restricts the search to those rows, sent to Milvus as filter expressions in pieces of
        `ID_CHUNK` rows (or as the excluded rows when nearly all are allowed); `k` is capped at `MAX_TOPK`.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension or 1)
        k = max(1, min(k, self.size, MAX_TOPK)) if self.size else 1
        return search_within(lambda expr, kk: self._search(queries, kk, expr), len(queries), k, self.size,
                             allowed, field="id")
