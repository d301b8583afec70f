"""BM25: our column-sum scoring equals bm25s's own retrieve, with and without a filter."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.sparse import SparseBM25, tokenize

TEXTS = [
    "The cabinet approved the library closure and the savings from the library review.",
    "Pothole repairs on rural roads will start in the spring.",
    "The youth centre will stay open with new funding from the council.",
    "Members asked about library opening hours on Saturdays.",
    "Council tax will rise by 4.99 per cent to protect youth services.",
    "Bin collections remain fortnightly.",
]


def test_scores_equal_bm25s_retrieve(tmp_path: Path) -> None:
    SparseBM25.build(TEXTS).save(tmp_path)
    bm = SparseBM25.load(tmp_path, len(TEXTS))
    for query in ("library savings", "youth funding council", "roads"):
        scores, rows = bm.search([query], 3)
        toks = [t for t in tokenize([query])[0] if t in bm.retriever.vocab_dict]
        ref_rows, ref_scores = bm.retriever.retrieve([toks], k=3, show_progress=False)
        assert np.allclose(scores[0], ref_scores[0], atol=1e-5)
        assert set(rows[0][scores[0] > 0]) == set(ref_rows[0][ref_scores[0] > 0])


def test_filter_unknown_words_and_padding() -> None:
    bm = SparseBM25.build(TEXTS)
    scores, rows = bm.search(["library"], 4)
    assert rows[0].tolist() == [0, 3, -1, -1] and scores[0][2:].tolist() == [0.0, 0.0]
    _, rows = bm.search(["library"], 4, allowed=np.array([3, 5]))
    assert rows[0].tolist() == [3, -1, -1, -1]
    _, rows = bm.search(["zzzz qqqq"], 2)
    assert rows[0].tolist() == [-1, -1]
    _, rows = bm.search(["library"], 2, allowed=np.array([], dtype=np.int64))
    assert rows[0].tolist() == [-1, -1]
