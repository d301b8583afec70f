"""How well saved searches' alerts pick what a build brings: each gold question followed as a saved search.

For every question of a gold set, the build is simulated as bringing its evidence documents (if it has any)
among `--distractors` other documents of the index drawn at random (seeded); `Engine.new_matches` then
gives the passages that would alert, at the engine's abstention threshold (what a timeline counts) or at
the thresholds given with `--thresholds`. Reported per threshold:

* alert recall: answerable questions with an alerted passage from an evidence document;
* alert precision: alerted passages that come from an evidence document (a lower bound: another new paper
  may also be about the topic);
* quiet on unanswerable: unanswerable questions that alert nothing.

    python -m evaluation.alerts --index-dir IDX --gold eval/gold.jsonl [--thresholds 0.7,0.83,0.95]

The abstention threshold was calibrated on `eval/gold_shared.jsonl`; the demo set `eval/gold.jsonl` is the
one its alert figures may be quoted on.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import replace
from pathlib import Path

from common.settings import Settings
from core.engine import Engine
from core.results import Query
from evaluation.gold import load_gold


def evaluate(engine: Engine, gold: Path, thresholds: list[float], distractors: int, seed: int) -> list[dict]:
    """One row of figures per threshold."""
    questions = load_gold(gold)
    docs = sorted(engine.document_hashes())
    rows = []
    base = engine.answer_config
    for threshold in thresholds:
        engine.answer_config = replace(base, abstain_below=threshold)
        rng = random.Random(seed)
        hit = answerable = quiet = unanswerable = alerted = from_evidence = 0
        for q in questions:
            evidence = {e.doc_id for e in q.evidence}
            others = [d for d in docs if d not in evidence]
            changed = sorted(evidence & set(docs)) + rng.sample(others, min(distractors, len(others)))
            found = engine.new_matches(Query(q.question, filters=q.filters), changed)
            alerted += len(found)
            from_evidence += sum(p.doc_id in evidence for p in found)
            if q.answerable:
                answerable += 1
                hit += any(p.doc_id in evidence for p in found)
            else:
                unanswerable += 1
                quiet += not found
        rows.append({"threshold": threshold, "recall": hit / max(1, answerable),
                     "precision": from_evidence / max(1, alerted), "quiet": quiet / max(1, unanswerable),
                     "alerted": alerted, "questions": len(questions)})
    engine.answer_config = base
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", type=Path, required=True)
    ap.add_argument("--gold", type=Path, default=Path("eval/gold.jsonl"))
    ap.add_argument("--thresholds", default="", help="Comma-separated; default: the engine's abstention threshold.")
    ap.add_argument("--distractors", type=int, default=9)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    engine = Engine.load(Settings(index_dir=args.index_dir))
    thresholds = [float(t) for t in args.thresholds.split(",") if t] or [engine.answer_config.abstain_below]
    rows = evaluate(engine, args.gold, thresholds, args.distractors, args.seed)
    engine.close()
    print(f"{args.gold}: each question followed; a build brings its evidence documents and {args.distractors} "
          "others\n")
    print("| threshold | alert recall | alert precision | quiet on unanswerable | passages alerted |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['threshold']:.2f} | {r['recall']:.3f} | {r['precision']:.3f} | {r['quiet']:.3f} | "
              f"{r['alerted']} |")


if __name__ == "__main__":
    main()
