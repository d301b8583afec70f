"""Encoding the queries of concurrent requests together.

A batch of 16 queries takes the encoder about three times as long as one query, so under load,
encoding each request's query on its own caps a 2-core service at a few dozen searches a second.
`QueryBatcher` lets whichever request thread finds the encoder idle take every query waiting (up to
`max_batch`) and encode them in one call; the others wait for their vectors. With one request at a
time it is one call per query, as before: nothing waits for a batch to fill.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np


class _Waiting:
    __slots__ = ("text", "vector", "error")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None


class QueryBatcher:
    """Thread-safe `encode(text)`, batching the texts of threads that arrive while the encoder is busy."""

    def __init__(self, encode_many: Callable[[Sequence[str]], np.ndarray], max_batch: int = 32) -> None:
        self._encode_many = encode_many
        self.max_batch = max(1, max_batch)
        self._cond = threading.Condition()
        self._pending: list[_Waiting] = []
        self._busy = False
        self.batches = 0  # encoder calls made, for stats and tests
        self.encoded = 0

    def encode(self, text: str) -> np.ndarray:
        """The vector of `text`, encoded in this thread or in a batch another thread is running."""
        item = _Waiting(text)
        with self._cond:
            self._pending.append(item)
            while item.vector is None and item.error is None:
                if self._busy:
                    self._cond.wait()
                    continue
                self._busy = True
                batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._busy = False
                    self._cond.notify_all()
        if item.error is not None:
            raise item.error
        assert item.vector is not None
        return item.vector

    def _run(self, batch: list[_Waiting]) -> None:
        try:
            vectors = np.asarray(self._encode_many([w.text for w in batch]), dtype=np.float32)
        except BaseException as exc:  # every waiting request learns of the failure, not only this one
            for w in batch:
                w.error = exc
            return
        self.batches += 1
        self.encoded += len(batch)
        for w, v in zip(batch, vectors, strict=True):
            v = v.copy()
            v.setflags(write=False)
            w.vector = v
