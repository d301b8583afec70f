"""Bounded caches of the search core."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

UNIT_CACHE_SIZE = 20_000  # sentence vectors kept (384 float32 each: ~30 MB for all-MiniLM-L6-v2)


class VectorLRU:
    """A bounded, thread-safe text -> vector cache; the least recently used entries go first."""

    def __init__(self, maxsize: int = UNIT_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `texts`, marked as recently used."""
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for t in texts:
                v = self._data.get(t)
                if v is not None:
                    self._data.move_to_end(t)
                    out[t] = v
            self.hits += len(out)
            self.misses += len(texts) - len(out)
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        """Store vectors, evicting the least recently used beyond `maxsize`."""
        with self._lock:
            for t, v in items.items():
                self._data[t] = v
                self._data.move_to_end(t)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        """Forget every vector."""
        with self._lock:
            self._data.clear()
