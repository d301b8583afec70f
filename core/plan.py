"""Planning a query: which filters are in force, which are read from its text, what is only boosted.

A value the query names unambiguously (a council, a speaker, a period, a document type) becomes a
filter, unless that would leave no passage: then it is demoted to a boost, as are ambiguous
mentions (two councils, a bare surname, a month named without a preposition).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from common.fields import filter_field, is_date_filter
from core.query import Understanding, strip_spans
from core.results import Applied
from core.retrieval import Boosts, DateRange

# The filters query understanding can infer, in the order they are tried; a date's two ends go together.
INFERRED_GROUPS: tuple[tuple[str, ...], ...] = (("council",), ("speaker",), ("doc_type",), ("date_from", "date_to"))


@dataclass(frozen=True)
class Plan:
    """What a query will run with: filters in force, the inferred ones, boosts, the rows allowed."""

    filters: dict[str, str]
    auto: dict[str, str]
    boosts: Boosts
    allowed: np.ndarray | None
    dense_text: str
    bm25_text: str
    understanding: Understanding = field(default_factory=Understanding)
    restricted: bool = False  # whether the caller may read restricted papers (`allowed` already says which)

    @property
    def applied(self) -> Applied:
        """What the response reports as applied."""
        return Applied(self.filters, self.auto, self.boosts.report())


def make_plan(query: str, filters: dict[str, str], understanding: Understanding,
              allowed_rows: Callable[[dict[str, str]], np.ndarray | None], strip_filter_words: bool = True,
              restricted: bool = False) -> Plan:
    """Apply `understanding`'s candidate filters that keep at least one passage; boost the rest."""
    applied, auto = dict(filters), {}
    candidates = understanding.candidate_filters()
    for group in INFERRED_GROUPS:
        wanted = {n: candidates[n] for n in group if n in candidates and n not in filters}
        if not wanted:
            continue
        allowed = allowed_rows({**applied, **wanted})
        if allowed is not None and len(allowed) > 0:  # a filter that leaves nothing becomes a boost
            applied.update(wanted)
            auto.update(wanted)
    boosts = boosts_for(understanding, {k: v for k, v in candidates.items() if k not in filters}, auto)
    strip = auto and strip_filter_words
    bm25_text = strip_spans(query, understanding.spans_for(auto)) if strip else query
    return Plan(applied, auto, boosts, allowed_rows(applied), query, bm25_text, understanding, restricted)


def boosts_for(u: Understanding, candidates: dict[str, str], auto: dict[str, str]) -> Boosts:
    """Boosts: ambiguous mentions, plus candidate filters that would have left nothing."""
    values: dict[str, list[str]] = {}
    ranges: list[DateRange] = []

    def add_range(r: DateRange) -> None:
        if r not in ranges:
            ranges.append(r)

    for m in u.mentions:
        if m.as_filter:
            continue
        if m.field == "date":
            add_range((m.values[0], m.values[1]))
            continue
        known = values.setdefault(m.field, [])
        known.extend(v for v in dict.fromkeys(m.values) if v not in known)
    for name, value in candidates.items():
        if name in auto:
            continue
        if is_date_filter(name):
            f = filter_field(name)
            add_range((candidates.get(f"{f.name}_from", ""), candidates.get(f"{f.name}_to", "")))
        elif value not in values.setdefault(name, []):
            values[name].append(value)
    return Boosts(tuple((k, tuple(v)) for k, v in values.items()), tuple(ranges))
