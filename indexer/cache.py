"""Embedding cache keyed by model and chunk text, so re-indexing embeds only what is new."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, folder: Path, model_id: str, dimension_hint: int | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)
        self.path = folder / f"embeddings-{safe}.sqlite"
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 900):
            part = list(keys[start:start + 900])
            q = f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(part))})"
            for k, blob in self._db.execute(q, part):
                out[k] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        rows = [(k, int(v.shape[0]), np.asarray(v, np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?,?,?)", rows)
        self._db.commit()

    def close(self) -> None:
        self._db.close()
