"""Fusion of the BM25 and dense lists, and the context line each retriever reads (fast, no model)."""

from __future__ import annotations

import pytest

from common.fields import CONTEXT_FIELDS
from core.retrieval import Fusion, convex, rrf
from indexer.context import MAX_CONTEXT_WORDS, context_line, context_values, searchable_text
from indexer.models import Passage


def test_rrf_weighted_exact() -> None:
    got = rrf([[(1, 9.0), (2, 5.0)], [(2, 0.9), (3, 0.8)]], k=60, weights=(1.0, 0.5))
    assert got == pytest.approx({1: 1 / 61, 2: 1 / 62 + 0.5 / 61, 3: 0.5 / 62})


def test_convex_keeps_score_gaps() -> None:
    # BM25: row 1 far ahead of rows 2 and 3; dense puts 3 first by a hair.
    sparse = [(1, 20.0), (2, 2.0), (3, 1.0)]
    dense = [(3, 0.61), (2, 0.60), (1, 0.59)]
    got = convex([sparse, dense], (0.6, 0.4))
    assert got == pytest.approx({1: 0.6, 2: 0.6 * (1 / 19) + 0.4 * 0.5, 3: 0.4})
    assert max(got, key=got.get) == 1


def test_convex_single_hit_and_empty_lists() -> None:
    assert convex([[(5, 3.0)], []], (0.5, 0.5)) == {5: 0.5}
    assert convex([[], []], (0.5, 0.5)) == {}


def test_fusion_methods_order_and_boost_units() -> None:
    sparse, dense = [(1, 10.0), (2, 9.0)], [(2, 0.9), (1, 0.1)]
    assert [r for r, _ in Fusion("rrf", 0.5, 60).fuse(sparse, dense)] == [1, 2]
    assert [r for r, _ in Fusion("convex", 0.7).fuse(sparse, dense)] == [2, 1]
    assert Fusion("rrf", 0.5, 60).boost_weight == pytest.approx(0.5 / 61)
    assert Fusion("convex", 0.4).boost_weight == pytest.approx(0.15)


def _passage(text: str = "We agreed the budget.", **fields: object) -> Passage:
    return Passage("p", "d", text, 0, len(text), **fields)  # type: ignore[arg-type]


def test_context_fields_are_declared_in_the_table() -> None:
    assert [f.name for f in CONTEXT_FIELDS] == ["council", "committee", "speaker", "title", "agenda_item", "heading"]


def test_context_line_order_dedup_and_speakers() -> None:
    p = _passage(council="Stoke Ferry Parish Council", committee="Parish Council", title="Minutes May 2019",
                 agenda_item="5.1 Precept", heading="5.1 Precept", speaker="Jane Roe (Chair)",
                 speakers=["Jane Roe (Chair)", "John Doe"])
    # "Parish Council" is inside the council's name; the heading repeats the agenda item.
    assert context_values(p) == ["Stoke Ferry Parish Council", "Jane Roe (Chair)", "John Doe",
                                 "Minutes May 2019", "5.1 Precept"]
    assert searchable_text(p, True) == (
        "Stoke Ferry Parish Council · Jane Roe (Chair) · John Doe · Minutes May 2019 · 5.1 Precept\n"
        "We agreed the budget.")
    assert searchable_text(p, False) == "We agreed the budget."


def test_context_longer_value_replaces_one_it_contains() -> None:
    p = _passage(committee="Planning", title="Planning Committee minutes")
    assert context_values(p) == ["Planning Committee minutes"]


def test_context_line_is_capped_and_empty_without_fields() -> None:
    p = _passage(title=" ".join(f"w{i}" for i in range(100)))
    assert len(context_line(p).split()) == MAX_CONTEXT_WORDS
    assert searchable_text(_passage(), True) == "We agreed the budget."


def test_time_markers_are_left_out_of_what_retrievers_read() -> None:
    p = _passage("[0:09:48] All companies are struggling. [0:09:53] We are trying to help.")
    assert searchable_text(p, False) == "All companies are struggling. We are trying to help."
