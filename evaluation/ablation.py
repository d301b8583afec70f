"""Ablations: retrieval figures of several variants of the search over the same gold sets, side by side.

Query-time variants (fusion method and weight, query understanding, phrase bonus) run on one loaded
engine; index-time variants (what BM25 and the embedder read of a passage) are other index folders,
given as `NAME=FOLDER`. Each variant is scored exactly as `councilqa eval` scores retrieval (the same
judge, qrels and ranx metrics), k=10, auto filters on.

    python -m evaluation.ablation --index base=/tmp/idx-a --index context=/tmp/idx-b \\
        --gold eval/gold.jsonl --gold eval/gold_shared.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from common.settings import Settings
from evaluation.backends import InProcessBackend
from evaluation.gold import GoldQuestion, load_gold
from evaluation.judge import EvidenceJudge
from evaluation.metrics import build_qrels, build_run, scores

K = 10
SHOWN = ("recall@5", "hit_rate@5", "mrr@10", "ndcg@10")


@dataclass(frozen=True)
class Variant:
    """One row of the table: a name, the mode searched, and what it changes on the engine."""

    name: str
    mode: str = "hybrid"
    fusion: dict[str, Any] | None = None  # fields of core.retrieval.Fusion to replace
    engine: dict[str, Any] | None = None  # engine attributes to set (e.g. strip_filter_words)


def query_variants(engine: Any) -> list[Variant]:
    """The query-time rows: the parts alone, hybrid as configured, then the configured hybrid with one
    thing changed (the fusion, its weight, how a year is read, feedback, sentence search)."""
    f = engine.fusion
    rows = [Variant("bm25 alone", "bm25"), Variant("dense alone", "dense"), Variant("hybrid (configured)")]
    rows.append(Variant("fusion: rrf k=60, dense weight 0.5 (before)",
                        fusion={"method": "rrf", "rrf_k": 60, "dense_weight": 0.5}))
    rows.append(Variant("fusion: rrf k=2, dense weight 1.0", fusion={"method": "rrf", "rrf_k": 2, "dense_weight": 1.0}))
    for w in (round(f.dense_weight - 0.1, 2), round(f.dense_weight + 0.1, 2)):
        rows.append(Variant(f"fusion: {f.method}, dense weight {w}", fusion={"dense_weight": w}))
    rows.append(Variant(f"a year alone {'only boosts' if engine.year_filters else 'filters'}",
                        engine={"year_filters": not engine.year_filters}))
    rows.append(Variant("filter words kept in the BM25 query", engine={"strip_filter_words": False}))
    rows.append(Variant("dense feedback from BM25's top 3 (weight 0.5)" if not engine.feedback
                        else "no dense feedback", engine={"feedback": () if engine.feedback else (3, 0.5)}))
    if hasattr(engine.index, "hybrid_search"):  # the Milvus store: Milvus's own hybrid search in place of ours
        rows.append(Variant("Milvus hybrid_search, RRF ranker", engine={"milvus_fusion": "rrf"}))
        rows.append(Variant("Milvus hybrid_search, weighted ranker", engine={"milvus_fusion": "weighted"}))
    if engine.can_search_sentences:
        on = engine.sentence_search
        rows.append(Variant("no sentence search" if on else "sentence search", engine={"sentence_search": not on}))
    return rows


def run_variant(backend: InProcessBackend, gold: Sequence[GoldQuestion], v: Variant,
                doc_text: Callable[[str], str | None]) -> dict[str, float]:
    """Retrieval metrics of one variant over the questions with evidence."""
    engine = backend.engine
    saved_fusion, saved = engine.fusion, {k: getattr(engine, k) for k in (v.engine or {})}
    try:
        if v.fusion:
            engine.fusion = replace(engine.fusion, **v.fusion)
        for k, val in (v.engine or {}).items():
            setattr(engine, k, val)
        matched = {}
        for q in gold:
            judge = EvidenceJudge(q.evidence, doc_text, item_of=q.item_of)
            hits = backend.search(q.question, K, v.mode, q.filters)
            matched[q.id] = [judge.matches(h.document_id, h.text, h.char_start, h.char_end) for h in hits]
    finally:
        engine.fusion = saved_fusion
        for k, val in saved.items():
            setattr(engine, k, val)
    qrels = build_qrels({q.id: q.n_items for q in gold})
    got = scores(qrels, build_run(matched, v.name))
    return {m: round(got[m], 4) for m in SHOWN}


def ablate(indexes: dict[str, Path], golds: Sequence[Path], query_rows: bool = True) -> list[dict[str, Any]]:
    """Every variant on every gold set: a list of {index, variant, gold, metrics}."""
    out: list[dict[str, Any]] = []
    sets = {g.stem: [q for q in load_gold(g) if q.has_evidence] for g in golds}
    for index_name, folder in indexes.items():
        backend = InProcessBackend(Settings(index_dir=folder))
        doc_text = lru_cache(maxsize=None)(backend.document_text)
        rows = query_variants(backend.engine) if query_rows else [
            Variant("bm25 alone", "bm25"), Variant("dense alone", "dense"), Variant("hybrid (configured)")]
        try:
            for v in rows:
                for name, qs in sets.items():
                    out.append({"index": index_name, "variant": v.name, "gold": name,
                                "metrics": run_variant(backend, qs, v, doc_text)})
                    print(json.dumps(out[-1]), file=sys.stderr, flush=True)
        finally:
            backend.close()
    return out


def table(results: Sequence[dict[str, Any]]) -> str:
    """A Markdown table: one row per index and variant, R@5 / MRR@10 / nDCG@10 per gold set."""
    golds = list(dict.fromkeys(r["gold"] for r in results))
    head = "| index | variant | " + " | ".join(f"{g} R@5 | Hit@5 | MRR@10 | nDCG@10" for g in golds) + " |"
    lines = [head, "|---|---|" + "---|" * (len(SHOWN) * len(golds))]
    keys = list(dict.fromkeys((r["index"], r["variant"]) for r in results))
    by = {(r["index"], r["variant"], r["gold"]): r["metrics"] for r in results}
    for index_name, variant in keys:
        cells = []
        for g in golds:
            m = by.get((index_name, variant, g))
            cells += [f"{m[x]:.3f}" if m else "–" for x in SHOWN]
        lines.append(f"| {index_name} | {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", action="append", required=True, metavar="NAME=FOLDER",
                    help="an index folder to score, named for the table (repeatable)")
    ap.add_argument("--gold", action="append", type=Path, required=True, help="a gold file (repeatable)")
    ap.add_argument("--parts-only", action="store_true",
                    help="only bm25, dense and the configured hybrid (for index-time variants)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    indexes = {}
    for spec in args.index:
        name, sep, folder = spec.partition("=")
        if not sep:
            ap.error(f"--index wants NAME=FOLDER, got {spec!r}")
        indexes[name] = Path(folder)
    results = ablate(indexes, args.gold, query_rows=not args.parts_only)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
