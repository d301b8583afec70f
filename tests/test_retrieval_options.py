"""Search options measured in eval/README.md's ablation: years that boost, dense feedback, sentence search,
BM25 reading a passage's context; and evidence items that are one quote found in several documents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.settings import Settings
from core.engine import Engine
from core.results import Query
from evaluation.ablation import Variant, table
from evaluation.gold import GoldQuestion
from evaluation.judge import EvidenceJudge
from indexer.embed import FakeEmbedder
from indexer.sentence_vectors import SentenceSearch, SentenceVectors


@pytest.fixture
def engine(tiny_index_dir: Path) -> Engine:
    e = Engine.load(Settings(index_dir=tiny_index_dir), embedder=FakeEmbedder())
    yield e
    e.close()


def test_a_year_alone_filters_or_only_boosts(engine: Engine) -> None:
    engine.year_filters = True
    got = engine.search(Query("library savings in 2021", 5, "bm25"))
    assert got.applied.auto == {"date_from": "2021-01-01", "date_to": "2021-12-31"}
    engine.year_filters = False
    got = engine.search(Query("library savings in 2021", 5, "bm25"))
    assert got.applied.auto == {} and got.applied.boosts == {"date": ["2021-01-01..2021-12-31"]}
    got = engine.search(Query("library savings in March 2021", 5, "bm25"))  # a month still filters
    assert got.applied.auto == {"date_from": "2021-03-01", "date_to": "2021-03-31"}


@pytest.mark.parametrize("context", [True, False])
def test_bm25_reads_the_context_line(tmp_path: Path, context: bool) -> None:
    from indexer.build import build_index
    from tests.conftest import write_tiny_corpus

    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", chunk_tokens=60,
                        chunk_overlap=10, context_bm25=context)
    build_index([write_tiny_corpus(tmp_path / "papers")], settings, embedder=FakeEmbedder(), progress=False)
    e = Engine.load(settings, embedder=FakeEmbedder())
    try:
        # The committee's name is in the foster carers passage's context, not in its words.
        hits = e.search(Query("scrutiny", 10, "bm25", {}, False)).hits
        foster = [h for h in hits if h.passage.text.startswith("Foster carers")]
        assert "Scrutiny" not in (foster[0].passage.text if foster else "")
        assert bool(foster) == context
    finally:
        e.close()


def test_dense_feedback_moves_the_query(engine: Engine) -> None:
    engine.feedback = ()
    plain = [h.passage.id for h in engine.search(Query("pothole repairs", 5, "hybrid")).hits]
    engine.feedback = (2, 4.0)
    moved = [h.passage.id for h in engine.search(Query("pothole repairs", 5, "hybrid")).hits]
    assert moved and plain
    qv = engine.encode_query("pothole repairs")
    sparse = engine.index.sparse.search(["pothole repairs"], 10)
    again = engine._dense_with_feedback(qv, sparse, 10, None)
    assert again is not None and again[1].shape == (1, 10)
    assert engine._dense_with_feedback(qv, (np.zeros((1, 3)), np.full((1, 3), -1)), 10, None) is None


def test_sentence_search_scores_each_passage_by_its_best_sentence() -> None:
    vectors = np.asarray([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float16)
    ptr = np.asarray([0, 2, 2, 3])  # passage 1 has no sentences
    search = SentenceSearch(SentenceVectors(vectors, np.zeros((3, 2), np.int32), ptr))
    assert search.best(np.asarray([0.0, 1.0])).tolist() == pytest.approx([1.0, -1.0, 0.8], abs=1e-3)


def test_one_quote_in_several_documents_is_one_evidence_item() -> None:
    q = GoldQuestion.from_dict({"id": "x", "question": "?", "kind": "factual", "answerable": True,
                                "evidence": [{"doc_id": "committee", "quote": "That the rezoning BE APPROVED."},
                                             {"doc_id": "council", "quote": "that the rezoning be approved"},
                                             {"doc_id": "council", "quote": "The vote was 12 to 1."}]})
    assert q.item_of == [0, 0, 1] and q.n_items == 2
    judge = EvidenceJudge(q.evidence, item_of=q.item_of)
    assert judge.matches("council", "Moved: that the rezoning be approved.") == [0]
    assert judge.matches("committee", "That the rezoning BE APPROVED. The vote was 12 to 1.") == [0]
    assert judge.matches("council", "The vote was 12 to 1.") == [1]


def test_ablation_table_rows_and_columns() -> None:
    rows = [{"index": "a", "variant": "bm25 alone", "gold": "g",
             "metrics": {"recall@5": 0.5, "hit_rate@5": 0.6, "mrr@10": 0.4, "ndcg@10": 0.45}}]
    assert table(rows).splitlines() == [
        "| index | variant | g R@5 | Hit@5 | MRR@10 | nDCG@10 |", "|---|---|---|---|---|---|",
        "| a | bm25 alone | 0.500 | 0.600 | 0.400 | 0.450 |"]
    assert Variant("x").mode == "hybrid"
