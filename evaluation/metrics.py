"""Retrieval metrics with ranx, on qrels keyed by evidence items rather than passage ids.

A question's qrels are its evidence items, `<qid>#e<i>`, each with relevance 1. A ranking is
turned into a ranx run by naming each retrieved passage after the evidence item it is the first
to match (`<qid>#e<i>`), or, when it matches nothing new, after its rank (`<qid>#p<rank>`, which
is never in the qrels). So a passage only counts for the first evidence item it finds, and a later
passage matching an item already found is not relevant again (no double credit for one quote
split over overlapping chunks). A passage matching two new items at once names both, the second
one rank lower: a small, conservative shift. Scores fall with rank, so ranx keeps the order.
Because the ids do not depend on chunking, the same qrels serve any index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ranx import Qrels, Run, compare, evaluate

# hit_rate@5: the share of questions with any evidence item in the top 5 ("finds the evidence in the top 5").
METRICS = ("recall@1", "recall@5", "recall@10", "hit_rate@5", "mrr@10", "ndcg@10")


def item_id(qid: str, i: int) -> str:
    return f"{qid}#e{i}"


def build_qrels(n_evidence: Mapping[str, int]) -> Qrels:
    """Qrels: question id -> its evidence item ids, each relevant with grade 1."""
    return Qrels({qid: {item_id(qid, i): 1 for i in range(n)} for qid, n in n_evidence.items() if n})


def ranking_to_run(qid: str, matched: Sequence[Sequence[int]]) -> dict[str, float]:
    """One question's run entry from, for each retrieved passage in rank order, the evidence items it matches."""
    out: dict[str, float] = {}
    found: set[int] = set()
    score = float(len(matched) + sum(len(m) for m in matched))
    for rank, items in enumerate(matched, 1):
        new = [i for i in dict.fromkeys(items) if i not in found]
        names = [item_id(qid, i) for i in new] or [f"{qid}#p{rank}"]
        found.update(new)
        for name in names:
            out[name] = score
            score -= 1
    return out or {f"{qid}#none": 0.0}  # ranx needs at least one entry per question


def build_run(rankings: Mapping[str, Sequence[Sequence[int]]], name: str) -> Run:
    return Run({qid: ranking_to_run(qid, m) for qid, m in rankings.items()}, name=name)


def scores(qrels: Qrels, run: Run, metrics: Sequence[str] = METRICS) -> dict[str, float]:
    res = evaluate(qrels, run, list(metrics), make_comparable=True)
    return {m: float(res[m]) for m in metrics}


def per_question(qrels: Qrels, run: Run, metrics: Sequence[str] = METRICS) -> dict[str, dict[str, float]]:
    """{question id: {metric: value}}, read back from the run, where ranx saves per-question scores."""
    evaluate(qrels, run, list(metrics), make_comparable=True)
    return {qid: {m: float(run.scores[m].get(qid, 0.0)) for m in metrics} for qid in qrels.to_dict()}


def significance(
    qrels: Qrels, runs: Mapping[str, Run], against: str = "hybrid", metrics: Sequence[str] = METRICS,
    stat_test: str = "fisher",
) -> dict[str, dict[str, float]]:
    """Paired test of `against` vs each other run: {other: {metric: p-value}}.

    `fisher` is ranx's randomisation test (Fisher's, 1000 permutations, fixed seed); `student` the paired t-test.
    """
    names = [against, *[n for n in runs if n != against]]
    report = compare(qrels, [runs[n] for n in names], list(metrics), stat_test=stat_test, rounding_digits=4,
                     make_comparable=True)
    d: dict[str, Any] = report.to_dict()
    return {other: {m: float(p) for m, p in d[against]["comparisons"][other].items()} for other in names[1:]}
