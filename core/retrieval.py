"""Ranking: BM25 and dense candidate lists fused by weighted reciprocal rank fusion, then facet boosts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.models import Passage

RRF_K = 60
# Weight of the dense list's votes in hybrid fusion (BM25's count 1). MiniLM alone is the weaker retriever
# (eval/gold.jsonl: dense R@5 0.66 vs BM25 0.80); at weight 0.5 hybrid R@5 went 0.804 -> 0.820 and nDCG@10
# 0.728 -> 0.740, and anything from 0.4 to 0.6 gave about the same, so the round value is kept.
DENSE_WEIGHT = 0.5
# A boost is worth about half a first-place vote from one retriever: it reorders close
# candidates without lifting an irrelevant passage above a clearly relevant one.
BOOST_WEIGHT = 0.5 / (RRF_K + 1)


def candidate_count(k: int) -> int:
    return max(50, 5 * k)


def ranked_rows(scores: np.ndarray, rows: np.ndarray) -> list[tuple[int, float]]:
    """(row, score) pairs of one query's hits, dropping the -1 padding."""
    return [(int(r), float(s)) for r, s in zip(rows, scores, strict=True) if r >= 0]


def rrf(lists: Sequence[Sequence[tuple[int, float]]], k: int = RRF_K,
        weights: Sequence[float] | None = None) -> dict[int, float]:
    """Weighted reciprocal rank fusion: sum over lists of weight / (k + rank)."""
    fused: dict[int, float] = {}
    for i, hits in enumerate(lists):
        w = 1.0 if weights is None else weights[i]
        for rank, (row, _) in enumerate(hits, start=1):
            fused[row] = fused.get(row, 0.0) + w / (k + rank)
    return fused


@dataclass
class Boosts:
    """Facet values named in the query but not applied as filters."""

    councils: frozenset[str] = frozenset()
    speakers: frozenset[str] = frozenset()
    doc_types: frozenset[str] = frozenset()
    date_ranges: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.councils or self.speakers or self.doc_types or self.date_ranges)

    def matches(self, p: Passage) -> int:
        n = int(p.council in self.councils) + int(p.doc_type in self.doc_types)
        n += int(bool(self.speakers.intersection(p.speakers or [p.speaker])))
        if p.date and any((not lo or p.date >= lo) and (not hi or p.date <= hi) for lo, hi in self.date_ranges):
            n += 1
        return n


def apply_boosts(
    scored: list[tuple[int, float]], boosts: Boosts, fetch: Callable[[list[int]], dict[int, Passage]],
    weight: float,
) -> list[tuple[int, float]]:
    """Re-score candidates that match boosted facet values; returns a new descending list."""
    if not boosts or not scored:
        return scored
    by_row = fetch([r for r, _ in scored])
    out = [(r, s + weight * boosts.matches(by_row[r])) if r in by_row else (r, s) for r, s in scored]
    out.sort(key=lambda x: -x[1])
    return out
