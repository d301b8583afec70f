"""Answer quality alone, fast: retrieve once per question, then score the extractive answer.

    python -m evaluation.answers --index-dir IDX --gold eval/gold_shared.jsonl [--k 5] [--json]

It prints, per question kind and overall, the share of answerable questions whose answer holds every key
fact, whose citations hold an evidence item, the abstention accuracy on unanswerable questions and the
false-abstention rate, next to the ceiling (the key facts anywhere in the passages the answer was built
from). The engine runs in process, as `councilqa eval` runs it; this runner only skips the retrieval
metrics, so answer changes can be measured in seconds. `councilqa eval` gives the figures CI gates on.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from common.settings import Settings
from core import answer as ans
from core.answer import ANSWER_K
from core.compose import Ranked
from core.engine import Engine
from core.features import FEATURES
from core.plan import Plan
from core.results import Answer, Query
from evaluation.gold import GoldQuestion, load_gold
from evaluation.judge import EvidenceJudge, holds_facts


@dataclass
class Case:
    """One gold question with its retrieval done once."""

    q: GoldQuestion
    plan: Plan
    ranked: Ranked
    judge: EvidenceJudge


@dataclass
class Outcome:
    """What one answer got right."""

    case: Case
    answer: Answer
    facts: bool = False
    cites: bool = False
    ceiling: bool = False
    notes: list[str] = field(default_factory=list)


def collect(engine: Engine, gold: Sequence[GoldQuestion], k: int) -> list[Case]:
    """Each question planned and retrieved (hybrid, auto filters, the gold filters) once."""
    doc_text = lru_cache(maxsize=None)(lambda d: engine.document(d).text)
    cases = []
    for q in gold:
        query, plan = engine._prepare(Query(q.question, k=k, filters=q.filters), "question")
        ranked = [(p, i, s) for i, (p, s) in enumerate(engine.retrieve(plan, k, "hybrid"), start=1)]
        cases.append(Case(q, plan, ranked, EvidenceJudge(q.evidence, doc_text, item_of=q.item_of)))
    return cases


def judge_answer(case: Case, answer: Answer) -> Outcome:
    """The answer's key facts, cited evidence and the ceiling of its passages."""
    out = Outcome(case, answer)
    if not case.q.answerable:
        return out
    out.facts = answer.found and holds_facts(answer.text, case.q.key_facts)
    out.ceiling = holds_facts(" ".join(p.text for p, _, _ in case.ranked), case.q.key_facts)
    for c in answer.citations:
        p = c.passage
        if case.judge.matches(p.doc_id, p.text, p.char_start, p.char_end):
            out.cites = True
    return out


def answer_all(engine: Engine, cases: Sequence[Case]) -> list[Outcome]:
    """Every case answered from its stored ranking."""
    return [judge_answer(c, engine._answer(c.q.question, c.plan, c.ranked)) for c in cases]


def fit_weights(engine: Engine, cases: Sequence[Case]) -> dict[str, float]:
    """Refit `core.features.WEIGHTS`: a logistic regression (scikit-learn, balanced classes) predicting
    "this unit holds a key fact" from the units' features, its coefficients divided by the cosine's."""
    from sklearn.linear_model import LogisticRegression

    xs, ys = [], []
    every_unit = ans.AnswerConfig(abstain_below=-np.inf)
    for c in cases:
        if not (c.q.answerable and c.q.key_facts and c.ranked):
            continue
        ex = engine.extraction(c.q.question, c.plan, [p for p, _, _ in c.ranked], every_unit,
                               [s for _, _, s in c.ranked])
        labels = [any(holds_facts(u.text, [f]) for f in c.q.key_facts) for u in ex.units]
        if ex.features is not None and any(labels):
            xs.append(ex.features)
            ys.extend(labels)
    model = LogisticRegression(max_iter=2000, class_weight="balanced").fit(np.vstack(xs), ys)
    coef = model.coef_[0]
    return {name: round(float(w / coef[0]), 2) for name, w in zip(FEATURES, coef, strict=True)}


