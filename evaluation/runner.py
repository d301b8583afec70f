"""`councilqa eval`: run the gold questions against the engine (in process or over HTTP) and report.

Retrieval: every answerable question with evidence, in each mode (bm25, dense, hybrid), k=10, auto
filters on, as users get it. Answers: /ask once per question. Latency: wall time per call, in ms.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from common.settings import Settings
from evaluation.backends import MODES, AskResult, Backend, HttpBackend, InProcessBackend
from evaluation.gold import GoldError, GoldQuestion, load_gold
from evaluation.judge import EvidenceJudge, holds_facts
from evaluation.metrics import METRICS, build_qrels, build_run, per_question, scores, significance

K = 10
GATE_METRIC = "recall@5"
GATE_MODE = "hybrid"


@dataclass
class QuestionRun:
    q: GoldQuestion
    matched: dict[str, list[list[int]]] = field(default_factory=dict)  # mode -> per rank, evidence items matched
    latency_ms: dict[str, float] = field(default_factory=dict)  # mode or "ask" -> ms
    answer: AskResult | None = None
    answer_items: set[int] = field(default_factory=set)  # evidence items matched by the answer's citations
    located: list[bool] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def first_rank(self, mode: str) -> int | None:
        return next((r for r, m in enumerate(self.matched.get(mode, []), 1) if m), None)


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t0) * 1000



def run_questions(backend: Backend, gold: Sequence[GoldQuestion], modes: Sequence[str] = MODES,
                  k: int = K) -> list[QuestionRun]:
    doc_text = lru_cache(maxsize=None)(_safe(backend.document_text))
    for mode in modes:  # warm-up (model load, caches), not timed
        _safe(backend.search)(gold[0].question, k, mode)
    runs = []
    for q in gold:
        qr = QuestionRun(q)
        judge = EvidenceJudge(q.evidence, doc_text, item_of=q.item_of)
        qr.located = judge.located
        for mode in modes:
            try:
                hits, qr.latency_ms[mode] = _timed(backend.search, q.question, k, mode, q.filters)
            except Exception as exc:  # one failing question must not stop the run; it is reported
                hits = []
                qr.errors.append(f"search[{mode}]: {exc}")
            qr.matched[mode] = [judge.matches(h.document_id, h.text, h.char_start, h.char_end) for h in hits]
        try:
            qr.answer, qr.latency_ms["ask"] = _timed(backend.ask, q.question, q.filters)
        except Exception as exc:
            qr.errors.append(f"ask: {exc}")
        if qr.answer:
            for c in qr.answer.citations:
                qr.answer_items.update(judge.matches(c.document_id, c.text, c.char_start, c.char_end))
                qr.answer_items.update(judge.matches(c.document_id, c.quote, c.quote_start, c.quote_end))
        runs.append(qr)
    return runs


def _safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            return None
    return call


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _pcts(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "mean": None}
    a = np.asarray(values)
    return {"p50": round(float(np.percentile(a, 50)), 1), "p95": round(float(np.percentile(a, 95)), 1),
            "mean": round(float(a.mean()), 1)}


def summarise(runs: Sequence[QuestionRun], modes: Sequence[str] = MODES) -> dict[str, Any]:
    """The report as JSON-ready data."""
    ret = [r for r in runs if r.q.has_evidence]
    report: dict[str, Any] = {
        "questions": len(runs), "retrieval_questions": len(ret), "k": K,
        "retrieval": {}, "significance": {}, "by_kind": {}, "missed": {},
    }
    if ret:
        qrels = build_qrels({r.q.id: r.q.n_items for r in ret})
        ranx_runs = {m: build_run({r.q.id: r.matched.get(m, []) for r in ret}, m) for m in modes}
        per_q = {m: per_question(qrels, ranx_runs[m]) for m in modes}
        report["retrieval"] = {m: {k: round(v, 4) for k, v in scores(qrels, ranx_runs[m]).items()} for m in modes}
        if GATE_MODE in modes and len(modes) > 1 and len(ret) > 1:
            report["significance"] = {"test": "fisher randomisation (ranx compare, 1000 permutations, paired)",
                                      "against": GATE_MODE,
                                      "p_values": significance(qrels, ranx_runs, GATE_MODE)}
        kinds = sorted({r.q.kind for r in ret})
        report["by_kind"] = {
            m: {kind: {"n": len(rs), **{met: round(float(np.mean([per_q[m][r.q.id][met] for r in rs])), 4)
                                        for met in ("recall@5", "mrr@10")}}
                for kind in kinds if (rs := [r for r in ret if r.q.kind == kind])}
            for m in modes
        }
        report["missed"] = {m: [{"id": r.q.id, "kind": r.q.kind, "question": r.q.question}
                                for r in ret if r.first_rank(m) is None] for m in modes}
    answerable = [r for r in runs if r.q.answerable]
    unanswerable = [r for r in runs if not r.q.answerable]
    asked = [r for r in answerable if r.answer]
    with_facts = [r for r in asked if r.q.key_facts]
    report["answers"] = {
        "answerable": len(answerable), "unanswerable": len(unanswerable),
        "key_facts_all": _share([holds_facts(r.answer.answer, r.q.key_facts) for r in with_facts]),  # type: ignore[union-attr]
        "cites_evidence_any": _share([bool(r.answer_items) for r in asked if r.q.evidence]),
        "cites_evidence_all": _share([len(r.answer_items) == r.q.n_items for r in asked if r.q.evidence]),
        "abstention_accuracy": _share([not r.answer.found for r in unanswerable if r.answer]),
        "false_abstention_rate": _share([not r.answer.found for r in asked]),  # type: ignore[union-attr]
        "key_facts_missed": [r.q.id for r in with_facts if not holds_facts(r.answer.answer, r.q.key_facts)],  # type: ignore[union-attr]
    }
    report["latency_ms"] = {m: _pcts([r.latency_ms[m] for r in runs if m in r.latency_ms]) for m in [*modes, "ask"]}
    report["unlocated_evidence"] = [
        {"id": r.q.id, "doc_id": e.doc_id, "quote": e.quote}
        for r in runs for e, ok in zip(r.q.evidence, r.located, strict=False) if not ok
    ]
    report["errors"] = [{"id": r.q.id, "errors": r.errors} for r in runs if r.errors]
    report["per_question"] = [
        {"id": r.q.id, "kind": r.q.kind, "answerable": r.q.answerable,
         "first_evidence_rank": {m: r.first_rank(m) for m in modes},
         "found": r.answer.found if r.answer else None, "cited_items": sorted(r.answer_items),
         "latency_ms": {m: round(v, 1) for m, v in r.latency_ms.items()}}
        for r in runs
    ]
    return report


def _f(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def summary_table(report: dict[str, Any]) -> str:
    lat = report["latency_ms"]
    lines = ["| mode | R@1 | R@5 | R@10 | Hit@5 | MRR@10 | nDCG@10 | p50 ms | p95 ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for mode, m in report["retrieval"].items():
        lines.append(f"| {mode} | " + " | ".join(_f(m[x]) for x in METRICS)
                     + f" | {_f(lat[mode]['p50'], 1)} | {_f(lat[mode]['p95'], 1)} |")
    a = report["answers"]
    lines += [
        "", "| answers (/ask) | value |", "|---|---|",
        f"| answer contains all key facts | {_f(a['key_facts_all'])} |",
        f"| citations include evidence (any item) | {_f(a['cites_evidence_any'])} |",
        f"| citations include evidence (every item) | {_f(a['cites_evidence_all'])} |",
        f"| abstention accuracy (unanswerable, n={a['unanswerable']}) | {_f(a['abstention_accuracy'])} |",
        f"| false abstention rate (answerable, n={a['answerable']}) | {_f(a['false_abstention_rate'])} |",
        f"| /ask latency p50 / p95 ms | {_f(lat['ask']['p50'], 1)} / {_f(lat['ask']['p95'], 1)} |",
    ]
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    meta = report["meta"]
    out = [
        "# councilqa evaluation report", "",
        f"{meta['created']} · gold `{meta['gold']}` · backend {meta['backend']} · {report['questions']} questions, "
        f"{report['retrieval_questions']} with evidence scored for retrieval (k={report['k']}, auto filters on)", "",
        summary_table(report), "",
    ]
    sig = report.get("significance")
    if sig:
        metrics = list(next(iter(sig["p_values"].values())))
        out += [f"## Significance: {sig['against']} vs each single retriever", "",
                f"Test: {sig['test']}. p-values:", "",
                "| vs | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        out += [f"| {o} | " + " | ".join(f"{p:.4f}" for p in ps.values()) + " |" for o, ps in sig["p_values"].items()]
        out.append("")
    if report["by_kind"]:
        out += ["## Recall@5 / MRR@10 by question kind", "", "| kind | n | "
                + " | ".join(report["by_kind"]) + " |", "|---" * (len(report["by_kind"]) + 2) + "|"]
        kinds = next(iter(report["by_kind"].values()))
        for kind, row in kinds.items():
            cells = [f"{_f(report['by_kind'][m][kind]['recall@5'])} / {_f(report['by_kind'][m][kind]['mrr@10'])}"
                     for m in report["by_kind"]]
            out.append(f"| {kind} | {row['n']} | " + " | ".join(cells) + " |")
        out.append("")
    out += ["## Missed (no evidence in the top 10)", ""]
    for mode, missed in report["missed"].items():
        out.append(f"- **{mode}** ({len(missed)}): " + (", ".join(f"{m['id']}" for m in missed) or "none"))
    if report["answers"]["key_facts_missed"]:
        out += ["", "Answers missing a key fact: " + ", ".join(report["answers"]["key_facts_missed"])]
    if report["unlocated_evidence"]:
        out += ["", "## Evidence quotes not found in the index's cleaned text", "",
                "Judged on passage text only (see eval/README.md):", ""]
        out += [f"- {u['id']} `{u['doc_id']}`: “{u['quote']}”" for u in report["unlocated_evidence"]]
    if report["errors"]:
        out += ["", "## Errors", ""] + [f"- {e['id']}: {'; '.join(e['errors'])}" for e in report["errors"]]
    return "\n".join(out) + "\n"


def write_report(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "report.md", out_dir / "report.json"
    md.write_text(markdown(report), encoding="utf-8")
    js.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return md, js


def gate(report: dict[str, Any], min_recall5: float | None, min_key_facts: float | None = None) -> str | None:
    """Why the run fails a regression gate, or None when it passes (or no gate is set)."""
    if min_key_facts is not None:
        facts = report["answers"].get("key_facts_all")
        if facts is None or facts < min_key_facts:
            return f"answers holding every key fact {facts} is below --min-key-facts {min_key_facts:.4f}"
    if min_recall5 is None:
        return None
    value = report["retrieval"].get(GATE_MODE, {}).get(GATE_METRIC)
    if value is None:
        return f"no {GATE_MODE} {GATE_METRIC} was measured (no answerable questions with evidence?)"
    if value < min_recall5:
        return f"{GATE_MODE} Recall@5 {value:.4f} is below --min-recall5 {min_recall5:.4f}"
    return None


def run_cli(settings: Settings, gold: Path, url: str | None, out_dir: Path, min_recall5: float | None,
            backend: Backend | None = None, min_key_facts: float | None = None) -> int:
    """Exit code: 0 ok, 1 below the --min-recall5 or --min-key-facts gate, 2 could not run."""
    try:
        questions = load_gold(gold)
    except GoldError as exc:
        print(f"Error: {exc}")
        return 2
    if backend is None:
        try:
            backend = HttpBackend(url, api_key=settings.api_key) if url else InProcessBackend(settings)
        except Exception as exc:  # e.g. IndexLoadError: the message says what to run
            print(f"Error: cannot load the engine: {exc}")
            return 2
    try:
        runs = run_questions(backend, questions)
    finally:
        backend.close()
    report = summarise(runs)
    report["meta"] = {"created": datetime.now(UTC).isoformat(timespec="seconds"), "gold": str(gold),
                      "backend": url or f"in-process ({settings.index_dir})"}
    md, js = write_report(report, out_dir)
    print(summary_table(report))
    print(f"\nReport: {md} and {js}")
    if report["errors"]:
        print(f"Warning: {len(report['errors'])} question(s) had errors; see the report.")
    if (why := gate(report, min_recall5, min_key_facts)) is not None:
        print(f"FAIL: {why}")
        return 1
    return 0
