"""evaluation.compare: two reports side by side, failing when a figure moves more than allowed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.compare import main


def _report(path: Path, recall5: float, key_facts: float) -> Path:
    path.write_text(json.dumps({
        "retrieval": {"hybrid": {"recall@5": recall5, "mrr@10": 0.5}, "bm25": {"recall@5": 0.6}},
        "answers": {"key_facts_all": key_facts, "abstention_accuracy": 0.5},
        "latency_ms": {"hybrid": {"p50": 5.0, "p95": 9.0}}}))
    return path


def test_within_the_limit_passes_and_prints_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _report(tmp_path / "a.json", 0.80, 0.65), _report(tmp_path / "b.json", 0.805, 0.65)
    assert main([str(a), str(b), "--names", "local", "milvus", "--max-diff", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "| figure | local | milvus | difference |" in out
    assert "| hybrid recall@5 | 0.8000 | 0.8050 | +0.0050 |" in out
    assert "| hybrid latency p50 / p95 ms | 5.0 / 9.0 | 5.0 / 9.0 | |" in out


def test_over_the_limit_fails_naming_the_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _report(tmp_path / "a.json", 0.80, 0.65), _report(tmp_path / "b.json", 0.80, 0.62)
    assert main([str(a), str(b), "--max-diff", "0.01"]) == 1
    assert "answers key_facts_all" in capsys.readouterr().err


def test_unreadable_input_says_what_to_give(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "none.json"), str(tmp_path / "none.json")]) == 2
    assert "report.json" in capsys.readouterr().err
