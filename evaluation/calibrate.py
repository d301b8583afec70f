"""Calibrate the abstention threshold and check answers against gold questions (eval/gold.jsonl).

    python -m evaluation.calibrate --index-dir /tmp/idx_corpus --gold eval/gold.jsonl

Prints retrieval recall@5, how often an answer quote overlaps the gold evidence, and for a grid of
(coverage weight, threshold) pairs the balanced accuracy of found/not-found.
"""

from __future__ import annotations

import argparse
import json
from itertools import product
from pathlib import Path
from typing import Any

from common.settings import Settings
from core import answer as ans
from core.engine import Engine


def evidence_spans(engine: Engine, evidence: list[dict[str, str]]) -> list[tuple[str, int, int]]:
    spans = []
    for ev in evidence:
        doc = engine.document(ev["doc_id"]).text
        i = doc.find(ev["quote"])
        if i >= 0:
            spans.append((ev["doc_id"], i, i + len(ev["quote"])))
    return spans


def _overlaps(doc: str, s: int, e: int, spans: list[tuple[str, int, int]]) -> bool:
    return any(d == doc and s < ee and ss < e for d, ss, ee in spans)


def raw_evidence(engine: Engine, question: str) -> tuple[float, float]:
    """Best-unit cosine and keyword presence, independent of the thresholds."""
    plan = engine.plan(question, {}, True)
    ranked = engine.retrieve(plan, ans.ANSWER_K, "hybrid")
    ex = engine.extraction(question, plan, [p for p, _ in ranked], ans.AnswerConfig(abstain_below=-1.0),
                           [s for _, s in ranked])
    return ex.confidence, ex.coverage


def evaluate(engine: Engine, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        q = row["question"]
        spans = evidence_spans(engine, row.get("evidence", []))
        res = engine.search(q, k=5).hits
        hit5 = any(_overlaps(h.passage.doc_id, h.passage.char_start, h.passage.char_end, spans) for h in res)
        a = engine.ask(q)
        quote_hit = any(_overlaps(c.passage.doc_id, c.best.start, c.best.end, spans) for c in a.citations)
        facts = all(f.lower() in a.text.lower() for f in row.get("key_facts", [])) if a.found else False
        conf, cov = raw_evidence(engine, q)
        if not a.found and not a.citations and a.confidence == 0.0:  # out of scope (core.scope): always abstains
            conf, cov = -1.0, 0.0
        out.append({"id": row["id"], "answerable": row["answerable"], "hit5": hit5, "found": a.found,
                    "quote_hit": quote_hit, "facts": facts, "conf": conf, "cov": cov, "q": q})
    return out


def grid(results: list[dict[str, Any]]) -> list[tuple[float, float, float, int, int]]:
    """Balanced accuracy (answer the answerable, abstain on the rest) per (weight, threshold)."""
    rows = []
    n_a = sum(r["answerable"] for r in results) or 1
    n_u = (len(results) - n_a) or 1
    for w, t in product((0.0, 0.25, 0.5, 0.75, 1.0), [x / 100 for x in range(30, 150)]):
        fp = sum((r["conf"] + w * r["cov"]) >= t for r in results if not r["answerable"])
        fn = sum((r["conf"] + w * r["cov"]) < t for r in results if r["answerable"])
        rows.append(((1 - fn / n_a + 1 - fp / n_u) / 2, w, t, fp, fn))
    return sorted(rows, reverse=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index-dir", type=Path, required=True)
    ap.add_argument("--gold", type=Path, default=Path("eval/gold.jsonl"))
    ap.add_argument("--no-strip", action="store_true", help="Keep filter words in the BM25 query.")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    engine = Engine.load(Settings(index_dir=args.index_dir))
    engine.strip_filter_words = not args.no_strip
    rows = [json.loads(line) for line in args.gold.read_text().splitlines() if line.strip()]
    results = evaluate(engine, rows)
    answerable = [r for r in results if r["answerable"]]
    n = len(answerable)
    print(f"questions {len(results)} (answerable {n})")
    print(f"R@5 {sum(r['hit5'] for r in answerable) / n:.3f}  quote overlaps evidence "
          f"{sum(r['quote_hit'] for r in answerable) / n:.3f}  "
          f"key facts in answer {sum(r['facts'] for r in answerable) / n:.3f}")
    print(f"abstention now: answered {sum(r['found'] for r in answerable)}/{n} answerable, "
          f"{sum(r['found'] for r in results if not r['answerable'])}/{len(results) - n} unanswerable")
    for acc, w, t, fp, fn in grid(results)[:10]:
        print(f"  weight {w:.2f} threshold {t:.2f}: balanced accuracy {acc:.3f} (false answers {fp}, "
              f"false abstains {fn})")
    if args.verbose:
        for r in results:
            print(f"{r['id']} ans={r['answerable']:d} found={r['found']:d} hit5={r['hit5']:d} quote={r['quote_hit']:d} "
                  f"conf={r['conf']:.3f} cov={r['cov']:.2f} {r['q'][:70]}")


if __name__ == "__main__":
    main()
