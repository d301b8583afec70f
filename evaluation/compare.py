"""Two evaluation reports side by side (e.g. the local store and the Milvus store over the same build).

    python -m evaluation.compare artifacts/eval/report.json artifacts/eval-milvus/report.json \
        --names local milvus --max-diff 0.01

Prints every retrieval metric of every mode and every answer figure of both reports with their difference,
and exits 1 when a difference is larger than `--max-diff` (latencies are shown, never compared).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ANSWER_KEYS = ("key_facts_all", "cites_evidence_any", "cites_evidence_all", "abstention_accuracy",
               "false_abstention_rate")


def figures(report: dict[str, Any]) -> dict[str, float]:
    """The comparable figures of a report (`evaluation/runner.py`'s report.json), by name."""
    out = {f"{mode} {metric}": float(v) for mode, metrics in report["retrieval"].items() for metric, v in
           metrics.items()}
    out.update({f"answers {k}": float(report["answers"][k]) for k in ANSWER_KEYS if k in report["answers"]})
    return out


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, float, float, float]]:
    """(figure, a, b, b - a) for every figure both reports have."""
    fa, fb = figures(a), figures(b)
    return [(name, fa[name], fb[name], round(fb[name] - fa[name], 4)) for name in fa if name in fb]


def table(rows: list[tuple[str, float, float, float]], names: tuple[str, str], a: dict, b: dict) -> str:
    """A Markdown table of the figures and, for information, the latencies."""
    lines = [f"| figure | {names[0]} | {names[1]} | difference |", "|---|---|---|---|"]
    lines += [f"| {n} | {x:.4f} | {y:.4f} | {d:+.4f} |" for n, x, y, d in rows]
    for mode, la in a.get("latency_ms", {}).items():
        lb = b.get("latency_ms", {}).get(mode)
        if lb:
            lines.append(f"| {mode} latency p50 / p95 ms | {la['p50']} / {la['p95']} | {lb['p50']} / {lb['p95']} | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the side-by-side table; 1 when a figure differs by more than --max-diff, 2 for unreadable input."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--names", nargs=2, default=("a", "b"))
    ap.add_argument("--max-diff", type=float, default=None)
    args = ap.parse_args(argv)
    try:
        a, b = (json.loads(p.read_text()) for p in (args.a, args.b))
        rows = compare(a, b)
    except (OSError, ValueError, KeyError) as exc:
        print(f"Cannot compare {args.a} and {args.b}: {exc}. Give two report.json files of `councilqa eval`.",
              file=sys.stderr)
        return 2
    print(table(rows, (args.names[0], args.names[1]), a, b))
    over = [r for r in rows if args.max_diff is not None and abs(r[3]) > args.max_diff]
    if over:
        print(f"\n{len(over)} figure(s) differ by more than {args.max_diff}: " + ", ".join(r[0] for r in over),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
