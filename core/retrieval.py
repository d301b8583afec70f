"""Ranking: BM25 and dense candidate lists fused by weighted reciprocal rank fusion, then facet boosts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from common.fields import BY_NAME
from indexer.models import Passage

RRF_K = 60
# The defaults of `Fusion` (common.settings holds the configured ones): RRF with the dense list's votes at
# half weight was the first fusion; the settings now choose convex fusion at 0.45, measured better on both
# gold sets (eval/README.md, ablation).
DENSE_WEIGHT = 0.5
# A boost is worth about half a first-place vote from one retriever: it reorders close
# candidates without lifting an irrelevant passage above a clearly relevant one.
BOOST_WEIGHT = 0.5 / (RRF_K + 1)


def candidate_count(k: int) -> int:
    """How many candidates each retriever fetches for `k` results: five times `k`, at least 50."""
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


def _normalised(hits: Sequence[tuple[int, float]]) -> dict[int, float]:
    """Scores mapped onto [0, 1] within the list: min-max, so BM25's unbounded scores and cosines compare."""
    if not hits:
        return {}
    values = [s for _, s in hits]
    lo, hi = min(values), max(values)
    span = hi - lo
    return {row: (s - lo) / span if span > 0 else 1.0 for row, s in hits}


def convex(lists: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float]) -> dict[int, float]:
    """Convex combination of min-max normalised scores; a row missing from a list scores 0 there.

    Unlike RRF it keeps how far apart the scores are: a BM25 hit far ahead of the rest stays ahead.
    """
    fused: dict[int, float] = {}
    for hits, w in zip(lists, weights, strict=True):
        for row, s in _normalised(hits).items():
            fused[row] = fused.get(row, 0.0) + w * s
    return fused


@dataclass(frozen=True)
class Fusion:
    """How hybrid search merges the BM25 and dense lists: the method, the dense list's weight, RRF's k."""

    method: str = "rrf"  # "rrf" | "convex"
    dense_weight: float = DENSE_WEIGHT
    rrf_k: int = RRF_K

    def fuse(self, sparse: Sequence[tuple[int, float]], dense: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
        """Rows best first with their fused scores."""
        if self.method == "convex":
            fused = convex([sparse, dense], (1.0 - self.dense_weight, self.dense_weight))
        else:
            fused = rrf([sparse, dense], self.rrf_k, (1.0, self.dense_weight))
        return sorted(fused.items(), key=lambda x: -x[1])

    @property
    def boost_weight(self) -> float:
        """What a boost adds, in this method's score units: half a first place in the BM25 list for RRF; a
        quarter of one for convex fusion, whose scores spread over [0, 1] (half a first place measured
        slightly worse on the development set: it lifted a named committee's passages over the answer)."""
        return 0.25 * (1.0 - self.dense_weight) if self.method == "convex" else 0.5 / (self.rrf_k + 1)


DateRange = tuple[str, str]  # (from, to) ISO dates; either may be "" for an open end


@dataclass(frozen=True)
class Boosts:
    """Values named in the query but not applied as filters, by field; dates as (from, to) ranges.

    Values keep the order they were found in, which is the order the API reports them in.
    """

    values: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (field name, its values)
    date_ranges: tuple[DateRange, ...] = ()

    def __bool__(self) -> bool:
        return any(v for _, v in self.values) or bool(self.date_ranges)

    def matches(self, p: Passage) -> int:
        """How many boosted fields the passage matches (a date in any boosted range counts once)."""
        n = 0
        for name, wanted in self.values:
            if not wanted:
                continue
            if BY_NAME[name].filter == "speaker":
                n += int(bool(set(wanted).intersection(p.speakers or [p.speaker])))
            else:
                n += int(getattr(p, name) in wanted)
        if p.date and any((not lo or p.date >= lo) and (not hi or p.date <= hi) for lo, hi in self.date_ranges):
            n += 1
        return n

    def report(self) -> dict[str, list[str]]:
        """The API's `boosts` object: values by field, and date ranges written "from..to"."""
        out = {name: list(v) for name, v in self.values if v}
        if self.date_ranges:
            out["date"] = [f"{lo}..{hi}" for lo, hi in self.date_ranges]
        return out


def apply_boosts(
    scored: list[tuple[int, float]], boosts: Boosts, by_row: dict[int, Passage], weight: float,
) -> list[tuple[int, float]]:
    """Re-score candidates that match boosted facet values; returns a new descending list.

    `by_row` holds the candidates' passages, fetched once by the caller and reused for the top k.
    """
    if not boosts or not scored:
        return scored
    out = [(r, s + weight * boosts.matches(by_row[r])) if r in by_row else (r, s) for r, s in scored]
    out.sort(key=lambda x: -x[1])
    return out