def ablations(base: ans.AnswerConfig) -> dict[str, tuple[ans.AnswerConfig, int | None]]:
    """What each part of the answer adds: the configuration with that part taken out, and how many of the
    retrieved passages it is given (None: all of them)."""
    def without(*names: str) -> ans.AnswerConfig:
        return replace(base, weights={k: (0.0 if k in names else v) for k, v in base.weights.items()})

    return {
        "all parts": (base, None),
        "cosine only (no other feature)": (without(*[f for f in FEATURES if f != "cosine"]), None),
        "without rare keywords": (without("keywords"), None),
        "without the passage's retrieval score": (without("passage"), None),
        "without 'is itself a question'": (without("question"), None),
        "without the sentence before (cosine, keywords)": (without("after_cosine", "after_keywords"), None),
        "without numbers for how-many/when": (without("number"), None),
        "without taking in the next sentence": (replace(base, extend_next=False), None),
        "5 passages (the first five of the ten)": (base, 5),
    }


def ablate(engine: Engine, cases: Sequence[Case]) -> list[tuple[str, dict[str, Any]]]:
    """The overall summary of each ablation, in the order of `ablations`."""
    base, out = engine.answer_config, []
    try:
        for name, (cfg, k) in ablations(base).items():
            engine.answer_config = cfg
            shown = [replace(c, ranked=c.ranked[:k]) if k else c for c in cases]
            out.append((name, summary(answer_all(engine, shown))["all"]))
    finally:
        engine.answer_config = base
    return out


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Overall and per-kind shares."""
    def block(rows: Sequence[Outcome]) -> dict[str, Any]:
        ans = [o for o in rows if o.case.q.answerable]
        una = [o for o in rows if not o.case.q.answerable]
        return {"n": len(rows), "key_facts": _share([o.facts for o in ans if o.case.q.key_facts]),
                "ceiling": _share([o.ceiling for o in ans if o.case.q.key_facts]),
                "cites_evidence": _share([o.cites for o in ans if o.case.q.evidence]),
                "abstention": _share([not o.answer.found for o in una]),
                "false_abstention": _share([not o.answer.found for o in ans])}
    kinds: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        kinds[o.case.q.kind].append(o)
    return {"all": block(outcomes), "by_kind": {k: block(v) for k, v in sorted(kinds.items())},
            "missed": [o.case.q.id for o in outcomes if o.case.q.answerable and o.case.q.key_facts and not o.facts],
            "false_abstentions": [o.case.q.id for o in outcomes if o.case.q.answerable and not o.answer.found],
            "answered_unanswerable": [o.case.q.id for o in outcomes
                                      if not o.case.q.answerable and o.answer.found]}


def table(s: dict[str, Any]) -> str:
    """The summary as a Markdown table."""
    cols = ("n", "key_facts", "ceiling", "cites_evidence", "abstention", "false_abstention")
    lines = ["| kind | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in [("all", s["all"]), *s["by_kind"].items()]:
        lines.append(f"| {name} | " + " | ".join("–" if row[c] is None else str(row[c]) for c in cols) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index-dir", type=Path, required=True)
    ap.add_argument("--gold", type=Path, default=Path("eval/gold.jsonl"))
    ap.add_argument("--k", type=int, default=ANSWER_K, help="passages the answer is built from (the /ask default)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="print each missed answer")
    ap.add_argument("--fit", action="store_true", help="refit the unit-score weights (core.features) and print them")
    ap.add_argument("--ablate", action="store_true", help="print what each part of the answer adds (one row each)")
    args = ap.parse_args(argv)
    engine = Engine.load(Settings(index_dir=args.index_dir, llm_base_url=None))
    cases = collect(engine, load_gold(args.gold), args.k)
    if args.fit:
        print(json.dumps(fit_weights(engine, cases)))
        return
    if args.ablate:
        cols = ("key_facts", "cites_evidence", "abstention", "false_abstention")
        print("| answer | " + " | ".join(cols) + " |\n" + "|---" * (len(cols) + 1) + "|")
        for name, row in ablate(engine, cases):
            print(f"| {name} | " + " | ".join("–" if row[c] is None else str(row[c]) for c in cols) + " |")
        return
    outcomes = answer_all(engine, cases)
    s = summary(outcomes)
    if args.verbose:
        for o in outcomes:
            if o.case.q.answerable and not o.facts:
                print(f"--- {o.case.q.id} {o.case.q.question!r} facts={o.case.q.key_facts} ceiling={o.ceiling}")
                print("   ", o.answer.text[:1500])
    print(json.dumps(s, indent=1) if args.json else table(s) + "\n\nmissed: " + " ".join(s["missed"]))
    engine.close()


if __name__ == "__main__":
    main()
