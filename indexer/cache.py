"""Embedding cache keyed by model and chunk text, so re-indexing embeds only what is new."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def text_key(text: str) -> str:
    """The cache key of a chunk text: its SHA-256 in hex."""
    return hashlib.sha256(text.encode()).hexdigest()


class EmbeddingCache:
    """Vectors already computed for one model, in a SQLite file `embeddings-<model>.sqlite` in the cache folder."""

    def __init__(self, folder: Path, model_id: str, dimension_hint: int | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)
        self.path = folder / f"embeddings-{safe}.sqlite"
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those keys that are in the cache, by key; missing keys are left out."""
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 900):
            part = list(keys[start:start + 900])
            q = f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(part))})"
            for k, blob in self._db.execute(q, part):
                out[k] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Store one vector per key (float32), replacing any vector already stored, and commit."""
        rows = [(k, int(v.shape[0]), np.asarray(v, np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?,?,?)", rows)
        self._db.commit()

    def close(self) -> None:
        """Close the SQLite connection."""
        self._db.close()
