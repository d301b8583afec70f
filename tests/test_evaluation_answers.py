"""`python -m evaluation.answers`: answer metrics from one retrieval, and the ablation table, on the tiny index."""

from __future__ import annotations

from pathlib import Path

from evaluation import answers
from evaluation.gold import GoldQuestion
from tests.test_service_api import make_engine

GOLD = [
    GoldQuestion("a1", "how many foster carers did the recruitment campaign add?", "factual", True,
                 key_facts=["35 foster carers"]),
    GoldQuestion("a2", "what did the Cabinet agree about pothole repairs?", "factual", True,
                 key_facts=["£2.4 million"]),
    GoldQuestion("u1", "What colour are the dragons on Mars?", "unanswerable", False),
]  # fmt: skip


def test_answer_metrics_and_ablations(tiny_index_dir: Path) -> None:
    engine = make_engine(tiny_index_dir)
    cases = answers.collect(engine, GOLD, answers.ANSWER_K)
    s = answers.summary(answers.answer_all(engine, cases))
    assert s["all"]["key_facts"] == 1.0 and s["all"]["ceiling"] == 1.0
    assert s["all"]["abstention"] == 1.0 and s["all"]["false_abstention"] == 0.0
    assert s["missed"] == [] and s["answered_unanswerable"] == []

    rows = dict(answers.ablate(engine, cases))
    assert list(rows) == list(answers.ablations(engine.answer_config))
    assert rows["all parts"] == s["all"]
    assert engine.answer_config.weights == answers.ablations(engine.answer_config)["all parts"][0].weights
    no_keywords = answers.ablations(engine.answer_config)["without rare keywords"][0]
    assert no_keywords.weights["keywords"] == 0.0 and no_keywords.weights["cosine"] == 1.0
