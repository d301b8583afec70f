"""Sentence vectors kept with the index: every quotable unit of every passage, embedded at build time.

An extractive answer scores each sentence of the retrieved passages against the question. Encoding
those sentences when the question comes costs more than the whole search (about 50 sentences per
answer), and under load it is what makes `/ask` slow; so the build embeds them once, beside the
passages, through the same embedding cache. The index folder then holds:

    units.npy        float16 [units, dimension]  one normalised vector per unit
    units_spans.npy  int32 [units, 2]            (start, end) of each unit in its passage's text
    units_ptr.npy    int64 [passages + 1]        units of passage row r: ptr[r] .. ptr[r + 1]

Units are found by `indexer.units.split_blocks`, the very function answers quote with, so the spans
agree. Above `max_passages` (a setting) the files are not written and answers encode sentences on
demand, as before. float16 keeps cosines within about 1e-3 of float32 on normalised vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from indexer.cache import EmbeddingCache, text_key
from indexer.models import Passage
from indexer.units import split_blocks, turn_labels

VECTORS = "units.npy"
SPANS = "units_spans.npy"
PTR = "units_ptr.npy"
FILES = (VECTORS, SPANS, PTR)


def unit_spans(passages: Sequence[Passage]) -> tuple[np.ndarray, np.ndarray]:
    """(spans int32 [units, 2], ptr int64 [passages + 1]) of every passage's quotable units, in row order."""
    spans: list[tuple[int, int]] = []
    ptr = [0]
    for p in passages:
        spans.extend((s, e) for s, e, _ in split_blocks(p.text, turn_labels(p)))
        ptr.append(len(spans))
    return np.asarray(spans, dtype=np.int32).reshape(-1, 2), np.asarray(ptr, dtype=np.int64)


def embed_units(
    passages: Sequence[Passage], spans: np.ndarray, ptr: np.ndarray, encode: Callable[[list[str]], np.ndarray],
    cache: EmbeddingCache, batch: int = 512, on_batch: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """float16 vectors of every unit, from the cache where possible; returns them and how many were encoded."""
    texts = [p.text[s:e] for r, p in enumerate(passages) for s, e in spans[ptr[r]:ptr[r + 1]]]
    keys = [text_key(t) for t in texts]
    known = cache.get_many(list(dict.fromkeys(keys)))
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items(),
                     key=lambda kv: len(kv[1]))  # shortest first: little padding per batch
    for i in range(0, len(missing), batch):
        part = missing[i:i + batch]
        vecs = np.asarray(encode([t for _, t in part]), dtype=np.float32)
        cache.put_many([k for k, _ in part], vecs)
        known.update({k: v for (k, _), v in zip(part, vecs, strict=True)})
        if on_batch:
            on_batch(len(part))
    if not texts:
        return np.zeros((0, 0), np.float16), 0
    return np.vstack([known[k] for k in keys]).astype(np.float16), len(missing)


def write(folder: Path, passages: Sequence[Passage], encode: Callable[[list[str]], np.ndarray],
          cache: EmbeddingCache, progress: bool = False) -> int:
    """Find, embed (through the cache) and save every passage's units into a build folder; returns how many
    units were encoded (not found in the cache)."""
    from tqdm import tqdm

    spans, ptr = unit_spans(passages)
    with tqdm(desc="Embedding sentences", unit="sentence", disable=not progress) as bar:
        vectors, encoded = embed_units(passages, spans, ptr, encode, cache, on_batch=bar.update)
    save(folder, vectors, spans, ptr)
    return encoded


def save(folder: Path, vectors: np.ndarray, spans: np.ndarray, ptr: np.ndarray) -> None:
    """Write the three arrays into a build folder."""
    np.save(folder / VECTORS, vectors)
    np.save(folder / SPANS, spans)
    np.save(folder / PTR, ptr)


class SentenceVectors:
    """The stored unit vectors of one build, memory-mapped; looked up by passage row."""

    def __init__(self, vectors: np.ndarray, spans: np.ndarray, ptr: np.ndarray) -> None:
        self.vectors, self.spans, self.ptr = vectors, spans, ptr

    @classmethod
    def load(cls, folder: Path, passages: int) -> SentenceVectors | None:
        """The folder's unit vectors, or None when the build did not store them (or they do not fit it)."""
        if not all((Path(folder) / f).is_file() for f in FILES):
            return None
        vectors = np.load(Path(folder) / VECTORS, mmap_mode="r")
        spans = np.load(Path(folder) / SPANS, mmap_mode="r")
        ptr = np.load(Path(folder) / PTR)
        if len(ptr) != passages + 1 or int(ptr[-1]) != len(spans) or len(vectors) != len(spans):
            return None
        return cls(vectors, spans, ptr)

    def __len__(self) -> int:
        return len(self.spans)

    def of_row(self, row: int) -> dict[tuple[int, int], np.ndarray]:
        """(start, end) in the passage's text -> float32 vector, for every stored unit of passage `row`."""
        lo, hi = int(self.ptr[row]), int(self.ptr[row + 1])
        vecs = np.asarray(self.vectors[lo:hi], dtype=np.float32)
        return {(int(s), int(e)): v for (s, e), v in zip(self.spans[lo:hi], vecs, strict=True)}


class SentenceSearch:
    """Passages ranked by their best sentence: max over a passage's stored unit vectors of the cosine.

    A passage's one vector averages 200 tokens of text; a question after one fact matches the sentence
    that states it better than the passage around it. Scores are float32 over every unit (a copy of the
    float16 file, made on first use).
    """

    def __init__(self, units: SentenceVectors) -> None:
        self.units = units
        self._vectors: np.ndarray | None = None
        ptr = np.asarray(units.ptr, dtype=np.int64)
        self._has_units = ptr[1:] > ptr[:-1]
        self._starts = ptr[:-1][self._has_units]

    def best(self, query: np.ndarray) -> np.ndarray:
        """Per passage row, its best unit's cosine with `query` (-1 for a passage without units)."""
        if self._vectors is None:
            self._vectors = np.asarray(self.units.vectors, dtype=np.float32)
        scores = self._vectors @ np.asarray(query, dtype=np.float32)
        out = np.full(len(self._has_units), -1.0, dtype=np.float32)
        if len(scores):
            out[self._has_units] = np.maximum.reduceat(scores, self._starts)
        return out
